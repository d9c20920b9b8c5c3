import * as tf from '@tensorflow/tfjs-core';
import { type SimdKernels, simdKernels } from './simd/runtime.ts';
import { type TypedKernel, typedKernelConfigs, type WasmTensor } from './typed-kernel.ts';
import { allocScratch, freeScratch, type Scratch, type WasmBackend } from './wasm-access.ts';

/**
 * Batch norm with batch statistics, fused with the conv bias before it and the ReLU after it:
 *   z = x + bias, ẑ = (z − mean_batch(z)) / √(var_batch(z) + ε), y = relu(γ·ẑ + β)
 * over every axis but the last (channels). One kernel forward and one backward replace the ~60 small tfjs ops
 * (moments, broadcasts, Tile in the gradient) the composite needs. The bias cannot change y (the batch mean
 * removes it) and its gradient is Σ dx, which is 0 up to rounding; it is computed anyway, so the op is exactly the
 * composite it replaces.
 */
export const batchNormReluName = 'BatchNormReluTraining';
export const batchNormReluGradName = 'BatchNormReluTrainingGrad';

export interface BatchNormReluAttrs {
  epsilon: number;
  relu: boolean;
}

/**
 * Batch statistics of the forward passes on wasm, kept for their gradients: [mean (c), 1/√(var + ε) (c)] on the
 * wasm heap, keyed by the output's data id (tfjs never reuses one). A second output would be simpler, but tfjs
 * then builds a zero tensor as its gradient on every backward pass, and clones it for the tape on every forward
 * pass: ~20 µs a layer. The gradient takes (and frees) its entry; without one it recomputes the statistics.
 * At most `keptStatsLimit` entries stay (the oldest is freed), so inference-only use holds a few kilobytes.
 */
const keptStatsLimit = 32;
const keptStats = new WeakMap<WasmBackend, Map<object, Scratch>>();

function statsCache(backend: WasmBackend): Map<object, Scratch> {
  let cache = keptStats.get(backend);
  if (cache === undefined) {
    cache = new Map();
    keptStats.set(backend, cache);
  }
  return cache;
}

function keepStats(backend: WasmBackend, y: object, stats: Scratch): void {
  const cache = statsCache(backend);
  cache.set(y, stats);
  for (const [key, entry] of cache) {
    if (cache.size <= keptStatsLimit) break;
    freeScratch(backend, entry);
    cache.delete(key);
  }
}

function takeStats(backend: WasmBackend, y: object): Scratch | undefined {
  const cache = statsCache(backend);
  const stats = cache.get(y);
  cache.delete(y);
  return stats;
}

/** Per-channel mean and 1/√(var + ε) of x [m, c], in float64 (the JavaScript path's statistics). */
function batchStats(xs: Float32Array, c: number, epsilon: number) {
  const m = xs.length / c;
  const sum = new Float64Array(c);
  for (let i = 0; i < xs.length; i += c)
    for (let k = 0; k < c; k++) sum[k] = (sum[k] as number) + (xs[i + k] as number);
  const mean = new Float64Array(c);
  for (let k = 0; k < c; k++) mean[k] = (sum[k] as number) / m;
  const sq = new Float64Array(c);
  for (let i = 0; i < xs.length; i += c) {
    for (let k = 0; k < c; k++) {
      const d = (xs[i + k] as number) - (mean[k] as number);
      sq[k] = (sq[k] as number) + d * d;
    }
  }
  const invStd = new Float64Array(c);
  for (let k = 0; k < c; k++) invStd[k] = 1 / Math.sqrt((sq[k] as number) / m + epsilon);
  return { mean, invStd };
}

/** The SIMD path needs whole groups of 4 channels. */
const simdChannels = (c: number) => c % 4 === 0;

/** Runs bn_forward on x into y, with the statistics written to `stats` (2c floats). */
function simdForward(
  backend: WasmBackend,
  x: WasmTensor,
  gamma: WasmTensor,
  beta: WasmTensor,
  y: number,
  stats: Scratch,
  { epsilon, relu }: BatchNormReluAttrs,
): void {
  const simd = simdKernels(backend) as SimdKernels;
  const c = gamma.shape[0] ?? 0;
  const m = x.shape.reduce((p, d) => p * d, 1) / c;
  const scratch = allocScratch(backend, 2 * c);
  try {
    // biome-ignore format: one argument per kernel parameter
    simd.bn_forward(x.address, m, c, gamma.address, beta.address, epsilon, relu ? 1 : 0, y, stats.index << 2,
      scratch.index << 2);
  } finally {
    freeScratch(backend, scratch);
  }
}

const forward: TypedKernel<BatchNormReluAttrs> = {
  name: batchNormReluName,
  wasm({ backend, inputs: { x, gamma, beta }, outputs: [y], attrs }) {
    const c = gamma?.shape[0] ?? 0;
    if (simdKernels(backend) === undefined || !simdChannels(c) || !x || !gamma || !beta || !y) return false;
    const stats = allocScratch(backend, 2 * c);
    try {
      simdForward(backend, x, gamma, beta, y.address, stats, attrs);
    } catch (error) {
      freeScratch(backend, stats);
      throw error;
    }
    keepStats(backend, y.dataId, stats);
    return true;
  },
  outputShapes: ({ x }) => [x?.shape ?? []],
  // The bias is an input only for its gradient: x + bias − mean(x + bias) = x − mean(x), so it never reaches y.
  compute({ x, gamma, beta }, [y], _shapes, { epsilon, relu }) {
    const xs = x as Float32Array;
    const g = gamma as Float32Array;
    const b = beta as Float32Array;
    const out = y as Float32Array;
    const c = g.length;
    const { mean, invStd } = batchStats(xs, c, epsilon);
    const scale = new Float64Array(c);
    for (let k = 0; k < c; k++) scale[k] = (g[k] as number) * (invStd[k] as number);
    for (let i = 0; i < xs.length; i += c) {
      for (let k = 0; k < c; k++) {
        const v = ((xs[i + k] as number) - (mean[k] as number)) * (scale[k] as number) + (b[k] as number);
        out[i + k] = relu && v < 0 ? 0 : v;
      }
    }
  },
};

const backward: TypedKernel<BatchNormReluAttrs> = {
  name: batchNormReluGradName,
  wasm({ backend, inputs: { dy, x, gamma, y }, outputs: [dx, dbias, dgamma, dbeta], attrs }) {
    const simd = simdKernels(backend);
    const c = gamma?.shape[0] ?? 0;
    if (
      simd === undefined ||
      !simdChannels(c) ||
      !dy ||
      !x ||
      !gamma ||
      !y ||
      !dx ||
      !dbias ||
      !dgamma ||
      !dbeta
    )
      return false;
    const m = x.shape.reduce((p, d) => p * d, 1) / c;
    let stats = takeStats(backend, y.dataId);
    const scratch = allocScratch(backend, Math.max(3 * c, stats === undefined ? m * c : 0));
    try {
      if (stats === undefined) {
        // Not kept (evicted, or the gradient is taken twice): the forward pass again, into scratch.
        stats = allocScratch(backend, 2 * c);
        simdForward(backend, x, gamma, gamma, scratch.index << 2, stats, attrs);
      }
      // biome-ignore format: one argument per kernel parameter
      simd.bn_backward(dy.address, x.address, y.address, m, c, gamma.address, stats.index << 2,
        attrs.relu ? 1 : 0, dx.address, dbias.address, dgamma.address, dbeta.address, scratch.index << 2);
    } finally {
      freeScratch(backend, scratch);
      if (stats !== undefined) freeScratch(backend, stats);
    }
    return true;
  },
  outputShapes: ({ x, gamma }) => {
    const c = gamma?.shape[0] ?? 0;
    return [x?.shape ?? [], [c], [c], [c]];
  },
  compute({ dy, x, gamma, y }, [dx, dbias, dgamma, dbeta], _shapes, { epsilon, relu }) {
    const d = dy as Float32Array;
    const xs = x as Float32Array;
    const ys = y as Float32Array;
    const g = gamma as Float32Array;
    const out = dx as Float32Array;
    const c = g.length;
    const m = xs.length / c;
    // The forward pass's statistics, recomputed the same way (the reference path keeps nothing between kernels).
    const { mean, invStd } = batchStats(xs, c, epsilon);
    const sumDz = new Float64Array(c);
    const sumDzXhat = new Float64Array(c);
    for (let i = 0; i < xs.length; i += c) {
      for (let k = 0; k < c; k++) {
        const dz = relu && !((ys[i + k] as number) > 0) ? 0 : (d[i + k] as number);
        const xhat = ((xs[i + k] as number) - (mean[k] as number)) * (invStd[k] as number);
        sumDz[k] = (sumDz[k] as number) + dz;
        sumDzXhat[k] = (sumDzXhat[k] as number) + dz * xhat;
      }
    }
    const coef = new Float64Array(c);
    const meanDz = new Float64Array(c);
    const meanDzXhat = new Float64Array(c);
    for (let k = 0; k < c; k++) {
      coef[k] = (g[k] as number) * (invStd[k] as number);
      meanDz[k] = (sumDz[k] as number) / m;
      meanDzXhat[k] = (sumDzXhat[k] as number) / m;
    }
    const sumDx = new Float64Array(c);
    for (let i = 0; i < xs.length; i += c) {
      for (let k = 0; k < c; k++) {
        const dz = relu && !((ys[i + k] as number) > 0) ? 0 : (d[i + k] as number);
        const xhat = ((xs[i + k] as number) - (mean[k] as number)) * (invStd[k] as number);
        const v = (coef[k] as number) * (dz - (meanDz[k] as number) - xhat * (meanDzXhat[k] as number));
        out[i + k] = v;
        sumDx[k] = (sumDx[k] as number) + v;
      }
    }
    const db = dbias as Float32Array;
    const dg = dgamma as Float32Array;
    const dbe = dbeta as Float32Array;
    for (let k = 0; k < c; k++) {
      db[k] = sumDx[k] as number;
      dg[k] = sumDzXhat[k] as number;
      dbe[k] = sumDz[k] as number;
    }
  },
};

export const batchNormReluKernels = [...typedKernelConfigs(forward), ...typedKernelConfigs(backward)];

export const batchNormReluGradient: tf.GradConfig = {
  kernelName: batchNormReluName,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, gamma, y] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    const [dx, dbias, dgamma, dbeta] = tf
      .engine()
      .runKernel(batchNormReluGradName, { dy: dy as tf.Tensor, x, gamma, y }, attrs) as tf.Tensor[];
    return {
      x: () => dx as tf.Tensor,
      bias: () => dbias as tf.Tensor,
      gamma: () => dgamma as tf.Tensor,
      beta: () => dbeta as tf.Tensor,
    };
  },
};

/** The same function from plain tfjs ops, for backends without the fused kernel (e.g. tensorflow). */
function composite(
  x: tf.Tensor,
  bias: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
  relu: boolean,
): tf.Tensor {
  return tf.tidy(() => {
    const z = tf.add(x, bias);
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    const { mean, variance } = tf.moments(z, axes);
    const y = tf.batchNorm(z, mean, variance, beta, gamma, epsilon);
    return relu ? tf.relu(y) : y;
  });
}

/**
 * relu(batchNorm(x + bias)) with the statistics of this batch over all axes but the last; differentiable in
 * every input. `relu: false` leaves out the ReLU.
 */
export function batchNormRelu(
  x: tf.Tensor,
  bias: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  options: { epsilon?: number; relu?: boolean } = {},
): tf.Tensor {
  const epsilon = options.epsilon ?? 1e-3;
  const relu = options.relu ?? true;
  const channels = x.shape[x.rank - 1] ?? 0;
  for (const [name, t] of [
    ['bias', bias],
    ['gamma', gamma],
    ['beta', beta],
  ] as const) {
    if (t.rank !== 1 || t.shape[0] !== channels)
      throw new Error(
        `batchNormRelu: ${name} must have shape [${channels}] (x is [${x.shape}]), got [${t.shape}]`,
      );
  }
  if (x.dtype !== 'float32') throw new Error(`batchNormRelu: x must be float32, got ${x.dtype}`);
  if (tf.getKernel(batchNormReluName, tf.getBackend()) === undefined)
    return composite(x, bias, gamma, beta, epsilon, relu);
  return tf.engine().runKernel(batchNormReluName, { x, bias, gamma, beta }, { epsilon, relu }) as tf.Tensor;
}
