import { tf } from '@reptile-bench/backend';
import type { Batch } from '@reptile-bench/datasets';
import type { Model } from '@reptile-bench/models';

/**
 * Non-transductive predictions (the paper's definition, `_test_predictions` in its code): each query example is
 * run in one batch with the whole support set, so batch norm's statistics come from the support set plus that one
 * example, and no query example sees another. Returns [querySize, outputSize].
 */
export function predictNonTransductive(
  model: Model,
  params: tf.Tensor[],
  support: Batch,
  query: Batch,
): tf.Tensor {
  const perExample = query.x.length / Math.max(query.size, 1);
  return tf.tidy(() => {
    const rows: tf.Tensor[] = [];
    const x = new Float32Array((support.size + 1) * perExample);
    x.set(support.x, 0);
    for (let q = 0; q < query.size; q++) {
      x.set(query.x.subarray(q * perExample, (q + 1) * perExample), support.size * perExample);
      // tf.tensor copies `x` on the wasm backend but may keep it on cpu: give each forward pass its own array.
      const input = tf.tensor(x.slice(), [support.size + 1, ...query.inputShape], 'float32');
      const out = model.apply(params, input);
      rows.push(tf.slice(out, [support.size, 0], [1, -1]));
    }
    return tf.concat(rows, 0);
  });
}

/** Transductive predictions: all query examples in one batch (what the paper's code feeds), [querySize, outputSize]. */
export function predictTransductive(model: Model, params: tf.Tensor[], query: Batch): tf.Tensor {
  return tf.tidy(() => model.apply(params, tf.tensor(query.x, [query.size, ...query.inputShape], 'float32')));
}

/** Fraction of query examples whose largest output is the true label. */
export function accuracy(outputs: tf.Tensor, labels: Int32Array): number {
  const argMax = tf.argMax(outputs, 1);
  const predicted = argMax.dataSync();
  argMax.dispose();
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) correct++;
  return correct / labels.length;
}

/** Mean squared error over all query examples and outputs, accumulated in float64. */
export function meanSquaredError(outputs: tf.Tensor, targets: Float32Array): number {
  const predicted = outputs.dataSync();
  if (predicted.length !== targets.length)
    throw new RangeError(`meanSquaredError: ${predicted.length} predictions for ${targets.length} targets`);
  let sum = 0;
  for (let i = 0; i < targets.length; i++) sum += ((predicted[i] as number) - (targets[i] as number)) ** 2;
  return sum / targets.length;
}
