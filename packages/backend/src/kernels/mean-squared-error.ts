import * as tf from '@tensorflow/tfjs-core';
import { type TypedKernel, typedKernelConfigs } from './typed-kernel.ts';

/**
 * Mean squared error of predictions against targets of the same size (shapes may differ, e.g. [n, 1] and [n]), in
 * one kernel each way: the gradient kernel computes 2·(pred − target)·dLoss / n from the saved inputs.
 *
 * Inputs, not outputs, are saved, and the gradient kernel has a gradient of its own, so second-order derivatives
 * (MAML) are exact: tfjs records a saved output's copy before the op that made it, so a gradient read from a
 * saved output looks constant when it is differentiated again.
 */
export const meanSquaredErrorName = 'MeanSquaredErrorMean';
export const meanSquaredErrorGradName = 'MeanSquaredErrorMeanGrad';

const forward: TypedKernel<Record<string, never>> = {
  name: meanSquaredErrorName,
  outputShapes: () => [[]],
  compute({ predictions, targets }, [loss]) {
    const p = predictions as Float32Array;
    const t = targets as Float32Array;
    let sum = 0;
    for (let i = 0; i < p.length; i++) {
      const v = (p[i] as number) - (t[i] as number);
      sum += v * v;
    }
    (loss as Float32Array)[0] = sum / p.length;
  },
};

const backward: TypedKernel<Record<string, never>> = {
  name: meanSquaredErrorGradName,
  outputShapes: ({ predictions }) => [predictions?.shape ?? []],
  compute({ predictions, targets, dy }, [dPredictions]) {
    const p = predictions as Float32Array;
    const t = targets as Float32Array;
    const out = dPredictions as Float32Array;
    const scale = (2 * ((dy as Float32Array)[0] as number)) / p.length;
    for (let i = 0; i < p.length; i++) out[i] = ((p[i] as number) - (t[i] as number)) * scale;
  },
};

export const meanSquaredErrorKernels = [...typedKernelConfigs(forward), ...typedKernelConfigs(backward)];

export const meanSquaredErrorGradient: tf.GradConfig = {
  kernelName: meanSquaredErrorName,
  inputsToSave: ['predictions', 'targets'],
  gradFunc: (dy, saved) => {
    const [predictions, targets] = saved as [tf.Tensor, tf.Tensor];
    const dPredictions = tf
      .engine()
      .runKernel(meanSquaredErrorGradName, { predictions, targets, dy: dy as tf.Tensor }, {}) as tf.Tensor;
    return {
      predictions: () => dPredictions,
      targets: () => tf.reshape(tf.neg(dPredictions), targets.shape),
    };
  },
};

/** Differentiates the gradient kernel (for second-order methods) with standard ops. */
export const meanSquaredErrorGradGradient: tf.GradConfig = {
  kernelName: meanSquaredErrorGradName,
  inputsToSave: ['predictions', 'targets', 'dy'],
  gradFunc: (upstream, saved) => {
    const [predictions, targets, dy] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    const u = upstream as tf.Tensor;
    const scale = 2 / predictions.size;
    const dPredictions = () => tf.mul(u, tf.mul(dy, scale));
    return {
      predictions: dPredictions,
      targets: () => tf.reshape(tf.neg(dPredictions()), targets.shape),
      dy: () => tf.mul(tf.sum(tf.mul(u, tf.sub(predictions, tf.reshape(targets, predictions.shape)))), scale),
    };
  },
};

/** Mean over all elements of (predictions − targets)²; differentiable in both, to any order. */
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
  return tf.engine().runKernel(meanSquaredErrorName, { predictions, targets }, {}) as tf.Scalar;
}
