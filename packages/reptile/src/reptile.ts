import { mean } from '@reptile-bench/core';
import {
  checkMetaLearningOptions,
  type InitLearner,
  type MetaLearningOptions,
  meanUpdate,
  metaBatchJobs,
  metaTrainLoop,
  sampleTask,
  taskRng,
} from '@reptile-bench/meta';

export type ReptileOptions = MetaLearningOptions;

/**
 * Reptile (Nichol, Achiam & Schulman, 2018). Each meta-iteration:
 *   for each of `metaBatchSize` sampled tasks: φ'_k ← `innerIterations` steps of Adam (β1 = 0) or SGD from φ
 *   φ ← φ + ε · (mean_k φ'_k − φ), with ε annealed linearly from `metaStep` to `metaStepFinal`.
 * The tasks of a meta-batch run on replica threads (see `MetaTrainContext.workers`).
 */
export function reptile(options: ReptileOptions): InitLearner {
  const o = checkMetaLearningOptions(options, 'reptile');
  return {
    name: 'reptile',
    metaTrain: (ctx) =>
      metaTrainLoop(ctx, o, async (phi, { iteration, epsilon, tasks }) => {
        const sample = (k: number) => sampleTask(ctx.train, taskRng(ctx.rng, iteration, k), o).batches;
        const adapted = await tasks.run(metaBatchJobs(ctx, o, tasks, phi, sample));
        meanUpdate(
          phi,
          adapted.map((task) => task.params),
          epsilon,
          'towards',
        );
        return { innerLoss: mean(adapted.flatMap((task) => task.losses)) };
      }),
  };
}
