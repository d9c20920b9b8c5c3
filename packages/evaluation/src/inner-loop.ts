import { tf } from '@reptile-bench/backend';
import type { Rng } from '@reptile-bench/core';
import { type Batch, miniBatches } from '@reptile-bench/datasets';
import { adam, type Model, type Optimizer, sgd, toTensors, trainStep } from '@reptile-bench/models';
import type { AdaptOptions } from './types.ts';

/** The inner-loop optimizer: Adam with β1 = 0 (the paper's setting) or plain SGD. */
export function createOptimizer(o: { optimizer: 'adam' | 'sgd'; learningRate: number }): Optimizer {
  return o.optimizer === 'adam'
    ? adam({ learningRate: o.learningRate, beta1: 0 })
    : sgd({ learningRate: o.learningRate });
}

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
  batches: readonly Batch[],
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
 * Adapts a copy of `init` to `support` with a fresh optimizer: `iterations` steps on mini-batches drawn from
 * `rng` as in the paper's `_mini_batches`. `init` is never modified. The caller owns the returned tensors.
 */
export function adaptToSupport(
  model: Model,
  init: Float32Array[],
  support: Batch,
  adapt: AdaptOptions,
  rng: Rng,
): { params: tf.Tensor[]; losses: number[] } {
  const batches = miniBatches(
    support,
    adapt.batchSize,
    adapt.iterations,
    { replacement: adapt.replacement ?? false },
    rng,
  );
  const optimizer = createOptimizer(adapt);
  try {
    return trainOnBatches(model, optimizer, toTensors(model, init), batches);
  } finally {
    optimizer.dispose();
  }
}
