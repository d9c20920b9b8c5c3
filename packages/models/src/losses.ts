import { ops, tf } from '@reptile-bench/backend';

/** Checks integer class labels for a batch of `batch` examples. */
export function checkClassLabels(labels: tf.Tensor, batch: number): void {
  if (labels.rank !== 1 || labels.shape[0] !== batch)
    throw new Error(`classification loss: labels must have shape [${batch}], got [${labels.shape}]`);
  if (labels.dtype !== 'int32')
    throw new Error(`classification loss: labels must be int32, got ${labels.dtype}`);
}

/** Mean softmax cross-entropy of logits [batch, ways] against integer labels [batch]. */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  checkClassLabels(labels, logits.shape[0] as number);
  return ops.softmaxCrossEntropy(logits, labels);
}

/** Mean squared error of predictions [batch, 1] against targets [batch, 1] or [batch]. */
export function meanSquaredError(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  const batch = predictions.shape[0] as number;
  if (targets.size !== batch)
    throw new Error(
      `regression loss: targets must have shape [${batch}, 1] or [${batch}], got [${targets.shape}]`,
    );
  // Predictions are [batch, 1]; targets of either shape have the same elements in the same order.
  return tf.tidy(() =>
    ops.meanSquaredError(predictions, targets.dtype === 'float32' ? targets : tf.cast(targets, 'float32')),
  );
}

/**
 * `apply` and `loss` of a classifier whose last two parameters are a dense output layer on `features(params, x)`.
 * Training fuses that layer with the loss (one op, one gradient; the same arithmetic as apply + loss).
 */
export function denseClassifierHead(features: (params: tf.Tensor[], x: tf.Tensor) => tf.Tensor): {
  apply(params: tf.Tensor[], x: tf.Tensor): tf.Tensor;
  loss(params: tf.Tensor[], x: tf.Tensor, y: tf.Tensor): tf.Scalar;
} {
  const kernel = (params: tf.Tensor[]) => params[params.length - 2] as tf.Tensor;
  const bias = (params: tf.Tensor[]) => params[params.length - 1] as tf.Tensor;
  return {
    apply: (params, x) => tf.tidy(() => ops.dense(features(params, x), kernel(params), bias(params))),
    loss: (params, x, y) =>
      tf.tidy(() => {
        const f = features(params, x);
        checkClassLabels(y, f.shape[0]);
        return ops.denseSoftmaxCrossEntropy(f, kernel(params), bias(params), y);
      }),
  };
}
