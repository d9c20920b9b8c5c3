import { tf } from '@reptile-bench/backend';
import { mean } from '@reptile-bench/core';
import type { Batch } from '@reptile-bench/datasets';
import {
  checkMetaLearningOptions,
  type InitLearner,
  type MetaLearningOptions,
  meanUpdate,
  metaTrainLoop,
  taskRng,
} from '@reptile-bench/meta';
import { batchTensors, type Model, toArrays, toTensors } from '@reptile-bench/models';
import { tailedTaskBatches } from './held-out-tail.ts';

/**
 * Second-order MAML needs every gradient on the path to be differentiable again. It is for the MLP on regression
 * tasks: tfjs registers no gradient for Conv2DBackpropFilter (so a Conv4's inner gradient cannot be differentiated)
 * and its logSoftmax saves its output for the backward pass, which drops the softmax's second-order term.
 */
export function checkSecondOrderModel(model: Model, where: string): void {
  if (model.kind !== 'mlp' || model.task !== 'regression')
    throw new RangeError(
      `${where}: second-order MAML supports the MLP on regression tasks, got a ${model.kind} for ${model.task} ` +
        '(tfjs cannot differentiate the conv filter gradient or the softmax loss twice); use fomaml instead',
    );
}

/**
 * MAML's meta-gradient for one task, with second-order terms: the inner loop (one SGD step per batch but the
 * last) is unrolled on tfjs's tape and differentiated through, so the result is
 * ∇_φ L_last(U(φ)) with U(φ) the adapted parameters. Returns that gradient (caller disposes), the meta-loss
 * L_last(U(φ)) and the inner steps' training losses.
 */
export function mamlGradient(
  model: Model,
  phi: tf.Tensor[],
  batches: readonly Batch[],
  learningRate: number,
): { gradient: tf.Tensor[]; loss: number; innerLosses: number[] } {
  if (batches.length === 0) throw new RangeError('mamlGradient: needs at least the held-out batch');
  checkSecondOrderModel(model, 'mamlGradient');
  const tensors = batches.map((b) => batchTensors(b));
  const innerLosses: number[] = [];
  try {
    const metaLoss = (...start: tf.Tensor[]): tf.Scalar => {
      let params = start;
      for (const { x, y } of tensors.slice(0, -1)) {
        // tf.valueAndGrads inside an outer gradient records the backward pass on the outer tape.
        const { value, grads } = tf.valueAndGrads((...p: tf.Tensor[]) => model.loss(p, x, y))(params);
        innerLosses.push(value.dataSync()[0]!);
        params = params.map((p, j) => tf.sub(p, tf.mul(grads[j]!, learningRate)));
      }
      const last = tensors.at(-1)!;
      return model.loss(params, last.x, last.y);
    };
    const { value, grads } = tf.valueAndGrads(metaLoss)(phi);
    const loss = value.dataSync()[0]!;
    value.dispose();
    return { gradient: grads, loss, innerLosses };
  } finally {
    for (const { x, y } of tensors) tf.dispose([x, y]);
  }
}

/**
 * MAML (Finn et al., 2017) with second-order gradients through tfjs's higher-order differentiation. Each task's
 * inner loop runs `innerIterations − 1` SGD steps on its training examples and measures the loss on a held-out
 * batch (as first-order MAML here); Δ_i = −lr · ∇_φ L_heldOut(U_i(φ)) and φ ← φ + ε · mean_i Δ_i, the same
 * update form as `fomaml` with SGD, so the two differ only by the second-order terms. The inner loop must be SGD
 * (it is differentiated through); tasks run in this thread.
 */
export function maml(options: MetaLearningOptions): InitLearner {
  const o = checkMetaLearningOptions(options, 'maml');
  if (o.innerOptimizer !== 'sgd')
    throw new RangeError(
      `maml: innerOptimizer must be 'sgd', got '${o.innerOptimizer}': second-order MAML differentiates through ` +
        'the inner loop, which is written for plain gradient steps (use fomaml for an Adam inner loop)',
    );
  return {
    name: 'maml',
    async metaTrain(ctx) {
      checkSecondOrderModel(ctx.model, 'maml');
      const loop = metaTrainLoop(
        ctx,
        o,
        async (phi, { iteration, epsilon }) => {
          const updates: Float32Array[][] = [];
          const losses: number[] = [];
          const metaLosses: number[] = [];
          for (let k = 0; k < o.metaBatchSize; k++) {
            const batches = tailedTaskBatches(ctx.train, taskRng(ctx.rng, iteration, k), o, 1);
            const start = toTensors(ctx.model, phi);
            const { gradient, loss, innerLosses } = mamlGradient(
              ctx.model,
              start,
              batches,
              o.innerLearningRate,
            );
            const update = tf.tidy(() => gradient.map((g) => tf.mul(g, -o.innerLearningRate)));
            updates.push(toArrays(update));
            tf.dispose([...start, ...gradient, ...update]);
            losses.push(...innerLosses, loss);
            metaLosses.push(loss);
          }
          meanUpdate(phi, updates, epsilon, 'along');
          return { innerLoss: mean(losses), metrics: { meta_loss: mean(metaLosses) } };
        },
        { inThread: true },
      );
      // The inner loop is plain SGD, differentiated through: there is no optimizer state to carry.
      return { init: (await loop).init };
    },
  };
}
