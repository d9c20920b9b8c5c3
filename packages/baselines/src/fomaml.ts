import { mean, requireInteger } from '@reptile-bench/core';
import {
  checkMetaLearningOptions,
  type InitLearner,
  type MetaLearningOptions,
  meanUpdate,
  metaBatchJobs,
  metaTrainLoop,
  taskRng,
} from '@reptile-bench/meta';
import { tailedTaskBatches } from './held-out-tail.ts';

export interface FomamlOptions extends MetaLearningOptions {
  /**
   * Mini-batches at the end of the inner loop, drawn from held-out examples, whose steps form the meta-update
   * (default 1: the classic first-order MAML gradient at the adapted parameters).
   */
  tailBatches?: number;
}

/**
 * First-order MAML as in the paper's code. Where Reptile moves φ towards the adapted parameters, each task here
 * contributes only the change made by its last `tailBatches` steps, taken on held-out examples:
 *   for each task k: `innerIterations − tailBatches` steps on its training examples, then `tailBatches` steps on
 *   held-out ones; Δ_k = the change those last steps make (SGD, one tail batch: −lr · ∇L_heldOut(φ'_k))
 *   φ ← φ + ε · mean_k Δ_k.
 * Tasks run on replicas like Reptile's, with the same optimizer-state options.
 */
export function fomaml(options: FomamlOptions): InitLearner {
  const o = checkMetaLearningOptions(options, 'fomaml');
  const tailBatches = requireInteger(options.tailBatches ?? 1, 'fomaml: tailBatches', 1);
  if (tailBatches > o.innerIterations)
    throw new RangeError(
      `fomaml: tailBatches (${tailBatches}) must not exceed innerIterations (${o.innerIterations})`,
    );
  return {
    name: 'fomaml',
    metaTrain: (ctx) =>
      metaTrainLoop(ctx, o, async (phi, { iteration, epsilon, tasks }) => {
        const sample = (k: number) =>
          tailedTaskBatches(ctx.train, taskRng(ctx.rng, iteration, k), o, tailBatches);
        const jobs = metaBatchJobs(ctx, o, tasks, phi, sample, { changeOverLast: tailBatches });
        const results = await tasks.run(jobs);
        meanUpdate(
          phi,
          results.map((r) => r.params),
          epsilon,
          'along',
        );
        // the tail steps' losses are measured on held-out examples at the adapted parameters
        const metaLoss = mean(results.flatMap((r) => r.losses.slice(-tailBatches)));
        return { innerLoss: mean(results.flatMap((r) => r.losses)), metrics: { meta_loss: metaLoss } };
      }),
  };
}
