import { tf } from '@reptile-bench/backend';
import { type Model, type Optimizer, toArrays, toTensors } from '@reptile-bench/models';
import type { MetaTrainContext, TrainingSnapshot } from './learner.ts';
import { checkDivergence, runTrainingLoop } from './loop.ts';

/** One model trained by one optimizer: what `trainParameters` needs besides the context. */
export interface ParameterTraining {
  model: Model;
  optimizer: Optimizer;
  /** The name the optimizer state is checkpointed under. */
  slot: string;
  iterations: number;
  /** The parameters a fresh run starts from (a resumed run starts from its checkpoint). */
  init(): Float32Array[];
  /** Iteration `i`: its batch, one step from `params` (handed over), the new parameters and the loss before it. */
  step(i: number, params: tf.Tensor[]): { params: tf.Tensor[]; loss: number };
  /** What the learning curve evaluates (default: the parameters themselves). */
  snapshot?(params: Float32Array[]): TrainingSnapshot;
}

/**
 * Ordinary training of one parameter set through `runTrainingLoop` (metrics, learning curves, checkpoints with the
 * optimizer state, bit-identical resume, divergence checks): joint pre-training, distillation and the text
 * classifiers all train this way. Returns the final parameters; disposes the optimizer.
 */
export async function trainParameters(
  ctx: Pick<MetaTrainContext, 'validate' | 'checkpoint' | 'signal' | 'onMetrics' | 'maxLoss'>,
  t: ParameterTraining,
): Promise<Float32Array[]> {
  const resume = ctx.checkpoint?.resume;
  let params = toTensors(t.model, resume ? resume.params : t.init());
  try {
    const state = resume?.optimizers[t.slot];
    if (state) t.optimizer.importState(state);
    await runTrainingLoop(ctx, {
      iterations: t.iterations,
      async step(i) {
        const next = t.step(i, params);
        params = next.params;
        return { loss: next.loss };
      },
      snapshot: async () => (t.snapshot ? t.snapshot(toArrays(params)) : { params: toArrays(params) }),
      state: async (iteration) => ({
        iteration,
        params: toArrays(params),
        optimizers: { [t.slot]: t.optimizer.exportState() },
      }),
    });
    const final = toArrays(params);
    // Parameters are tensors here: checked once at the end rather than copied out every step.
    checkDivergence(t.iterations - 1, {}, final);
    return final;
  } finally {
    tf.dispose(params);
    t.optimizer.dispose();
  }
}
