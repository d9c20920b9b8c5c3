import {
  getKernel,
  type KernelConfig,
  type KernelFunc,
  Sum,
  type SumAttrs,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import { asWasmBackend, byteOffset } from './wasm-access.ts';

/**
 * Sum over the leading axes of a float32 tensor (out[j] = Σᵢ x[i, j]): what every bias gradient computes. The
 * backend's own Sum transposes the reduced axes to the end first, ~30 µs for a [10, 5] dense-layer bias; this
 * walks x once in place. Other reductions go to the backend's kernel.
 */
export function wasmSumKernel(): KernelConfig {
  const original = getKernel(Sum, 'wasm');
  if (original === undefined) throw new Error('the wasm backend has no Sum kernel to fall back to');
  const fallback = original.kernelFunc;
  const sum: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as SumAttrs;
    const axes = util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    if (x.dtype !== 'float32' || axes.length === 0 || axes.some((a, i) => a !== i)) return fallback(args);
    const backend = asWasmBackend(args.backend);
    const outer = x.shape.slice(0, axes.length).reduce((p, d) => p * d, 1);
    const kept = x.shape.slice(axes.length);
    const inner = kept.reduce((p, d) => p * d, 1);
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
    // Views after the allocation (growing the heap detaches earlier ones).
    const heap = backend.wasm.HEAPF32;
    const from = byteOffset(backend, x) >> 2;
    const to = byteOffset(backend, out) >> 2;
    const totals = new Float64Array(inner);
    for (let i = 0; i < outer; i++) {
      const row = from + i * inner;
      for (let j = 0; j < inner; j++) totals[j] = (totals[j] as number) + (heap[row + j] as number);
    }
    heap.set(totals, to);
    return out;
  };
  return { kernelName: Sum, backendName: 'wasm', kernelFunc: sum, setupFunc: original.setupFunc };
}
