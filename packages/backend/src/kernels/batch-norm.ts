import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from './simd/runtime.ts';
import { type TypedKernel, typedKernelConfigs } from './typed-kernel.ts';
import { allocScratch, freeScratch } from './wasm-access.ts';

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
/**
 * The same op on the tensorflow backend (kernels/tensorflow.ts): its own name, because its gradient saves what
 * TensorFlow's fused batch-norm gradient needs (x, gamma, beta and the output) rather than x alone.
 */
export const nativeBatchNormReluName = 'BatchNormReluTrainingNative';
export const nativeBatchNormReluGradName = 'BatchNormReluTrainingNativeGrad';

export interface BatchNormReluAttrs {
  epsilon: number;
  relu: boolean;
}

/**
 * What a forward pass leaves for its gradient: the batch statistics and the affine map of the normalisation,
 * y = relu(x·scale + shift) — from the SIMD path as float32 [mean, inv, scale, shift] (4c floats, exactly what
 * the forward used), from the JavaScript path in float64. Kept in a WeakMap keyed by the op's attributes object,
 * which tfjs hands, unchanged, to the forward kernel, the tape and the gradient: so an entry lives exactly as long
 * as the tape node that needs it (or, outside a gradient, until the call returns), and each call has its own.
 * This is why the gradient needs only x saved: tfjs clones every saved tensor and records each clone on the tape
 * (~4 µs a tensor a step), and a second output would make it build a zero gradient for it on every backward pass.
 */
type KeptStats =
  | { simd: Float32Array }
  | { js: { mean: Float64Array; invStd: Float64Array; scale: Float64Array; shift: Float64Array } };
const keptStats = new WeakMap<object, KeptStats>();

function statsOf(attrs: object): KeptStats {
  const stats = keptStats.get(attrs);
  if (stats === undefined)
    throw new Error(
      `${batchNormReluGradName}: no statistics from its forward pass; the kernel runs only as the gradient of ops.batchNormRelu`,
    );
  return stats;
}

/** Per-channel statistics and the affine map of x [m, c] in float64 (the JavaScript path). */
function batchStats(xs: Float32Array, gamma: Float32Array, beta: Float32Array, epsilon: number) {
  const c = gamma.length;
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
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    invStd[k] = 1 / Math.sqrt((sq[k] as number) / m + epsilon);
    scale[k] = (gamma[k] as number) * (invStd[k] as number);
    shift[k] = beta[k] as number;
  }
  return { mean, invStd, scale, shift };
}

/** The JavaScript path's pre-activation, (x − mean)·scale + shift, in float64 (the forward and its gradient). */
const preActivation = (
  stats: { mean: Float64Array; scale: Float64Array; shift: Float64Array },
  x: number,
  k: number,
) => (x - (stats.mean[k] as number)) * (stats.scale[k] as number) + (stats.shift[k] as number);

/** The SIMD path needs whole groups of 4 channels. */
const simdChannels = (c: number) => c % 4 === 0;

const forward: TypedKernel<BatchNormReluAttrs> = {
  name: batchNormReluName,
  wasm({ backend, inputs: { x, gamma, beta }, outputs: [y], attrs }) {
    const simd = simdKernels(backend);
    const c = gamma?.shape[0] ?? 0;
    if (simd === undefined || !simdChannels(c) || !x || !gamma || !beta || !y) return false;
    const m = x.shape.reduce((p, d) => p * d, 1) / c;
    // [mean, inv] then bn_forward's scratch [scale, shift]: all four are kept
    const stats = allocScratch(backend, 4 * c);
    try {
      // biome-ignore format: one argument per kernel parameter
      simd.bn_forward(x.address, m, c, gamma.address, beta.address, attrs.epsilon, attrs.relu ? 1 : 0, y.address,
        stats.index << 2, (stats.index + 2 * c) << 2);
      keptStats.set(attrs, { simd: backend.wasm.HEAPF32.slice(stats.index, stats.index + 4 * c) });
    } finally {
      freeScratch(backend, stats);
    }
    return true;
  },
  outputShapes: ({ x }) => [x?.shape ?? []],
  // The bias is an input only for its gradient: x + bias − mean(x + bias) = x − mean(x), so it never reaches y.
  compute({ x, gamma, beta }, [y], _shapes, attrs) {
    const xs = x as Float32Array;
    const out = y as Float32Array;
    const stats = batchStats(xs, gamma as Float32Array, beta as Float32Array, attrs.epsilon);
    const c = stats.mean.length;
    for (let i = 0; i < xs.length; i += c) {
      for (let k = 0; k < c; k++) {
        const v = preActivation(stats, xs[i + k] as number, k);
        out[i + k] = attrs.relu && v < 0 ? 0 : v;
      }
    }
    keptStats.set(attrs, { js: stats });
  },
};

const backward: TypedKernel<BatchNormReluAttrs> = {
  name: batchNormReluGradName,
  wasm({ backend, inputs: { dy, x }, outputs: [dx, dbias, dgamma, dbeta], attrs }) {
    const simd = simdKernels(backend);
    const stats = statsOf(attrs);
    if (simd === undefined || !('simd' in stats) || !dy || !x || !dx || !dbias || !dgamma || !dbeta)
      return false;
    const c = stats.simd.length / 4;
    const m = x.shape.reduce((p, d) => p * d, 1) / c;
    const scratch = allocScratch(backend, 4 * c + 3 * c);
    try {
      backend.wasm.HEAPF32.set(stats.simd, scratch.index);
      // biome-ignore format: one argument per kernel parameter
      simd.bn_backward(dy.address, x.address, m, c, scratch.index << 2, attrs.relu ? 1 : 0, dx.address,
        dbias.address, dgamma.address, dbeta.address, (scratch.index + 4 * c) << 2);
    } finally {
      freeScratch(backend, scratch);
    }
    return true;
  },
  outputShapes: ({ x }) => {
    const c = x?.shape[x.shape.length - 1] ?? 0;
    return [x?.shape ?? [], [c], [c], [c]];
  },
  compute({ dy, x }, [dx, dbias, dgamma, dbeta], _shapes, attrs) {
    const kept = statsOf(attrs);
    if (!('js' in kept)) throw new Error(`${batchNormReluGradName}: statistics of another path`);
    const stats = kept.js;
    const d = dy as Float32Array;
    const xs = x as Float32Array;
    const out = dx as Float32Array;
    const c = stats.mean.length;
    const m = xs.length / c;
    // dz = dy where the forward's ReLU passed the value (its output, rounded to float32, was > 0)
    const dzAt = (i: number, k: number) =>
      attrs.relu && !(Math.fround(preActivation(stats, xs[i + k] as number, k)) > 0)
        ? 0
        : (d[i + k] as number);
    const sumDz = new Float64Array(c);
    const sumDzXhat = new Float64Array(c);
    for (let i = 0; i < xs.length; i += c) {
      for (let k = 0; k < c; k++) {
        const dz = dzAt(i, k);
        const xhat = ((xs[i + k] as number) - (stats.mean[k] as number)) * (stats.invStd[k] as number);
        sumDz[k] = (sumDz[k] as number) + dz;
        sumDzXhat[k] = (sumDzXhat[k] as number) + dz * xhat;
      }
    }
    const meanDz = new Float64Array(c);
    const meanDzXhat = new Float64Array(c);
    for (let k = 0; k < c; k++) {
      meanDz[k] = (sumDz[k] as number) / m;
      meanDzXhat[k] = (sumDzXhat[k] as number) / m;
    }
    const sumDx = new Float64Array(c);
    for (let i = 0; i < xs.length; i += c) {
      for (let k = 0; k < c; k++) {
        const xhat = ((xs[i + k] as number) - (stats.mean[k] as number)) * (stats.invStd[k] as number);
        const v =
          (stats.scale[k] as number) *
          (dzAt(i, k) - (meanDz[k] as number) - xhat * (meanDzXhat[k] as number));
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
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [tf.Tensor];
    const [dx, dbias, dgamma, dbeta] = tf
      .engine()
      .runKernel(batchNormReluGradName, { dy: dy as tf.Tensor, x }, attrs) as tf.Tensor[];
    return {
      x: () => dx as tf.Tensor,
      bias: () => dbias as tf.Tensor,
      gamma: () => dgamma as tf.Tensor,
      beta: () => dbeta as tf.Tensor,
    };
  },
};

/** The same function from plain tfjs ops, for backends without a fused kernel. */
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
  const backend = tf.getBackend();
  const name =
    tf.getKernel(batchNormReluName, backend) !== undefined
      ? batchNormReluName
      : tf.getKernel(nativeBatchNormReluName, backend) !== undefined
        ? nativeBatchNormReluName
        : undefined;
  if (name === undefined) return composite(x, bias, gamma, beta, epsilon, relu);
  return tf.engine().runKernel(name, { x, bias, gamma, beta }, { epsilon, relu }) as tf.Tensor;
}
