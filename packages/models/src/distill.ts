import { ops, tf } from '@reptile-bench/backend';
import { checkClassLabels } from './losses.ts';
import { checkParams, type Model } from './model.ts';
import type { Optimizer } from './optimizers.ts';
import { stepOnLoss } from './train.ts';

/** The two settings of knowledge distillation (Hinton, Vinyals & Dean 2015). */
export interface DistillationOptions {
  /** Softmax temperature T of both teacher and student in the soft term (> 0; 1 is the plain softmax). */
  temperature: number;
  /** Weight α of the soft term; 1 − α weighs the cross-entropy with the labels. In [0, 1]. */
  alpha: number;
}

/** Checks T and α, naming `where` and what is allowed. */
export function checkDistillationOptions(
  o: DistillationOptions,
  where = 'distillation',
): DistillationOptions {
  const { temperature, alpha } = o ?? ({} as DistillationOptions);
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || !(temperature > 0))
    throw new RangeError(
      `${where}: temperature must be a finite number > 0 (1 is the plain softmax; Hinton et al. use 1–20), got ${JSON.stringify(temperature)}`,
    );
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1))
    throw new RangeError(
      `${where}: alpha (the weight of the soft targets) must be a number in [0, 1], got ${JSON.stringify(alpha)}`,
    );
  return { temperature, alpha };
}

/** The teacher's soft targets softmax(z/T) [batch, classes]: the plain softmax at T = 1, uniform as T → ∞. */
export function softTargets(teacherLogits: tf.Tensor, temperature: number): tf.Tensor2D {
  checkDistillationOptions({ temperature, alpha: 1 }, 'softTargets');
  return tf.tidy(() => tf.softmax(tf.div(teacherLogits, temperature))) as tf.Tensor2D;
}

/**
 * The distillation loss of Hinton et al., averaged over the batch:
 *   α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − α)·CE(y, z_s)
 * T² keeps the soft term's gradient, T·(softmax(z_s/T) − softmax(z_t/T)) per logit, on the scale of the hard
 * term's whatever T is; at large T it tends to (z_s − z_t − mean)/K (matching the logits, K classes). The
 * teacher's logits are constants: compute them outside the function that is differentiated. `labels` (int32 [batch]) may be omitted when
 * α = 1.
 */
export function distillationLoss(
  studentLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  labels: tf.Tensor | undefined,
  options: DistillationOptions,
): tf.Scalar {
  const { temperature, alpha } = checkDistillationOptions(options, 'distillationLoss');
  if (
    studentLogits.rank !== 2 ||
    teacherLogits.rank !== 2 ||
    studentLogits.shape.join() !== teacherLogits.shape.join()
  )
    throw new Error(
      `distillationLoss: student and teacher logits must both be [batch, classes], got [${studentLogits.shape}] and [${teacherLogits.shape}]`,
    );
  const batch = studentLogits.shape[0] as number;
  if (alpha < 1) {
    if (labels === undefined)
      throw new Error('distillationLoss: labels are needed when alpha < 1 (the hard term weighs 1 − alpha)');
    checkClassLabels(labels, batch);
  }
  return tf.tidy(() => {
    // Teacher logits come from outside the function being differentiated, so no gradient reaches them.
    const targets = softTargets(teacherLogits, temperature);
    const logTargets = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const logStudent = tf.logSoftmax(tf.div(studentLogits, temperature));
    // KL(p ‖ q) = Σ p (log p − log q), per example, then the batch mean
    const kl = tf.div(tf.sum(tf.mul(targets, tf.sub(logTargets, logStudent))), batch);
    const soft = tf.mul(kl, alpha * temperature * temperature);
    if (alpha === 1) return soft as tf.Scalar;
    const hard = ops.softmaxCrossEntropy(studentLogits, labels as tf.Tensor);
    return (alpha === 0 ? hard : tf.add(soft, tf.mul(hard, 1 - alpha))) as tf.Scalar;
  });
}

/**
 * One gradient step of `student` on the distillation loss against the teacher's logits for the same batch:
 * returns the new parameters and the loss before the step. Disposes `params` (as `trainStep` does), never
 * `teacherLogits`.
 */
export function distillStep(
  student: Model,
  optimizer: Optimizer,
  params: tf.Tensor[],
  x: tf.Tensor,
  labels: tf.Tensor | undefined,
  teacherLogits: tf.Tensor,
  options: DistillationOptions,
): { params: tf.Tensor[]; loss: number } {
  checkParams(
    student,
    params.map((p) => p.shape),
  );
  return stepOnLoss(optimizer, params, (p) =>
    distillationLoss(student.apply(p, x), teacherLogits, labels, options),
  );
}
