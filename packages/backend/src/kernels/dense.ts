import * as tf from '@tensorflow/tfjs-core';
import { type SimdKernels, simdKernels } from './simd/runtime.ts';
import { type TypedKernel, typedKernelConfigs, type WasmTensor } from './typed-kernel.ts';
import { allocScratch, freeScratch, type WasmBackend } from './wasm-access.ts';

/**
 * A dense layer y = x·kernel + bias (x [m, k], kernel [k, n], bias [n]) as one kernel each way. tfjs's composite is
 * matMul then a broadcasting add (~30 µs on wasm for a [10, 5] head), and its gradient five ops (two products, a
 * sum and two reshapes); here the bias is added in the GEMM's stores and one gradient kernel gives dx = dy·kernelᵀ,
 * dkernel = xᵀ·dy and dbias = Σ dy. The gradient kernel has no gradient of its own (no second-order derivatives:
 * tfjs.fused.matMul is the op for those).
 */
export const denseName = 'DenseBias';
export const denseGradName = 'DenseBiasGrad';

type NoAttrs = Record<string, never>;

/** [m, k, n] of a dense layer from its input shapes (x [m, k], kernel [k, n]). */
export function denseDims(shapes: Record<string, number[]>): [number, number, number] {
  const [m, k] = shapes.x as [number, number];
  const n = (shapes.kernel as [number, number])[1];
  return [m, k, n];
}

/** The shapes of dx, dkernel and dbias. */
export function denseGradShapes({ x, kernel }: Record<string, { shape: number[] } | undefined>): number[][] {
  return [x?.shape ?? [], kernel?.shape ?? [], [kernel?.shape[1] ?? 0]];
}

const forward: TypedKernel<NoAttrs> = {
  name: denseName,
  wasm({ backend, inputs: { x, kernel, bias }, outputs: [y] }) {
    const simd = simdKernels(backend);
    if (simd === undefined || !x || !kernel || !bias || !y) return false;
    const [m, k] = x.shape as [number, number];
    const n = kernel.shape[1] as number;
    simd.gemm_nn(x.address, kernel.address, y.address, m, k, n, bias.address, 0);
    return true;
  },
  outputShapes: ({ x, kernel }) => [[x?.shape[0] ?? 0, kernel?.shape[1] ?? 0]],
  compute({ x, kernel, bias }, [y], shapes) {
    const [m, k, n] = denseDims(shapes);
    denseForwardJs(
      x as Float32Array,
      kernel as Float32Array,
      bias as Float32Array,
      y as Float32Array,
      m,
      k,
      n,
    );
  },
};

const backward: TypedKernel<NoAttrs> = {
  name: denseGradName,
  wasm({ backend, inputs: { dy, x, kernel }, outputs: [dx, dkernel, dbias] }) {
    if (simdKernels(backend) === undefined || !dy || !x || !kernel || !dx || !dkernel || !dbias) return false;
    denseBackwardWasm(backend, dy.address, x, kernel, dx.address, dkernel.address, dbias.address);
    return true;
  },
  outputShapes: denseGradShapes,
  compute({ dy, x, kernel }, [dx, dkernel, dbias], shapes) {
    const [m, k, n] = denseDims(shapes);
    // biome-ignore format: one argument per array
    denseBackwardJs(dy as Float32Array, x as Float32Array, kernel as Float32Array, dx as Float32Array,
      dkernel as Float32Array, dbias as Float32Array, m, k, n);
  },
};

/** y = x·w + b for x [m, k], w [k, n], b [n], accumulating in float64 (the JavaScript path). */
export function denseForwardJs(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  y: Float32Array,
  m: number,
  k: number,
  n: number,
): void {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += (x[i * k + p] as number) * (w[p * n + j] as number);
      y[i * n + j] = sum + (b[j] as number);
    }
}

/** dx = dy·wᵀ, dw = xᵀ·dy, db = Σ rows of dy (the JavaScript path). */
export function denseBackwardJs(
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  dx: Float32Array,
  dw: Float32Array,
  db: Float32Array,
  m: number,
  k: number,
  n: number,
): void {
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      let sum = 0;
      for (let j = 0; j < n; j++) sum += (dy[i * n + j] as number) * (w[p * n + j] as number);
      dx[i * k + p] = sum;
    }
  for (let p = 0; p < k; p++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let i = 0; i < m; i++) sum += (x[i * k + p] as number) * (dy[i * n + j] as number);
      dw[p * n + j] = sum;
    }
  for (let j = 0; j < n; j++) {
    let sum = 0;
    for (let i = 0; i < m; i++) sum += dy[i * n + j] as number;
    db[j] = sum;
  }
}

/** The same on the SIMD kernels, from dy at byte address `dy` [m, n] into the byte addresses dx, dw, db. */
export function denseBackwardWasm(
  backend: WasmBackend,
  dy: number,
  x: WasmTensor,
  kernel: WasmTensor,
  dx: number,
  dw: number,
  db: number,
): void {
  const simd = simdKernels(backend) as SimdKernels;
  const [m, k] = x.shape as [number, number];
  const n = kernel.shape[1] as number;
  const kernelT = allocScratch(backend, k * n);
  try {
    simd.transpose(kernel.address, kernelT.index << 2, k, n);
    simd.gemm_nn(dy, kernelT.index << 2, dx, m, n, k, 0, 0);
  } finally {
    freeScratch(backend, kernelT);
  }
  simd.gemm_tn(x.address, dy, dw, k, m, n, 0, 0);
  // Σ over the batch: a handful of values (views after every allocation: growing the heap detaches them).
  const heap = backend.wasm.HEAPF32;
  const [from, to] = [dy >> 2, db >> 2];
  for (let j = 0; j < n; j++) {
    let sum = 0;
    for (let i = 0; i < m; i++) sum += heap[from + i * n + j] as number;
    heap[to + j] = sum;
  }
}

export const denseKernels = [...typedKernelConfigs(forward), ...typedKernelConfigs(backward)];

export const denseGradient: tf.GradConfig = {
  kernelName: denseName,
  inputsToSave: ['x', 'kernel'],
  gradFunc: (dy, saved) => {
    const [x, kernel] = saved as [tf.Tensor, tf.Tensor];
    const [dx, dkernel, dbias] = tf
      .engine()
      .runKernel(denseGradName, { dy: dy as tf.Tensor, x, kernel }, {}) as tf.Tensor[];
    return { x: () => dx as tf.Tensor, kernel: () => dkernel as tf.Tensor, bias: () => dbias as tf.Tensor };
  },
};

/** x·kernel + bias for x [batch, in], kernel [in, out], bias [out]; differentiable in all three (first order). */
/** Checks the operands of a dense layer, with errors naming `op`. */
export function checkDense(op: string, x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor): void {
  const [, k] = x.shape;
  const [kk, n] = kernel.shape;
  if (x.rank !== 2 || kernel.rank !== 2 || k !== kk)
    throw new Error(
      `${op}: x must be [batch, ${kk ?? 'in'}] and kernel [in, out], got [${x.shape}] and [${kernel.shape}]`,
    );
  if (bias.rank !== 1 || bias.shape[0] !== n)
    throw new Error(`${op}: bias must have shape [${n}] (kernel is [${kernel.shape}]), got [${bias.shape}]`);
  for (const [name, t] of [
    ['x', x],
    ['kernel', kernel],
    ['bias', bias],
  ] as const) {
    if (t.dtype !== 'float32') throw new Error(`${op}: ${name} must be float32, got ${t.dtype}`);
  }
}

/** x·kernel + bias for x [batch, in], kernel [in, out], bias [out]; differentiable in all three (first order). */
export function dense(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor): tf.Tensor2D {
  checkDense('dense', x, kernel, bias);
  if (x.shape[0] === 0 || tf.getKernel(denseName, tf.getBackend()) === undefined)
    return tf.add(tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D), bias) as tf.Tensor2D;
  return tf.engine().runKernel(denseName, { x, kernel, bias }, {}) as tf.Tensor2D;
}
