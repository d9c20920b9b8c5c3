import { tf } from '@reptile-bench/backend';
import { type Batch, exampleLength } from '@reptile-bench/datasets';
import type { Model } from './model.ts';
import type { Optimizer } from './optimizers.ts';
import { trainStep } from './train.ts';

/** A batch as tensors: x [size, ...inputShape]; y int32 [size] (labels) or float32 [size, outputs] (targets). */
export function batchTensors(batch: Batch): { x: tf.Tensor; y: tf.Tensor } {
  const x = tf.tensor(batch.x, [batch.size, ...batch.inputShape], 'float32');
  const y =
    batch.y instanceof Int32Array
      ? tf.tensor1d(batch.y, 'int32')
      : tf.tensor2d(batch.y, [batch.size, batch.size === 0 ? 1 : batch.y.length / batch.size], 'float32');
  return { x, y };
}

/**
 * Takes one optimizer step per batch, in order, starting from `params` (which it disposes, as `trainStep` does).
 * Returns the adapted parameters as tensors and each step's training loss (measured before the step).
 */
export function trainOnBatches(
  model: Model,
  optimizer: Optimizer,
  params: tf.Tensor[],
  batches: Iterable<Batch>,
): { params: tf.Tensor[]; losses: number[] } {
  const losses: number[] = [];
  for (const batch of batches) {
    const { x, y } = batchTensors(batch);
    try {
      const step = trainStep(model, optimizer, params, x, y);
      params = step.params;
      losses.push(step.loss);
    } finally {
      x.dispose();
      y.dispose();
    }
  }
  return { params, losses };
}

/**
 * The model's outputs for every example of `batch`, `chunk` examples per forward pass, as one host array
 * [size, outputSize] (no gradient). For models whose outputs do not depend on the other examples of a batch
 * (no batch statistics), the chunk size does not change them.
 */
export function logitsOf(model: Model, params: Float32Array[], batch: Batch, chunk = 256): Float32Array {
  const out = new Float32Array(batch.size * model.outputSize);
  const length = exampleLength(batch.inputShape);
  const tensors = params.map((p, i) => tf.tensor(p, model.paramSpecs[i]?.shape, 'float32'));
  try {
    for (let start = 0; start < batch.size; start += chunk) {
      const n = Math.min(chunk, batch.size - start);
      const values = tf.tidy(() => {
        const x = tf.tensor(batch.x.subarray(start * length, (start + n) * length), [n, ...batch.inputShape]);
        return model.apply(tensors, x).dataSync() as Float32Array;
      });
      out.set(values, start * model.outputSize);
    }
  } finally {
    tf.dispose(tensors);
  }
  return out;
}
