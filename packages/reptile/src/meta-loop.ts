import type { Rng } from '@reptile-bench/core';
import { type Batch, type Episode, type EpisodeSampler, miniBatches } from '@reptile-bench/datasets';
import { checkInit, type MetaTrainContext, requireInteger } from '@reptile-bench/evaluation';
import { cloneParams } from '@reptile-bench/models';
import { type MetaStepSchedule, metaStepAt } from './schedule.ts';

/** What one meta-iteration reports back to the loop. */
export interface MetaIterationResult {
  /** Mean training loss over the inner steps of all tasks of the meta-batch. */
  innerLoss: number;
  /** Extra per-iteration metrics of the algorithm. */
  metrics?: Record<string, number>;
}

/** One meta-iteration of an algorithm: changes φ in place. */
export type MetaIteration = (
  phi: Float32Array[],
  step: { iteration: number; epsilon: number },
) => Promise<MetaIterationResult>;

/**
 * The loop every Reptile-style learner shares: initialises φ from `ctx.rng.derive('init')` (kept where `place` puts
 * it, e.g. shared memory for replica threads; the result is returned in ordinary arrays), runs the meta-iterations
 * with ε from the linear schedule, reports `meta_step`, `inner_loss` and `seconds` per iteration through
 * `ctx.onMetrics`, calls `ctx.validate` every `every` iterations with a copy of φ, and stops on `ctx.signal`.
 */
export async function metaTrainLoop(
  ctx: MetaTrainContext,
  schedule: MetaStepSchedule,
  iterate: MetaIteration,
  place: (phi: Float32Array[]) => Float32Array[] = (phi) => phi,
): Promise<Float32Array[]> {
  const validateEvery =
    ctx.validate === undefined ? 0 : requireInteger(ctx.validate.every, 'metaTrain: validate.every', 1);
  const init = ctx.model.init(ctx.rng.derive('init'));
  checkInit(ctx.model, init, 'metaTrain: model.init');
  const phi = place(init);
  for (let iteration = 0; iteration < schedule.metaIterations; iteration++) {
    ctx.signal?.throwIfAborted();
    const started = performance.now();
    const epsilon = metaStepAt(iteration, schedule);
    const result = await iterate(phi, { iteration, epsilon });
    const seconds = (performance.now() - started) / 1000;
    ctx.onMetrics?.(iteration, {
      meta_step: epsilon,
      inner_loss: result.innerLoss,
      seconds,
      ...result.metrics,
    });
    if (validateEvery > 0 && (iteration + 1) % validateEvery === 0)
      await ctx.validate!.run(cloneParams(phi), iteration + 1);
  }
  return phi === init ? phi : cloneParams(phi);
}

/** The stream of task `k` of meta-iteration `iteration`: independent of threads and of other draws. */
export function taskRng(rng: Rng, iteration: number, k: number): Rng {
  return rng.derive('meta', iteration, 'task', k);
}

/** Samples task `k` of a meta-iteration and its inner-loop mini-batches, as in the paper's code. */
export function sampleTask(
  sampler: EpisodeSampler,
  rng: Rng,
  o: { innerBatchSize: number; innerIterations: number; replacement: boolean },
): { episode: Episode; batches: Batch[] } {
  const episode = sampler.sample(rng.derive('sample'));
  const batches = miniBatches(
    episode.support,
    o.innerBatchSize,
    o.innerIterations,
    { replacement: o.replacement },
    rng.derive('batches'),
  );
  return { episode, batches };
}

/** Mean of numbers (NaN for none), for loss summaries. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
