import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from './simd/runtime.ts';
import { type TypedKernel, typedKernelConfigs } from './typed-kernel.ts';
import { allocScratch, freeScratch } from './wasm-access.ts';

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

function dims(shapes: Record<string, number[]>): [number, number, number] {
  const [m, k] = shapes.x as [number, number];
  const n = (shapes.kernel as [number, number])[1];
  return [m, k, n];
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
    const [m, k, n] = dims(shapes);
    const [a, w, b, out] = [x, kernel, bias, y] as Float32Array[] as [
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += (a[i * k + p] as number) * (w[p * n + j] as number);
        out[i * n + j] = sum + (b[j] as number);
      }
  },
};

const backward: TypedKernel<NoAttrs> = {
  name: denseGradName,
  wasm({ backend, inputs: { dy, x, kernel }, outputs: [dx, dkernel, dbias] }) {
    const simd = simdKernels(backend);
    if (simd === undefined || !dy || !x || !kernel || !dx || !dkernel || !dbias) return false;
    const [m, k] = x.shape as [number, number];
    const n = kernel.shape[1] as number;
    const kernelT = allocScratch(backend, k * n);
    try {
      simd.transpose(kernel.address, kernelT.index << 2, k, n);
      simd.gemm_nn(dy.address, kernelT.index << 2, dx.address, m, n, k, 0, 0);
    } finally {
      freeScratch(backend, kernelT);
    }
    simd.gemm_tn(x.address, dy.address, dkernel.address, k, m, n, 0, 0);
    // Σ over the batch: a handful of values (views after every allocation: growing the heap detaches them).
    const heap = backend.wasm.HEAPF32;
    const [from, to] = [dy.address >> 2, dbias.address >> 2];
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let i = 0; i < m; i++) sum += heap[from + i * n + j] as number;
      heap[to + j] = sum;
    }
    return true;
  },
  outputShapes: ({ x, kernel }) => [x?.shape ?? [], kernel?.shape ?? [], [kernel?.shape[1] ?? 0]],
  compute({ dy, x, kernel }, [dx, dkernel, dbias], shapes) {
    const [m, k, n] = dims(shapes);
    const [g, a, w] = [dy, x, kernel] as Float32Array[] as [Float32Array, Float32Array, Float32Array];
    const [ga, gw, gb] = [dx, dkernel, dbias] as [Float32Array, Float32Array, Float32Array];
    for (let i = 0; i < m; i++)
      for (let p = 0; p < k; p++) {
        let sum = 0;
        for (let j = 0; j < n; j++) sum += (g[i * n + j] as number) * (w[p * n + j] as number);
        ga[i * k + p] = sum;
      }
    for (let p = 0; p < k; p++)
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let i = 0; i < m; i++) sum += (a[i * k + p] as number) * (g[i * n + j] as number);
        gw[p * n + j] = sum;
      }
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let i = 0; i < m; i++) sum += g[i * n + j] as number;
      gb[j] = sum;
    }
  },
};

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
export function dense(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor): tf.Tensor2D {
  const [m, k] = x.shape;
  const [kk, n] = kernel.shape;
  if (x.rank !== 2 || kernel.rank !== 2 || k !== kk)
    throw new Error(
      `dense: x must be [batch, ${kk ?? 'in'}] and kernel [in, out], got [${x.shape}] and [${kernel.shape}]`,
    );
  if (bias.rank !== 1 || bias.shape[0] !== n)
    throw new Error(`dense: bias must have shape [${n}] (kernel is [${kernel.shape}]), got [${bias.shape}]`);
  for (const [name, t] of [
    ['x', x],
    ['kernel', kernel],
    ['bias', bias],
  ] as const) {
    if (t.dtype !== 'float32') throw new Error(`dense: ${name} must be float32, got ${t.dtype}`);
  }
  if (m === 0 || tf.getKernel(denseName, tf.getBackend()) === undefined)
    return tf.add(tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D), bias) as tf.Tensor2D;
  return tf.engine().runKernel(denseName, { x, kernel, bias }, {}) as tf.Tensor2D;
}
