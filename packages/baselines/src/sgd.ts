import { initBackend, tf } from '@reptile-bench/backend';
import { type Rng, requireInteger, requireNumber, requireOneOf } from '@reptile-bench/core';
import { type Batch, type ClassSet, exampleLength, miniBatches } from '@reptile-bench/datasets';
import { type InitLearner, type Learner, trainParameters } from '@reptile-bench/meta';
import {
  adam,
  batchTensors,
  createModel,
  type Model,
  type Optimizer,
  sgd,
  trainStep,
} from '@reptile-bench/models';

/**
 * Plain SGD from scratch: no meta-training at all; every test episode starts from a fresh random initialisation
 * (drawn from the episode's stream) and the evaluation's adaptation is the whole of its training.
 */
export function sgdFromScratch(): Learner {
  return {
    name: 'sgd-scratch',
    async metaTrain(ctx) {
      return { init: (episodeRng: Rng) => ctx.model.init(episodeRng) };
    },
  };
}

export interface SgdPretrainOptions {
  iterations: number;
  batchSize: number;
  /** Adam here is the standard one (β1 = 0.9): this is ordinary supervised training, not an inner loop. */
  optimizer: 'adam' | 'sgd';
  learningRate: number;
}

/** The same architecture with one output per training class (the joint classifier). */
export function jointClassifier(model: Model, classes: number): Model {
  const config = {
    ...model.config,
    ...(model.kind === 'conv4' ? { ways: classes } : { outputSize: classes }),
  };
  const wide = createModel(config);
  if (wide.outputSize !== classes || wide.paramSpecs.length !== model.paramSpecs.length)
    throw new Error(
      `sgd-pretrain: cannot build a ${classes}-way ${model.kind} from config ${JSON.stringify(model.config)}`,
    );
  return wide;
}

/** `size` training images drawn uniformly over (class, image) pairs, labelled with their global class index. */
export function jointBatch(classes: ClassSet, size: number, rng: Rng): Batch {
  const pixels = exampleLength(classes.imageShape);
  const x = new Float32Array(size * pixels);
  const y = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const c = rng.int(classes.numClasses);
    const image = rng.int(classes.count(c));
    if (classes.writeImage) classes.writeImage(c, image, x, i * pixels);
    else x.set(classes.image(c, image), i * pixels);
    y[i] = c;
  }
  return { x, y, size, inputShape: [...classes.imageShape] };
}

/**
 * The few-shot initialisation from a classifier trained over all training classes: its body, and a zero N-way
 * output layer (uniform predictions) where the class count changes; the parameters themselves when it is the
 * model (sine waves).
 */
export function fewShotInit(model: Model, trained: Model, params: Float32Array[]): Float32Array[] {
  if (trained === model) return params.map((p) => p.slice());
  return model.paramSpecs.map((spec, j) => {
    const same = trained.paramSpecs[j]!.shape.join('×') === spec.shape.join('×');
    return same ? params[j]!.slice() : new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
  });
}

function createPretrainOptimizer(o: SgdPretrainOptions): Optimizer {
  return o.optimizer === 'adam'
    ? adam({ learningRate: o.learningRate, beta1: 0.9 })
    : sgd({ learningRate: o.learningRate });
}

/**
 * Plain SGD with joint pre-training, then fine-tuning on each test task's support set (done by the evaluation).
 *
 * - Classification with `ctx.trainClasses`: trains one classifier over all training classes (e.g. 4800 rotated
 *   Omniglot characters) on batches drawn uniformly from them, then keeps its body and starts the N-way output
 *   layer at zero (uniform predictions) for fine-tuning.
 * - Otherwise (sine waves, or tasks without a class set): trains the model itself on a freshly sampled task each
 *   step, which minimises the expected loss over the task distribution (the paper's "joint training").
 */
export function sgdPretrain(options: SgdPretrainOptions): InitLearner {
  const o: SgdPretrainOptions = {
    iterations: requireInteger(options.iterations, 'sgd-pretrain: iterations', 1),
    batchSize: requireInteger(options.batchSize, 'sgd-pretrain: batchSize', 1),
    optimizer: requireOneOf(options.optimizer, 'sgd-pretrain: optimizer', ['adam', 'sgd']),
    learningRate: requireNumber(options.learningRate, 'sgd-pretrain: learningRate', true),
  };
  return {
    name: 'sgd-pretrain',
    async metaTrain(ctx) {
      await initBackend(ctx.backend);
      const classes = ctx.model.task === 'classification' ? ctx.trainClasses : undefined;
      const trained = classes === undefined ? ctx.model : jointClassifier(ctx.model, classes.numClasses);
      // The fine-tuning start: the trained body; a zero output layer when the classes change.
      const transfer = (params: Float32Array[]): Float32Array[] => fewShotInit(ctx.model, trained, params);
      const batchAt = (i: number): Batch => {
        const rng = ctx.rng.derive('pretrain', i);
        if (classes !== undefined) return jointBatch(classes, o.batchSize, rng);
        const episode = ctx.train.sample(rng.derive('task'));
        return miniBatches(episode.support, o.batchSize, 1, { replacement: false }, rng.derive('batch'))[0]!;
      };

      const optimizer = createPretrainOptimizer(o);
      const final = await trainParameters(ctx, {
        model: trained,
        optimizer,
        slot: 'pretrain',
        iterations: o.iterations,
        init: () => trained.init(ctx.rng.derive('init')),
        step(i, params) {
          const { x, y } = batchTensors(batchAt(i));
          try {
            return trainStep(trained, optimizer, params, x, y);
          } finally {
            tf.dispose([x, y]);
          }
        },
        snapshot: (params) => ({ params: transfer(params) }),
      });
      // The joint classifier itself too: a distillation teacher for later runs.
      return {
        init: transfer(final),
        ...(trained === ctx.model ? {} : { classifier: { model: trained, params: final } }),
      };
    },
  };
}
