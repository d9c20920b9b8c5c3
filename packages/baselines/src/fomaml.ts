import type { InitLearner } from '@reptile-bench/evaluation';
import { requireInteger } from '@reptile-bench/evaluation';
import {
  checkReptileOptions,
  createTaskRunner,
  mean,
  metaBatchJobs,
  metaTrainLoop,
  type ReptileOptions,
  taskRng,
} from '@reptile-bench/reptile';
import { applyMeanUpdate, tailedTaskBatches } from './tail.ts';

export interface FomamlOptions extends ReptileOptions {
  /**
   * Mini-batches at the end of the inner loop, drawn from held-out examples, whose steps form the meta-update
   * (default 1: the classic first-order MAML gradient at the adapted parameters).
   */
  tailBatches?: number;
}

/**
 * First-order MAML as in the paper's code: each task's inner loop runs `innerIterations − tailBatches` steps on
 * its training examples, then `tailBatches` steps on held-out examples; the update Δ_i is the change those last
 * steps make (with SGD and one tail batch: −lr · ∇L_heldOut(φ'_i), the first-order meta-gradient). Then
 * φ ← φ + ε · mean_i Δ_i. Tasks run on replicas like Reptile's, with the same optimizer-state options.
 */
export function fomaml(options: FomamlOptions): InitLearner {
  const o = checkReptileOptions(options, 'fomaml');
  const tailBatches = requireInteger(options.tailBatches ?? 1, 'fomaml: tailBatches', 1);
  if (tailBatches > o.innerIterations)
    throw new RangeError(
      `fomaml: tailBatches (${tailBatches}) must not exceed innerIterations (${o.innerIterations})`,
    );
  return {
    name: 'fomaml',
    async metaTrain(ctx) {
      const runner = await createTaskRunner(ctx, o);
      try {
        return await metaTrainLoop(
          ctx,
          o,
          async (phi, { iteration, epsilon }) => {
            const batchesFor = (k: number) =>
              tailedTaskBatches(ctx.train, taskRng(ctx.rng, iteration, k), o, tailBatches);
            const results = await runner.run(
              metaBatchJobs(ctx, o, runner, phi, iteration, batchesFor, tailBatches),
            );
            applyMeanUpdate(
              phi,
              results.map((r) => r.params),
              epsilon,
            );
            // the tail steps' losses are measured on held-out examples at the adapted parameters
            const metaLoss = mean(results.flatMap((r) => r.losses.slice(-tailBatches)));
            return { innerLoss: mean(results.flatMap((r) => r.losses)), metrics: { meta_loss: metaLoss } };
          },
          runner.share,
        );
      } finally {
        await runner.close();
      }
    },
  };
}
