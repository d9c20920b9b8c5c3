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

export interface BatchNormReluAttrs {
  epsilon: number;
  relu: boolean;
}

const forward: TypedKernel<BatchNormReluAttrs> = {
  name: batchNormReluName,
  wasm({ backend, inputs: { x, gamma, beta }, outputs: [y, stats], attrs: { epsilon, relu } }) {
    const simd = simdKernels(backend);
    const c = gamma?.shape[0] ?? 0;
    if (simd === undefined || c % 4 !== 0 || !x || !gamma || !beta || !y || !stats) return false;
    const m = x.shape.reduce((p, d) => p * d, 1) / c;
    const scratch = allocScratch(backend, 2 * c);
    try {
      simd.bn_forward(
        x.address,
        m,
        c,
        gamma.address,
        beta.address,
        epsilon,
        relu ? 1 : 0,
        y.address,
        stats.address,
        scratch.index << 2,
      );
    } finally {
      freeScratch(backend, scratch);
    }
    return true;
  },
  outputShapes: ({ x, gamma }) => [x?.shape ?? [], [2, gamma?.shape[0] ?? 0]],
  // The bias is an input only for its gradient: x + bias − mean(x + bias) = x − mean(x), so it never reaches y.
  compute({ x, gamma, beta }, [y, stats], _shapes, { epsilon, relu }) {
    const xs = x as Float32Array;
    const g = gamma as Float32Array;
    const b = beta as Float32Array;
    const out = y as Float32Array;
    const st = stats as Float32Array;
    const c = g.length;
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
    const scale = new Float64Array(c);
    for (let k = 0; k < c; k++) {
      const invStd = 1 / Math.sqrt((sq[k] as number) / m + epsilon);
      scale[k] = (g[k] as number) * invStd;
      st[k] = mean[k] as number; // the mean of x; the bias only shifts it and cancels
      st[c + k] = invStd;
    }
    for (let i = 0; i < xs.length; i += c) {
      for (let k = 0; k < c; k++) {
        const v = ((xs[i + k] as number) - (mean[k] as number)) * (scale[k] as number) + (b[k] as number);
        out[i + k] = relu && v < 0 ? 0 : v;
      }
    }
  },
};

const backward: TypedKernel<{ relu: boolean }> = {
  name: batchNormReluGradName,
  wasm({
    backend,
    inputs: { dy, x, gamma, y, stats },
    outputs: [dx, dbias, dgamma, dbeta],
    attrs: { relu },
  }) {
    const simd = simdKernels(backend);
    const c = gamma?.shape[0] ?? 0;
    if (
      simd === undefined ||
      c % 4 !== 0 ||
      !dy ||
      !x ||
      !gamma ||
      !y ||
      !stats ||
      !dx ||
      !dbias ||
      !dgamma ||
      !dbeta
    )
      return false;
    const m = x.shape.reduce((p, d) => p * d, 1) / c;
    const scratch = allocScratch(backend, 3 * c);
    try {
      // biome-ignore format: one argument per kernel parameter
      simd.bn_backward(dy.address, x.address, y.address, m, c, gamma.address, stats.address, relu ? 1 : 0,
        dx.address, dbias.address, dgamma.address, dbeta.address, scratch.index << 2);
    } finally {
      freeScratch(backend, scratch);
    }
    return true;
  },
  outputShapes: ({ x, gamma }) => {
    const c = gamma?.shape[0] ?? 0;
    return [x?.shape ?? [], [c], [c], [c]];
  },
  compute({ dy, x, gamma, y, stats }, [dx, dbias, dgamma, dbeta], _shapes, { relu }) {
    const d = dy as Float32Array;
    const xs = x as Float32Array;
    const ys = y as Float32Array;
    const g = gamma as Float32Array;
    const st = stats as Float32Array;
    const out = dx as Float32Array;
    const c = g.length;
    const m = xs.length / c;
    const sumDz = new Float64Array(c);
    const sumDzXhat = new Float64Array(c);
    for (let i = 0; i < xs.length; i += c) {
      for (let k = 0; k < c; k++) {
        const dz = relu && !((ys[i + k] as number) > 0) ? 0 : (d[i + k] as number);
        const xhat = ((xs[i + k] as number) - (st[k] as number)) * (st[c + k] as number);
        sumDz[k] = (sumDz[k] as number) + dz;
        sumDzXhat[k] = (sumDzXhat[k] as number) + dz * xhat;
      }
    }
    const coef = new Float64Array(c);
    const meanDz = new Float64Array(c);
    const meanDzXhat = new Float64Array(c);
    for (let k = 0; k < c; k++) {
      coef[k] = (g[k] as number) * (st[c + k] as number);
      meanDz[k] = (sumDz[k] as number) / m;
      meanDzXhat[k] = (sumDzXhat[k] as number) / m;
    }
    const sumDx = new Float64Array(c);
    for (let i = 0; i < xs.length; i += c) {
      for (let k = 0; k < c; k++) {
        const dz = relu && !((ys[i + k] as number) > 0) ? 0 : (d[i + k] as number);
        const xhat = ((xs[i + k] as number) - (st[k] as number)) * (st[c + k] as number);
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
  outputsToSave: [true, true],
  gradFunc: (dys, saved, attrs) => {
    const [x, gamma, y, stats] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const dy = Array.isArray(dys) ? (dys[0] as tf.Tensor) : dys;
    const [dx, dbias, dgamma, dbeta] = tf
      .engine()
      .runKernel(
        batchNormReluGradName,
        { dy, x, gamma, y, stats },
        { relu: (attrs as unknown as BatchNormReluAttrs).relu },
      ) as tf.Tensor[];
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
  const [y, stats] = tf
    .engine()
    .runKernel(batchNormReluName, { x, bias, gamma, beta }, { epsilon, relu }) as tf.Tensor[];
  (stats as tf.Tensor).dispose(); // the tape keeps its own reference for the gradient
  return y as tf.Tensor;
}
