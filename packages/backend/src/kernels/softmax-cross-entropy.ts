import * as tf from '@tensorflow/tfjs-core';
import { type TypedKernel, typedKernelConfigs } from './typed-kernel.ts';

/**
 * Mean softmax cross-entropy of logits [batch, classes] against int32 labels [batch], in one kernel each way (log-
 * sum-exp with the row max subtracted); the gradient kernel recomputes the softmax from the saved logits and gives
 * (softmax − onehot)·dLoss / batch. Inputs, not outputs, are saved and the gradient kernel has a gradient of its
 * own, so second-order derivatives are exact (see mean-squared-error.ts for why saved outputs would not be).
 */
export const softmaxCrossEntropyName = 'SparseSoftmaxCrossEntropyMean';
export const softmaxCrossEntropyGradName = 'SparseSoftmaxCrossEntropyMeanGrad';

/** Softmax of each row into `out`; returns Σ over rows of log Σ exp(row) (the log-partition sum). */
export function softmaxRows(
  l: Float32Array,
  out: Float32Array | undefined,
  batch: number,
  classes: number,
  labels: Int32Array,
) {
  let total = 0;
  for (let n = 0; n < batch; n++) {
    const row = n * classes;
    const label = labels[n] as number;
    if (!(label >= 0 && label < classes))
      throw new Error(`softmaxCrossEntropy: label ${label} at row ${n} is outside [0, ${classes})`);
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < classes; k++) max = Math.max(max, l[row + k] as number);
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      const e = Math.exp((l[row + k] as number) - max);
      if (out) out[row + k] = e;
      sum += e;
    }
    if (out) for (let k = 0; k < classes; k++) out[row + k] = (out[row + k] as number) / sum;
    total += Math.log(sum) + max - (l[row + label] as number);
  }
  return total;
}

const forward: TypedKernel<Record<string, never>> = {
  name: softmaxCrossEntropyName,
  outputShapes: () => [[]],
  compute({ logits, labels }, [loss], shapes) {
    const [batch, classes] = shapes.logits as [number, number];
    const total = softmaxRows(logits as Float32Array, undefined, batch, classes, labels as Int32Array);
    (loss as Float32Array)[0] = total / batch;
  },
};

const backward: TypedKernel<Record<string, never>> = {
  name: softmaxCrossEntropyGradName,
  outputShapes: ({ logits }) => [logits?.shape ?? []],
  compute({ logits, labels, dy }, [dlogits], shapes) {
    const [batch, classes] = shapes.logits as [number, number];
    softmaxCrossEntropyGradRows(
      logits as Float32Array,
      dlogits as Float32Array,
      batch,
      classes,
      labels as Int32Array,
      (dy as Float32Array)[0] as number,
    );
  },
};

/** The gradient of the mean cross-entropy with respect to the logits, (softmax − onehot)·dLoss / batch, into out. */
export function softmaxCrossEntropyGradRows(
  logits: Float32Array,
  out: Float32Array,
  batch: number,
  classes: number,
  labels: Int32Array,
  dLoss: number,
): void {
  softmaxRows(logits, out, batch, classes, labels);
  const scale = dLoss / batch;
  for (let i = 0; i < batch * classes; i++) out[i] = (out[i] as number) * scale;
  for (let n = 0; n < batch; n++) {
    const i = n * classes + (labels[n] as number);
    out[i] = (out[i] as number) - scale;
  }
}

export const softmaxCrossEntropyKernels = [...typedKernelConfigs(forward), ...typedKernelConfigs(backward)];

export const softmaxCrossEntropyGradient: tf.GradConfig = {
  kernelName: softmaxCrossEntropyName,
  inputsToSave: ['logits', 'labels'],
  gradFunc: (dy, saved) => {
    const [logits, labels] = saved as [tf.Tensor, tf.Tensor];
    const dlogits = tf
      .engine()
      .runKernel(softmaxCrossEntropyGradName, { logits, labels, dy: dy as tf.Tensor }, {}) as tf.Tensor;
    return { logits: () => dlogits, labels: () => tf.zerosLike(labels) };
  },
};

/**
 * Differentiates the gradient kernel (for second-order methods) with standard ops: with s = softmax(logits),
 * d/dlogits of <u, (s − onehot)·dy/n> is (s ⊙ (u − Σ_row u ⊙ s))·dy/n, and d/ddy is <u, s − onehot>/n.
 */
export const softmaxCrossEntropyGradGradient: tf.GradConfig = {
  kernelName: softmaxCrossEntropyGradName,
  inputsToSave: ['logits', 'labels', 'dy'],
  gradFunc: (upstream, saved) => {
    const [logits, labels, dy] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    const u = upstream as tf.Tensor;
    const [batch, classes] = logits.shape as [number, number];
    const s = tf.softmax(logits);
    return {
      logits: () => tf.mul(tf.mul(s, tf.sub(u, tf.sum(tf.mul(u, s), -1, true))), tf.div(dy, batch)),
      labels: () => tf.zerosLike(labels),
      dy: () =>
        tf.div(
          tf.sum(tf.mul(u, tf.sub(s, tf.cast(tf.oneHot(labels as tf.Tensor1D, classes), 'float32')))),
          batch,
        ),
    };
  },
};

function composite(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.cast(tf.oneHot(labels, logits.shape[1]), 'float32');
    return tf.div(tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)))), logits.shape[0]) as tf.Scalar;
  });
}

/** Checks class labels for `batch` rows, with errors naming `op`. */
export function checkLabels(op: string, batch: number, labels: tf.Tensor): void {
  if (labels.rank !== 1 || labels.shape[0] !== batch)
    throw new Error(`${op}: labels must have shape [${batch}], got [${labels.shape}]`);
  if (labels.dtype !== 'int32') throw new Error(`${op}: labels must be int32, got ${labels.dtype}`);
}

/** Mean softmax cross-entropy; labels are class indices (int32). Differentiable in the logits. */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  if (logits.rank !== 2)
    throw new Error(`softmaxCrossEntropy: logits must be [batch, classes], got [${logits.shape}]`);
  const [batch] = logits.shape as [number, number];
  checkLabels('softmaxCrossEntropy', batch, labels);
  if (logits.dtype !== 'float32')
    throw new Error(`softmaxCrossEntropy: logits must be float32, got ${logits.dtype}`);
  if (tf.getKernel(softmaxCrossEntropyName, tf.getBackend()) === undefined)
    return composite(logits as tf.Tensor2D, labels as tf.Tensor1D);
  return tf.engine().runKernel(softmaxCrossEntropyName, { logits, labels }, {}) as tf.Scalar;
}
