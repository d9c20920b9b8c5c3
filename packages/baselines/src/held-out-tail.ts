import type { Rng } from '@reptile-bench/core';
import {
  type Batch,
  type EpisodeSampler,
  holdOutPerClass,
  miniBatches,
  selectExamples,
} from '@reptile-bench/datasets';

/**
 * Splits a task's examples into the part the inner loop trains on and the held-out part its final ("tail")
 * batches come from, so that the meta-gradient is measured on examples the earlier steps never saw (the paper's
 * `_split_train_test` for first-order MAML). Holds out `tailBatches × batchSize` examples: for classification
 * the same number of every class (rounded up), for regression the last ones (the points are drawn i.i.d.).
 */
export function splitTail(
  support: Batch,
  tailBatches: number,
  batchSize: number,
): { rest: Batch; heldOut: Batch } {
  const wanted = tailBatches * batchSize;
  if (support.y instanceof Int32Array) {
    const classes = new Set(support.y).size;
    const perClass = Math.ceil(wanted / classes);
    return holdOutPerClass(support, perClass);
  }
  if (wanted > support.size)
    throw new RangeError(
      `held-out tail: ${tailBatches} tail batch(es) of ${batchSize} need ${wanted} examples, the task has ${support.size}`,
    );
  const indices = Array.from({ length: support.size }, (_, i) => i);
  return {
    rest: selectExamples(support, indices.slice(0, support.size - wanted)),
    heldOut: selectExamples(support, indices.slice(support.size - wanted)),
  };
}

/**
 * A task's inner-loop batches with a held-out tail: `innerIterations − tailBatches` mini-batches from the training
 * part, then `tailBatches` mini-batches from the held-out part (both as the paper's `_mini_batches`).
 */
export function tailedTaskBatches(
  sampler: EpisodeSampler,
  rng: Rng,
  o: { innerIterations: number; innerBatchSize: number; replacement: boolean },
  tailBatches: number,
): Batch[] {
  if (tailBatches > o.innerIterations)
    throw new RangeError(
      `tailBatches (${tailBatches}) must not exceed innerIterations (${o.innerIterations}): the tail is part of the inner loop`,
    );
  const episode = sampler.sample(rng.derive('sample'));
  const { rest, heldOut } = splitTail(episode.support, tailBatches, o.innerBatchSize);
  const headSteps = o.innerIterations - tailBatches;
  if (headSteps > 0 && rest.size === 0)
    throw new RangeError(
      `held-out tail: holding out ${heldOut.size} of the task's ${episode.support.size} examples leaves none for the ` +
        `other ${headSteps} inner steps; use more train shots or fewer/smaller tail batches`,
    );
  const { replacement } = o;
  return [
    ...miniBatches(rest, o.innerBatchSize, headSteps, { replacement }, rng.derive('batches')),
    ...miniBatches(heldOut, o.innerBatchSize, tailBatches, { replacement }, rng.derive('tail')),
  ];
}
