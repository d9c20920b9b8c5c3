import type { tf } from '@reptile-bench/backend';
import type { Rng } from '@reptile-bench/core';
import { type Batch, miniBatches } from '@reptile-bench/datasets';
import {
  createOptimizer,
  type Model,
  type Optimizer,
  toTensors,
  trainOnBatches,
} from '@reptile-bench/models';
import type { AdaptOptions } from './types.ts';

/** The optimizer an adaptation runs: fresh, or continuing `adapt.startState` (e.g. meta-training's inner Adam). */
export function adaptationOptimizer(
  adapt: Pick<AdaptOptions, 'optimizer' | 'learningRate' | 'startState'>,
): Optimizer {
  const optimizer = createOptimizer(adapt);
  if (adapt.startState !== undefined) {
    try {
      optimizer.importState(adapt.startState);
    } catch (error) {
      optimizer.dispose();
      throw error;
    }
  }
  return optimizer;
}

/**
 * Adapts a copy of `init` to `support`: `iterations` steps on mini-batches drawn from `rng` as in the paper's
 * `_mini_batches`, with a fresh optimizer or one continuing `adapt.startState`. `init` is never modified. The
 * caller owns the returned tensors.
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
  const optimizer = adaptationOptimizer(adapt);
  try {
    return trainOnBatches(model, optimizer, toTensors(model, init), batches);
  } finally {
    optimizer.dispose();
  }
}
