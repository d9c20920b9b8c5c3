import { initBackend } from '@reptile-bench/backend';
import type { InitLearner, MetaTrainContext } from '@reptile-bench/evaluation';
import { mean, metaTrainLoop, sampleTask, taskRng } from './meta-loop.ts';
import { type CheckedReptileOptions, checkReptileOptions, type ReptileOptions } from './options.ts';
import { inThreadRunner, replicaRunner, type TaskRunner } from './runner.ts';
import type { TaskJob } from './task.ts';
import { reptileUpdate } from './update.ts';

/** Where task slot `k`'s optimizer state lives, following the options (see `ReptileOptions`). */
export function optimizerStateKey(
  runner: TaskRunner,
  o: CheckedReptileOptions,
  k: number,
): string | undefined {
  if (o.resetOptimizerState) return undefined;
  return o.sharedOptimizerState ? `${runner.statePrefix}shared` : `${runner.statePrefix}slot${k}`;
}

/**
 * The task runner for a context: replica threads when `ctx.workers > 1` and the tasks of a meta-batch are
 * independent (not with a shared optimizer state, which chains them), else this thread. Never more threads than
 * tasks per meta-batch.
 */
export async function createTaskRunner(ctx: MetaTrainContext, o: CheckedReptileOptions): Promise<TaskRunner> {
  const requested = ctx.workers ?? 1;
  if (!Number.isInteger(requested) || requested < 1)
    throw new RangeError(`metaTrain: workers must be a positive integer, got ${JSON.stringify(ctx.workers)}`);
  const workers = o.sharedOptimizerState ? 1 : Math.min(requested, o.metaBatchSize);
  await initBackend(ctx.backend);
  return workers > 1 ? replicaRunner(ctx.backend, workers) : inThreadRunner();
}

/**
 * The jobs of meta-iteration `iteration`: task k adapts from φ on its own mini-batches (by default the paper's
 * sampling, `sampleTask`), returning φ'_k or, with `changeOverLast`, the change made by its last steps.
 */
export function metaBatchJobs(
  ctx: MetaTrainContext,
  o: CheckedReptileOptions,
  runner: TaskRunner,
  phi: Float32Array[],
  iteration: number,
  batchesFor: (k: number) => TaskJob['batches'] = (k) =>
    sampleTask(ctx.train, taskRng(ctx.rng, iteration, k), o).batches,
  changeOverLast = 0,
): TaskJob[] {
  return Array.from({ length: o.metaBatchSize }, (_, k) => {
    const job: TaskJob = {
      model: ctx.model.config,
      params: phi,
      batches: batchesFor(k),
      optimizer: { kind: o.innerOptimizer, learningRate: o.innerLearningRate },
    };
    if (changeOverLast > 0) job.changeOverLast = changeOverLast;
    const stateKey = optimizerStateKey(runner, o, k);
    if (stateKey !== undefined) job.stateKey = stateKey;
    return job;
  });
}

/**
 * Reptile (Nichol, Achiam & Schulman, 2018): each meta-iteration adapts φ to `metaBatchSize` sampled tasks
 * independently (`innerIterations` steps of Adam with β1 = 0, or SGD), then moves φ towards the mean of the
 * adapted parameters: φ ← φ + ε·(mean_i φ'_i − φ), ε annealed linearly from `metaStep` to `metaStepFinal`.
 */
export function reptile(options: ReptileOptions): InitLearner {
  const o = checkReptileOptions(options, 'reptile');
  return {
    name: 'reptile',
    async metaTrain(ctx) {
      const runner = await createTaskRunner(ctx, o);
      try {
        return await metaTrainLoop(
          ctx,
          o,
          async (phi, { iteration, epsilon }) => {
            const results = await runner.run(metaBatchJobs(ctx, o, runner, phi, iteration));
            reptileUpdate(
              phi,
              results.map((r) => r.params),
              epsilon,
            );
            return { innerLoss: mean(results.flatMap((r) => r.losses)) };
          },
          runner.share,
        );
      } finally {
        await runner.close();
      }
    },
  };
}
