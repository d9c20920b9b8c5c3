import * as tf from '@tensorflow/tfjs-core';
import { type TypedKernel, typedKernelConfigs } from './typed-kernel.ts';

/**
 * Mean softmax cross-entropy of logits [batch, classes] against int32 labels [batch], in one kernel (log-sum-exp
 * with the row max subtracted); it also outputs the softmax, from which the gradient is (softmax − onehot) / batch.
 */
export const softmaxCrossEntropyName = 'SparseSoftmaxCrossEntropyMean';
export const softmaxCrossEntropyGradName = 'SparseSoftmaxCrossEntropyMeanGrad';

const forward: TypedKernel<Record<string, never>> = {
  name: softmaxCrossEntropyName,
  outputShapes: ({ logits }) => [[], logits?.shape ?? []],
  compute({ logits, labels }, [loss, probs], shapes) {
    const l = logits as Float32Array;
    const y = labels as Int32Array;
    const p = probs as Float32Array;
    const [batch, classes] = shapes.logits as [number, number];
    let total = 0;
    for (let n = 0; n < batch; n++) {
      const row = n * classes;
      const label = y[n] as number;
      if (!(label >= 0 && label < classes))
        throw new Error(`softmaxCrossEntropy: label ${label} at row ${n} is outside [0, ${classes})`);
      let max = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < classes; k++) max = Math.max(max, l[row + k] as number);
      let sum = 0;
      for (let k = 0; k < classes; k++) {
        const e = Math.exp((l[row + k] as number) - max);
        p[row + k] = e;
        sum += e;
      }
      for (let k = 0; k < classes; k++) p[row + k] = (p[row + k] as number) / sum;
      total += Math.log(sum) + max - (l[row + label] as number);
    }
    (loss as Float32Array)[0] = total / batch;
  },
};

const backward: TypedKernel<Record<string, never>> = {
  name: softmaxCrossEntropyGradName,
  outputShapes: ({ probs }) => [probs?.shape ?? []],
  compute({ probs, labels, dy }, [dlogits], shapes) {
    const p = probs as Float32Array;
    const y = labels as Int32Array;
    const out = dlogits as Float32Array;
    const [batch, classes] = shapes.probs as [number, number];
    const scale = ((dy as Float32Array)[0] as number) / batch;
    for (let i = 0; i < p.length; i++) out[i] = (p[i] as number) * scale;
    for (let n = 0; n < batch; n++) {
      const i = n * classes + (y[n] as number);
      out[i] = (out[i] as number) - scale;
    }
  },
};

export const softmaxCrossEntropyKernels = [...typedKernelConfigs(forward), ...typedKernelConfigs(backward)];

export const softmaxCrossEntropyGradient: tf.GradConfig = {
  kernelName: softmaxCrossEntropyName,
  inputsToSave: ['labels'],
  outputsToSave: [false, true],
  gradFunc: (dys, saved) => {
    const [labels, probs] = saved as [tf.Tensor, tf.Tensor];
    const dy = Array.isArray(dys) ? (dys[0] as tf.Tensor) : dys;
    const dlogits = tf
      .engine()
      .runKernel(softmaxCrossEntropyGradName, { probs, labels, dy }, {}) as tf.Tensor;
    return { logits: () => dlogits };
  },
};

function composite(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.cast(tf.oneHot(labels, logits.shape[1]), 'float32');
    return tf.div(tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)))), logits.shape[0]) as tf.Scalar;
  });
}

/** Mean softmax cross-entropy; labels are class indices (int32). Differentiable in the logits. */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  if (logits.rank !== 2)
    throw new Error(`softmaxCrossEntropy: logits must be [batch, classes], got [${logits.shape}]`);
  const [batch] = logits.shape as [number, number];
  if (labels.rank !== 1 || labels.shape[0] !== batch)
    throw new Error(`softmaxCrossEntropy: labels must have shape [${batch}], got [${labels.shape}]`);
  if (labels.dtype !== 'int32')
    throw new Error(`softmaxCrossEntropy: labels must be int32, got ${labels.dtype}`);
  if (logits.dtype !== 'float32')
    throw new Error(`softmaxCrossEntropy: logits must be float32, got ${logits.dtype}`);
  if (tf.getKernel(softmaxCrossEntropyName, tf.getBackend()) === undefined)
    return composite(logits as tf.Tensor2D, labels as tf.Tensor1D);
  const [loss, probs] = tf.engine().runKernel(softmaxCrossEntropyName, { logits, labels }, {}) as tf.Tensor[];
  (probs as tf.Tensor).dispose();
  return loss as tf.Scalar;
}
