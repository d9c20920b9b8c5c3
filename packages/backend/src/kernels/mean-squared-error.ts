import * as tf from '@tensorflow/tfjs-core';
import { type TypedKernel, typedKernelConfigs } from './typed-kernel.ts';

/**
 * Mean squared error of predictions against targets of the same size (shapes may differ, e.g. [n, 1] and [n]), in
 * one kernel; it also outputs the differences, from which the gradient is 2·(pred − target)·dLoss / n.
 */
export const meanSquaredErrorName = 'MeanSquaredErrorMean';
export const meanSquaredErrorGradName = 'MeanSquaredErrorMeanGrad';

const forward: TypedKernel<Record<string, never>> = {
  name: meanSquaredErrorName,
  outputShapes: ({ predictions }) => [[], predictions?.shape ?? []],
  compute({ predictions, targets }, [loss, diff]) {
    const p = predictions as Float32Array;
    const t = targets as Float32Array;
    const d = diff as Float32Array;
    let sum = 0;
    for (let i = 0; i < p.length; i++) {
      const v = (p[i] as number) - (t[i] as number);
      d[i] = v;
      sum += v * v;
    }
    (loss as Float32Array)[0] = sum / p.length;
  },
};

const backward: TypedKernel<Record<string, never>> = {
  name: meanSquaredErrorGradName,
  outputShapes: ({ diff }) => [diff?.shape ?? []],
  compute({ diff, dy }, [dPredictions]) {
    const d = diff as Float32Array;
    const out = dPredictions as Float32Array;
    const scale = (2 * ((dy as Float32Array)[0] as number)) / d.length;
    for (let i = 0; i < d.length; i++) out[i] = (d[i] as number) * scale;
  },
};

export const meanSquaredErrorKernels = [...typedKernelConfigs(forward), ...typedKernelConfigs(backward)];

export const meanSquaredErrorGradient: tf.GradConfig = {
  kernelName: meanSquaredErrorName,
  inputsToSave: ['targets'],
  outputsToSave: [false, true],
  gradFunc: (dys, saved) => {
    const [targets, diff] = saved as [tf.Tensor, tf.Tensor];
    const dy = Array.isArray(dys) ? (dys[0] as tf.Tensor) : dys;
    const dPredictions = tf.engine().runKernel(meanSquaredErrorGradName, { diff, dy }, {}) as tf.Tensor;
    return {
      predictions: () => dPredictions,
      targets: () => tf.reshape(tf.neg(dPredictions), targets.shape),
    };
  },
};

/** Mean over all elements of (predictions − targets)²; differentiable in both. */
export function meanSquaredError(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  if (predictions.size !== targets.size)
    throw new Error(
      `meanSquaredError: predictions [${predictions.shape}] and targets [${targets.shape}] differ in size`,
    );
  if (predictions.dtype !== 'float32' || targets.dtype !== 'float32')
    throw new Error(
      `meanSquaredError: predictions and targets must be float32, got ${predictions.dtype} and ${targets.dtype}`,
    );
  if (tf.getKernel(meanSquaredErrorName, tf.getBackend()) === undefined)
    return tf.tidy(() => tf.mean(tf.squaredDifference(predictions, tf.reshape(targets, predictions.shape))));
  const [loss, diff] = tf
    .engine()
    .runKernel(meanSquaredErrorName, { predictions, targets }, {}) as tf.Tensor[];
  (diff as tf.Tensor).dispose();
  return loss as tf.Scalar;
}
