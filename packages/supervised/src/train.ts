import { type BackendName, initBackend, tf } from '@reptile-bench/backend';
import { type Rng, requireInteger, requireNumber, requireOneOf } from '@reptile-bench/core';
import { type Batch, exampleLength, stratifiedSubset, UNKNOWN_ID } from '@reptile-bench/datasets';
import { type MetaTrainContext, trainParameters } from '@reptile-bench/meta';
import {
  adam,
  checkDistillationOptions,
  checkParamArrays,
  distillStep,
  logitsOf,
  type Model,
  type Optimizer,
  sgd,
  trainStep,
} from '@reptile-bench/models';

/** A trained classifier that teaches: its model and parameters. */
export interface Teacher {
  model: Model;
  params: Float32Array[];
}

export interface SupervisedOptions {
  iterations: number;
  batchSize: number;
  /** Adam is the standard one (β1 = 0.9): this is ordinary supervised training. */
  optimizer: 'adam' | 'sgd';
  learningRate: number;
  /**
   * Share of the training examples whose labels the learner sees (default 1), stratified by class and nested
   * (the 10% are among the 30%), drawn from the context's stream `labels`. Without a teacher only those
   * examples are trained on; with one, every example is, the teacher labelling the rest.
   */
  labelFraction?: number;
  /**
   * Word dropout (Iyyer et al. 2015): each token of a training batch is replaced by `<unk>` with this
   * probability (default 0), drawn per batch from the stream, so training stays reproducible and resumable.
   * For token-id inputs only.
   */
  tokenDropout?: number;
  /** Distillation from a teacher (Hinton et al. 2015): the loss α·T²·KL(teacher ‖ student) + (1 − α)·CE. */
  distill?: { teacher: Teacher; temperature: number; alpha: number };
}

/** Where training reports and saves; the parts of a meta-training context a plain training loop uses. */
export type SupervisedContext = Pick<
  MetaTrainContext,
  'validate' | 'checkpoint' | 'signal' | 'onMetrics' | 'maxLoss'
> & {
  model: Model;
  /** The labelled training set (all of it; `labelFraction` decides which labels are seen). */
  train: Batch;
  rng: Rng;
  backend: BackendName;
};

export interface SupervisedResult {
  params: Float32Array[];
  /** Training examples whose labels were used, and examples trained on in all. */
  labelled: number;
  examples: number;
  /** With a teacher: the share of the unlabelled examples it labelled correctly (NaN when there are none). */
  teacherAgreement?: number;
}

/** The settings checked, with their defaults; errors name the field and the value. */
export function checkSupervisedOptions(
  o: SupervisedOptions,
  where = 'supervised',
): Required<Omit<SupervisedOptions, 'distill'>> & Pick<SupervisedOptions, 'distill'> {
  const labelFraction = o.labelFraction ?? 1;
  if (typeof labelFraction !== 'number' || !(labelFraction > 0 && labelFraction <= 1))
    throw new RangeError(`${where}: labelFraction must be in (0, 1], got ${JSON.stringify(labelFraction)}`);
  const tokenDropout = o.tokenDropout ?? 0;
  if (typeof tokenDropout !== 'number' || !(tokenDropout >= 0 && tokenDropout < 1))
    throw new RangeError(`${where}: tokenDropout must be in [0, 1), got ${JSON.stringify(tokenDropout)}`);
  if (o.distill) checkDistillationOptions(o.distill, where);
  return {
    iterations: requireInteger(o.iterations, `${where}: iterations`, 1),
    batchSize: requireInteger(o.batchSize, `${where}: batchSize`, 1),
    optimizer: requireOneOf(o.optimizer, `${where}: optimizer`, ['adam', 'sgd']),
    learningRate: requireNumber(o.learningRate, `${where}: learningRate`, true),
    labelFraction,
    tokenDropout,
    ...(o.distill ? { distill: o.distill } : {}),
  };
}

/**
 * Word dropout in place: each token id of `x` (padding and `<unk>` aside) becomes `<unk>` with probability `p`,
 * one draw of `rng` per token, in order.
 */
export function dropTokens(x: Float32Array, p: number, rng: Rng): Float32Array {
  for (let k = 0; k < x.length; k++) if ((x[k] as number) > UNKNOWN_ID && rng.float() < p) x[k] = UNKNOWN_ID;
  return x;
}

function argmaxRows(values: Float32Array, columns: number): Int32Array {
  const rows = values.length / columns;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < columns; c++)
      if ((values[r * columns + c] as number) > (values[r * columns + best] as number)) best = c;
    out[r] = best;
  }
  return out;
}

/**
 * Example indices of batch `i`: the pool is dealt out in shuffled passes (pass p shuffled by the stream
 * `pass/p`), a batch straddling two passes taking its tail from the next; computed from `i` alone, so a resumed
 * run draws exactly the batches it would have.
 */
function batchIndices(
  pool: readonly number[],
  batchSize: number,
  i: number,
  rng: Rng,
  cache: Map<number, number[]>,
): number[] {
  const n = pool.length;
  const out: number[] = [];
  for (let j = 0; j < batchSize; j++) {
    const position = i * batchSize + j;
    const pass = Math.floor(position / n);
    let order = cache.get(pass);
    if (order === undefined) {
      order = rng.derive('pass', pass).shuffle([...pool]);
      cache.set(pass, order);
      for (const key of cache.keys()) if (key < pass - 1) cache.delete(key);
    }
    out.push(order[position % n] as number);
  }
  return out;
}

function createOptimizer(o: { optimizer: 'adam' | 'sgd'; learningRate: number }): Optimizer {
  return o.optimizer === 'adam'
    ? adam({ learningRate: o.learningRate, beta1: 0.9 })
    : sgd({ learningRate: o.learningRate });
}

/**
 * Trains `ctx.model` from `model.init(rng.derive('init'))` for `iterations` steps on batches of the training set:
 * on the labelled share with the cross-entropy, or, with a teacher, on every example with the distillation loss
 * against the teacher's logits (computed once), the teacher's predicted class standing in for the labels not
 * seen. Uses the shared training loop: metrics (`loss`), learning curves, divergence checks and checkpoints, so
 * an interrupted run resumes with the same numbers.
 */
export async function trainClassifier(
  ctx: SupervisedContext,
  options: SupervisedOptions,
): Promise<SupervisedResult> {
  const o = checkSupervisedOptions(options);
  const { model, train } = ctx;
  if (model.task !== 'classification' || !(train.y instanceof Int32Array))
    throw new Error(
      `supervised: trains classifiers on integer labels; got a ${model.kind} for ${model.task}`,
    );
  if (o.distill && o.distill.teacher.model.outputSize !== model.outputSize)
    throw new Error(
      `supervised: the teacher has ${o.distill.teacher.model.outputSize} classes, the student ${model.outputSize}; they must classify the same classes`,
    );
  await initBackend(ctx.backend);
  const labels = train.y;
  const seen =
    o.labelFraction === 1
      ? new Uint8Array(train.size).fill(1)
      : stratifiedSubset(labels, o.labelFraction, ctx.rng.derive('labels'));
  const labelled = seen.reduce((n, v) => n + v, 0);

  // With a teacher: its logits for every training example, and the labels training uses.
  let teacherLogits: Float32Array | undefined;
  let targets = labels;
  let teacherAgreement: number | undefined;
  if (o.distill) {
    const { teacher } = o.distill;
    checkParamArrays(teacher.model, teacher.params, 'supervised: teacher parameters');
    teacherLogits = logitsOf(teacher.model, teacher.params, train);
    const predicted = argmaxRows(teacherLogits, model.outputSize);
    targets = Int32Array.from(labels, (y, i) => (seen[i] ? y : (predicted[i] as number)));
    let right = 0;
    let unseen = 0;
    labels.forEach((y, i) => {
      if (seen[i]) return;
      unseen++;
      if (predicted[i] === y) right++;
    });
    teacherAgreement = unseen > 0 ? right / unseen : Number.NaN;
  }
  const pool = [...Array(train.size).keys()].filter((i) => o.distill !== undefined || seen[i] === 1);
  const length = exampleLength(train.inputShape);
  const classes = model.outputSize;
  const passes = new Map<number, number[]>();
  const batchAt = (i: number) => {
    const indices = batchIndices(pool, o.batchSize, i, ctx.rng.derive('batches'), passes);
    const x = new Float32Array(indices.length * length);
    const y = new Int32Array(indices.length);
    const soft = teacherLogits ? new Float32Array(indices.length * classes) : undefined;
    indices.forEach((index, k) => {
      x.set(train.x.subarray(index * length, (index + 1) * length), k * length);
      y[k] = targets[index] as number;
      soft?.set(
        (teacherLogits as Float32Array).subarray(index * classes, (index + 1) * classes),
        k * classes,
      );
    });
    if (o.tokenDropout > 0) dropTokens(x, o.tokenDropout, ctx.rng.derive('token-dropout', i));
    return { x, y, soft, size: indices.length };
  };

  const optimizer = createOptimizer(o);
  const params = await trainParameters(ctx, {
    model,
    optimizer,
    slot: 'train',
    iterations: o.iterations,
    init: () => model.init(ctx.rng.derive('init')),
    step(i, params) {
      const b = batchAt(i);
      const x = tf.tensor(b.x, [b.size, ...train.inputShape]);
      const y = tf.tensor1d(b.y, 'int32');
      const soft = b.soft ? tf.tensor2d(b.soft, [b.size, classes]) : undefined;
      try {
        return o.distill && soft
          ? distillStep(model, optimizer, params, x, y, soft, o.distill)
          : trainStep(model, optimizer, params, x, y);
      } finally {
        tf.dispose([x, y, ...(soft ? [soft] : [])]);
      }
    },
  });
  return {
    params,
    labelled,
    examples: pool.length,
    ...(teacherAgreement === undefined ? {} : { teacherAgreement }),
  };
}
