import { initBackend, tf } from '@reptile-bench/backend';
import { requireInteger, requireNumber, requireOneOf } from '@reptile-bench/core';
import { type InitLearner, trainParameters } from '@reptile-bench/meta';
import {
  adam,
  checkDistillationOptions,
  checkParamArrays,
  distillStep,
  type Model,
  type Optimizer,
  sgd,
  toTensors,
} from '@reptile-bench/models';
import { fewShotInit, jointBatch, jointClassifier } from './sgd.ts';

export interface SgdDistillOptions {
  /** The student's training: steps, batch size, optimizer (Adam with β1 = 0.9) and learning rate. */
  iterations: number;
  batchSize: number;
  optimizer: 'adam' | 'sgd';
  learningRate: number;
  /** Softmax temperature T and the weight α of the soft term (Hinton et al. 2015). */
  temperature: number;
  alpha: number;
  /** The teacher: a classifier over the same training classes (joint pre-training's, from its own run). */
  teacher: { model: Model; params: Float32Array[] };
}

function checkOptions(options: SgdDistillOptions): SgdDistillOptions {
  const { temperature, alpha } = checkDistillationOptions(options, 'sgd-distill');
  const teacher = options.teacher;
  if (teacher === undefined || teacher.model === undefined)
    throw new Error('sgd-distill: a teacher (model and parameters) is required');
  checkParamArrays(teacher.model, teacher.params, 'sgd-distill: teacher parameters');
  return {
    iterations: requireInteger(options.iterations, 'sgd-distill: iterations', 1),
    batchSize: requireInteger(options.batchSize, 'sgd-distill: batchSize', 1),
    optimizer: requireOneOf(options.optimizer, 'sgd-distill: optimizer', ['adam', 'sgd']),
    learningRate: requireNumber(options.learningRate, 'sgd-distill: learningRate', true),
    temperature,
    alpha,
    teacher,
  };
}

/**
 * Born-again distillation for few-shot classification (Tian et al. 2020, "Rethinking few-shot image
 * classification: a good embedding is all you need?"): a student classifier over all training classes (the
 * context's model with one output per class: the teacher's architecture or a smaller one, e.g. fewer filters)
 * is trained from a fresh init on the same uniformly drawn batches as joint pre-training, with the loss
 * α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − α)·CE(y, z_s) against the teacher's logits for each batch;
 * then, as for SGD with joint pre-training, its body is kept and the N-way output layer starts at zero for the
 * evaluation's fine-tuning. The teacher is trained elsewhere (its own run) and handed over.
 */
export function sgdDistill(options: SgdDistillOptions): InitLearner {
  const o = checkOptions(options);
  return {
    name: 'sgd-distill',
    async metaTrain(ctx) {
      await initBackend(ctx.backend);
      const classes = ctx.trainClasses;
      if (ctx.model.task !== 'classification' || classes === undefined)
        throw new Error(
          'sgd-distill: distils a classifier over the training classes, so it needs classification tasks with their class set (Omniglot), not regression',
        );
      const student = jointClassifier(ctx.model, classes.numClasses);
      if (o.teacher.model.outputSize !== classes.numClasses)
        throw new Error(
          `sgd-distill: the teacher classifies ${o.teacher.model.outputSize} classes but there are ${classes.numClasses} training classes; ` +
            'the teacher must be the joint classifier of the same training split (same dataset settings and seed)',
        );
      const optimizer: Optimizer =
        o.optimizer === 'adam'
          ? adam({ learningRate: o.learningRate, beta1: 0.9 })
          : sgd({ learningRate: o.learningRate });
      const teacherParams = toTensors(o.teacher.model, o.teacher.params);
      try {
        const final = await trainParameters(ctx, {
          model: student,
          optimizer,
          slot: 'distill',
          iterations: o.iterations,
          // A fresh init of its own (born again), not the teacher's starting point.
          init: () => student.init(ctx.rng.derive('student-init')),
          step(i, params) {
            // Batches drawn as joint pre-training draws them, from a stream of the student's own.
            const batch = jointBatch(classes, o.batchSize, ctx.rng.derive('distill', i));
            const x = tf.tensor(batch.x, [batch.size, ...batch.inputShape]);
            const y = tf.tensor1d(batch.y as Int32Array, 'int32');
            const teacherLogits = tf.tidy(() => o.teacher.model.apply(teacherParams, x));
            try {
              return distillStep(student, optimizer, params, x, y, teacherLogits, o);
            } finally {
              tf.dispose([x, y, teacherLogits]);
            }
          },
          snapshot: (params) => ({ params: fewShotInit(ctx.model, student, params) }),
        });
        return {
          init: fewShotInit(ctx.model, student, final),
          classifier: { model: student, params: final },
        };
      } finally {
        tf.dispose(teacherParams);
      }
    },
  };
}
