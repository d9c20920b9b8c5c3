import { sizeOf } from '@reptile-bench/core';
import {
  type DataType,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import { asWasmBackend, type WasmBackend } from './wasm-access.ts';

export type HostArray = Float32Array | Int32Array;

const numberedKeys = new Map<string, string[]>();

/**
 * `${prefix}${i}`: the input names of kernels over parameter lists (p0, g0, …), made once. Kernel inputs are
 * looked up by name on every call; a new string each time would be hashed each time (~10 µs per Adam step).
 */
export function numberedKey(prefix: string, i: number): string {
  let keys = numberedKeys.get(prefix);
  if (keys === undefined) {
    keys = [];
    numberedKeys.set(prefix, keys);
  }
  for (let k = keys.length; k <= i; k++) keys.push(`${prefix}${k}`);
  return keys[i] as string;
}

/**
 * A kernel written once over typed arrays and registered for both `wasm` and `cpu`, so the cpu reference runs the
 * very same arithmetic. On wasm the arrays are views of the module's heap (no copies); on cpu they are the
 * backend's own value arrays. Outputs are float32.
 */
export interface TypedKernel<A extends object> {
  name: string;
  /**
   * Optional wasm-native path (SIMD kernels on tensor addresses); returns false to fall back to `compute`.
   * Called after the outputs are allocated.
   */
  wasm?(context: WasmKernelContext<A>): boolean;
  outputShapes(inputs: Record<string, TensorInfo>, attrs: A): number[][];
  /**
   * Outputs that may take over an input's buffer instead of a new one (output index → input name), for updates
   * whose caller hands the inputs over. Taken on wasm only (the cpu backend keeps the very array a tensor was made
   * from, which may be the caller's), and only when no other tensor shares that input's data and shape and dtype
   * (float32) match; `compute` and `wasm` must then work with an output array that is the input array (element by
   * element, each element read before it is written).
   */
  reuse?(attrs: A): Record<number, string>;
  compute(
    inputs: Record<string, HostArray>,
    outputs: Float32Array[],
    shapes: Record<string, number[]>,
    attrs: A,
  ): void;
}

/** A tensor as a wasm kernel sees it: its byte address in the wasm memory and its shape. */
export interface WasmTensor {
  address: number;
  shape: number[];
}

/** Byte addresses of a kernel's tensors in the wasm memory. */
export interface WasmKernelContext<A> {
  backend: WasmBackend;
  inputs: Record<string, WasmTensor>;
  outputs: WasmTensor[];
  attrs: A;
}

function checkDtype(name: string, input: string, dtype: DataType): void {
  if (dtype !== 'float32' && dtype !== 'int32')
    throw new Error(`${name}: input ${input} must be float32 or int32, got ${dtype}`);
}

function shapesOf(inputs: Record<string, TensorInfo>): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const key in inputs) shapes[key] = (inputs[key] as TensorInfo).shape;
  return shapes;
}

/** The input whose buffer output `index` may take over (see TypedKernel.reuse), if it is free to take. */
function reusable(
  reuse: Record<number, string> | undefined,
  index: number,
  shape: number[],
  inputs: Record<string, TensorInfo>,
  backend: WasmBackend,
): TensorInfo | undefined {
  const name = reuse?.[index];
  const input = name === undefined ? undefined : inputs[name];
  if (input === undefined || input.dtype !== 'float32' || !util.arraysEqual(input.shape, shape))
    return undefined;
  return backend.refCount(input.dataId) === 1 ? input : undefined;
}

function wasmAddress(backend: WasmBackend, info: TensorInfo): number {
  return backend.dataIdMap.get(info.dataId)?.memoryOffset ?? 0;
}

function wasmKernelFunc<A extends object>(kernel: TypedKernel<A>): KernelFunc {
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = asWasmBackend(anyBackend);
    const named = inputs as Record<string, TensorInfo>;
    const a = attrs as unknown as A;
    const reuse = kernel.reuse?.(a);
    const outInfos = kernel.outputShapes(named, a).map((shape, i): TensorInfo => {
      const taken = reusable(reuse, i, shape, named, backend);
      if (taken === undefined) return backend.makeOutput(shape, 'float32');
      backend.incRef(taken.dataId);
      return { dataId: taken.dataId, shape, dtype: 'float32' };
    });
    if (kernel.wasm) {
      const inputs: WasmKernelContext<A>['inputs'] = {};
      for (const key in named) {
        const info = named[key] as TensorInfo;
        inputs[key] = { address: wasmAddress(backend, info), shape: info.shape };
      }
      const outputs = outInfos.map((info) => ({ address: wasmAddress(backend, info), shape: info.shape }));
      if (kernel.wasm({ backend, inputs, outputs, attrs: a }))
        return outInfos.length === 1 ? (outInfos[0] as TensorInfo) : outInfos;
    }
    // Views are taken after every allocation: growing the heap detaches earlier ones.
    const buffer = backend.wasm.HEAPF32.buffer;
    const views: Record<string, HostArray> = {};
    for (const key in named) {
      const info = named[key] as TensorInfo;
      checkDtype(kernel.name, key, info.dtype);
      const data = backend.dataIdMap.get(info.dataId);
      if (data === undefined) throw new Error(`${kernel.name}: input ${key} is not on the wasm backend`);
      const size = sizeOf(info.shape);
      views[key] =
        info.dtype === 'int32'
          ? new Int32Array(buffer, data.memoryOffset, size)
          : new Float32Array(buffer, data.memoryOffset, size);
    }
    const outViews = outInfos.map((info) => {
      const data = backend.dataIdMap.get(info.dataId);
      return new Float32Array(buffer, data?.memoryOffset ?? 0, sizeOf(info.shape));
    });
    kernel.compute(views, outViews, shapesOf(named), a);
    return outInfos.length === 1 ? (outInfos[0] as TensorInfo) : outInfos;
  };
}

interface CpuBackend {
  data: { get(dataId: object): { values: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: DataType, values: Float32Array): TensorInfo;
}

function cpuKernelFunc<A extends object>(kernel: TypedKernel<A>): KernelFunc {
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = anyBackend as unknown as CpuBackend;
    const named = inputs as Record<string, TensorInfo>;
    const a = attrs as unknown as A;
    const views: Record<string, HostArray> = {};
    for (const key in named) {
      const info = named[key] as TensorInfo;
      checkDtype(kernel.name, key, info.dtype);
      const values = backend.data.get(info.dataId)?.values;
      if (!(values instanceof Float32Array || values instanceof Int32Array))
        throw new Error(`${kernel.name}: input ${key} has no host values on the cpu backend`);
      views[key] = values;
    }
    const shapes = kernel.outputShapes(named, a);
    const outViews = shapes.map((shape) => new Float32Array(sizeOf(shape)));
    kernel.compute(views, outViews, shapesOf(named), a);
    const outInfos = shapes.map((shape, i) =>
      backend.makeTensorInfo(shape, 'float32', outViews[i] as Float32Array),
    );
    return outInfos.length === 1 ? (outInfos[0] as TensorInfo) : outInfos;
  };
}

/** Kernel configs for `wasm` and `cpu`. */
export function typedKernelConfigs<A extends object>(kernel: TypedKernel<A>): KernelConfig[] {
  return [
    { kernelName: kernel.name, backendName: 'wasm', kernelFunc: wasmKernelFunc(kernel) },
    { kernelName: kernel.name, backendName: 'cpu', kernelFunc: cpuKernelFunc(kernel) },
  ];
}
