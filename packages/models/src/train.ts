import { tf } from '@reptile-bench/backend';
import { checkParams, type Model } from './model.ts';
import type { Optimizer } from './optimizers.ts';

/**
 * One gradient step on the batch (x, y): returns the new parameters and the loss before the step.
 * Disposes `params` (the caller hands them over) and every intermediate tensor.
 */
export function trainStep(
  model: Model,
  optimizer: Optimizer,
  params: tf.Tensor[],
  x: tf.Tensor,
  y: tf.Tensor,
): { params: tf.Tensor[]; loss: number } {
  return stepOnLoss(optimizer, params, (p) => model.loss(p, x, y));
}

/** One optimizer step on the gradient of `loss` at `params`, with `trainStep`'s ownership rules. */
export function stepOnLoss(
  optimizer: Optimizer,
  params: tf.Tensor[],
  loss: (params: tf.Tensor[]) => tf.Scalar,
): { params: tf.Tensor[]; loss: number } {
  const { value, grads } = tf.valueAndGrads((...p: tf.Tensor[]) => loss(p))(params);
  let next: tf.Tensor[];
  try {
    // params are disposed below, unread: the optimizer may write the new values into their buffers.
    next = optimizer.step(params, grads, { consumeParams: true });
  } finally {
    tf.dispose(grads);
  }
  const lossBefore = (value.dataSync() as Float32Array)[0] as number;
  value.dispose();
  tf.dispose(params);
  return { params: next, loss: lossBefore };
}

/** Deep copy of host parameters. */
export function cloneParams(params: Float32Array[]): Float32Array[] {
  return params.map((p) => p.slice());
}

/** Host parameters → tensors (float32, shapes from the model's specs). */
export function toTensors(model: Model, params: Float32Array[]): tf.Tensor[] {
  checkParams(
    model,
    params.map((p, i) => {
      const shape = model.paramSpecs[i]?.shape ?? [p.length];
      return p.length === shape.reduce((a, b) => a * b, 1) ? shape : [p.length];
    }),
  );
  return params.map((p, i) => tf.tensor(p, model.paramSpecs[i]?.shape, 'float32'));
}

/** Tensors → host parameters (copies; the tensors are not disposed). */
export function toArrays(tensors: tf.Tensor[]): Float32Array[] {
  return tensors.map((t) => {
    if (t.dtype !== 'float32') throw new Error(`toArrays: expected float32 tensors, got ${t.dtype}`);
    return (t.dataSync() as Float32Array).slice();
  });
}
