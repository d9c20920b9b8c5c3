import { z } from 'zod';

/**
 * The resolved shape of one run. Field names follow the Reptile paper's code (meta_iters, meta_batch, meta_step,
 * inner_iters, inner_batch, eval_iters, eval_batch, ...). Every part with variants (dataset, model, algorithm) is a
 * set of strict schemas selected by `name`, so a typo is an error that lists the fields that exist.
 */

const count = z.int().positive();
const rate = z.number().positive();
/** A share strictly between 0 and 1. */
const share = z.number().gt(0).lt(1);

export const datasetSchemas = {
  omniglot: z.strictObject({
    name: z.literal('omniglot'),
    /** Classes per task (N-way). */
    ways: count,
    /** Support images per class at evaluation (K-shot). */
    shots: count,
    /** Images per class in a meta-training task (the paper uses 10 whatever K is). */
    train_shots: count,
    /** Query images per class at evaluation (the paper: 1). */
    query_shots: count.default(1),
    /** 'paper': both archives merged and split by the seed; 'official': background / evaluation. */
    split: z.enum(['paper', 'official']).default('paper'),
    train_characters: count.default(1200),
    /** Rotate training characters by 0/90/180/270 degrees into new classes. */
    augment: z.boolean().default(true),
    /**
     * How the 105×105 images shrink to 28×28: 'area' averages the ink coverage (gray levels); 'nearest' keeps the
     * pixel under each output pixel's centre (binary, what the paper's code gets from Pillow for 1-bit images).
     */
    resize: z.enum(['area', 'nearest']).default('area'),
    /** The value of a fully inked pixel: 1 (paper 0), or 0 (paper 1, as the paper's code reads the PNGs). */
    ink: z.union([z.literal(1), z.literal(0)]).default(1),
  }),
  /** Single-task image classification (trained with local-sgd): the official train/test split. */
  'fashion-mnist': z.strictObject({
    name: z.literal('fashion-mnist'),
    /** Training images held out, chosen by the run's seed, as a validation set (learning curves only). */
    validation: z.int().min(0).default(5000),
  }),
  cifar10: z.strictObject({
    name: z.literal('cifar10'),
    validation: z.int().min(0).default(5000),
  }),
  sine: z.strictObject({
    name: z.literal('sine'),
    /** Points in the support set at evaluation. */
    shots: count,
    /** Points in a meta-training task; defaults to `shots`. */
    train_shots: count.optional(),
    /** Points in the query set the error is measured on. */
    query_shots: count.default(50),
  }),
  /**
   * The UCI Sentiment Labelled Sentences (Kotzias et al. 2015): 3,000 review sentences, positive or negative.
   * Deduplicated, then each (source, label) group split by the run's seed; the vocabulary comes from the
   * training part. Text runs are trained once and scored on the test part (see `eval` for text).
   */
  sentiment: z.strictObject({
    name: z.literal('sentiment'),
    /** Shares held out for validation and for testing. */
    validation: share.default(0.15),
    test: share.default(0.15),
    /** Tokens kept per sentence. */
    max_length: count.default(48),
    /** Training tokens seen fewer times than this map to <unk>. */
    min_count: count.default(2),
  }),
} as const;

export const modelSchemas = {
  conv4: z.strictObject({
    name: z.literal('conv4'),
    filters: count.default(64),
  }),
  mlp: z.strictObject({
    name: z.literal('mlp'),
    hidden: z.array(count).min(1).default([64, 64]),
    activation: z.enum(['tanh', 'relu']).default('tanh'),
  }),
  /** Embedding → LSTM (→ a second LSTM reading backwards) → dense: the text classifier. */
  lstm: z.strictObject({
    name: z.literal('lstm'),
    embedding: count.default(64),
    hidden: count.default(64),
    bidirectional: z.boolean().default(false),
    /** What the head reads: the last hidden state, or each unit's maximum over the sentence. */
    pool: z.enum(['last', 'max']).default('last'),
  }),
  /** Image classifier: 3×3 stride-2 convolutions with ReLU, a ReLU hidden layer (0: none), the output layer. */
  cnn: z.strictObject({
    name: z.literal('cnn'),
    filters: z.array(count).min(1).default([16, 32]),
    hidden: z.int().min(0).default(64),
  }),
} as const;

const optimizer = z.enum(['adam', 'sgd']);

const metaHyperparameters = {
  meta_iters: count,
  meta_batch: count,
  /** Outer step size, annealed linearly to `meta_step_final` over `meta_iters`. */
  meta_step: rate.default(1),
  meta_step_final: z.number().min(0).default(0),
  inner_iters: count,
  inner_batch: count,
  learning_rate: rate,
  optimizer: optimizer.default('adam'),
  /** Start each task from a fresh optimizer state instead of carrying it across tasks as the paper does. */
  reset_optimizer_state: z.boolean().default(false),
  /**
   * Carry one inner optimizer state through all tasks in sequence, exactly as the paper's code does (the tasks of
   * a meta-batch then run one after another in one thread). Default false: task slot k of every meta-batch
   * carries its own state, so a meta-batch's tasks run in parallel on replicas.
   */
  shared_optimizer_state: z.boolean().default(false),
  /** Draw inner mini-batches with replacement. */
  replacement: z.boolean().default(false),
};

/** Plain supervised training on a labelled training set (text runs); the fields of its teacher runs too. */
const supervisedHyperparameters = {
  train_iters: count,
  train_batch: count,
  learning_rate: rate,
  optimizer: optimizer.default('adam'),
  /** Share of the training labels used (stratified, nested across shares); text runs only. */
  label_fraction: z.number().gt(0).max(1).default(1),
  /** Word dropout: the probability of replacing each training token by <unk>; text runs only. */
  token_dropout: z.number().min(0).lt(1).default(0),
};

export const algorithmSchemas = {
  reptile: z.strictObject({ name: z.literal('reptile'), ...metaHyperparameters }),
  fomaml: z.strictObject({
    name: z.literal('fomaml'),
    ...metaHyperparameters,
    /** Mini-batches at the end of the inner loop whose gradient forms the meta-gradient. */
    tail_batches: count.default(1),
  }),
  maml: z.strictObject({ name: z.literal('maml'), ...metaHyperparameters }),
  'sgd-scratch': z.strictObject({ name: z.literal('sgd-scratch') }),
  'sgd-pretrain': z.strictObject({
    name: z.literal('sgd-pretrain'),
    train_iters: count,
    train_batch: count,
    learning_rate: rate,
    optimizer: optimizer.default('adam'),
  }),
  /** Text runs: the classifier trained on (a share of) the labelled training sentences. */
  supervised: z.strictObject({ name: z.literal('supervised'), ...supervisedHyperparameters }),
  /**
   * A student trained on the teacher's soft targets (Hinton et al. 2015): α·T²·KL(teacher ‖ student) +
   * (1 − α)·CE. The teacher is a run of its own, derived from this config (see `teacher`) and trained first, or
   * reused when it has finished; on Omniglot it is the sgd-pretrain run's joint classifier and the student is
   * then fine-tuned like sgd-pretrain (Tian et al. 2020), on text the supervised run's classifier, which labels
   * the sentences whose labels the student does not see.
   */
  'sgd-distill': z.strictObject({
    name: z.literal('sgd-distill'),
    ...supervisedHyperparameters,
    /** Softmax temperature of the soft term. */
    temperature: rate.default(4),
    /** Weight of the soft term; 1 − alpha weighs the cross-entropy with the labels. */
    alpha: z.number().min(0).max(1).default(0.9),
    /**
     * The teacher run: this run's config with `model` fields replaced by these (e.g. more filters) and trained by
     * sgd-pretrain (Omniglot) or supervised (text, on all labels) with these hyperparameters, each defaulting to
     * this run's. Runs that resolve to the same teacher config share one teacher run.
     */
    teacher: z
      .strictObject({
        model: z.record(z.string(), z.unknown()).default({}),
        train_iters: count.optional(),
        train_batch: count.optional(),
        learning_rate: rate.optional(),
        optimizer: optimizer.optional(),
        token_dropout: z.number().min(0).lt(1).optional(),
      })
      .default({ model: {} }),
  }),
  /**
   * Single-task training with local SGD: `replicas` copies train with SGD (momentum) on their own batch streams and
   * are averaged every `sync_every` steps and at the end ("end": only then). One replica is plain SGD.
   */
  'local-sgd': z.strictObject({
    name: z.literal('local-sgd'),
    replicas: count.default(1),
    sync_every: z.union([count, z.literal('end')]).default(1),
    /** Mini-batch of each replica. */
    batch: count,
    learning_rate: rate,
    /** "linear": learning_rate × replicas × batch / lr_base_batch (default lr_base_batch: batch). */
    lr_scaling: z.enum(['none', 'linear']).default('none'),
    lr_base_batch: count.optional(),
    momentum: z.number().min(0).lt(1).default(0),
    /** The momentum buffers at an averaging: averaged, zeroed, or kept by each replica. */
    momentum_sync: z.enum(['average', 'reset', 'local']).default('average'),
    /** Examples (all replicas together) over which the learning rate rises linearly to its value. */
    warmup_examples: z.int().min(0).default(0),
    /** Examples (all replicas together) after which the learning rate is multiplied by lr_decay_factor (0: never). */
    lr_decay_examples: z.int().min(0).default(0),
    lr_decay_factor: z.number().positive().max(1).default(0.1),
    /** Examples processed by all replicas together (steps × replicas × batch). */
    examples: count,
  }),
} as const;

export const evalModes = ['non-transductive', 'transductive'] as const;
export type EvalMode = (typeof evalModes)[number];

export const evalSchema = z.strictObject({
  /** Test episodes (the paper: 1000 or more). */
  episodes: count,
  eval_iters: z.int().min(0),
  eval_batch: count,
  optimizer: optimizer.default('adam'),
  learning_rate: rate,
  replacement: z.boolean().default(false),
  /**
   * Where each episode's adaptation starts its optimizer: 'fresh' (moments zero) or 'trained', the inner
   * optimizer's state at the end of meta-training (Adam's moments and step count), as the paper's code evaluates:
   * the shared state, or task slot 0's when each slot carries its own. 'trained' needs an algorithm whose inner
   * state is carried (reptile or fomaml without reset_optimizer_state) and the same optimizer for evaluation.
   */
  optimizer_state: z.enum(['fresh', 'trained']).default('fresh'),
  modes: z
    .array(z.enum(evalModes))
    .min(1)
    .default([...evalModes]),
  /** Evaluate on `val_episodes` test episodes every this many meta-iterations for learning curves (0: never). */
  every: z.int().min(0).default(0),
  val_episodes: count.default(20),
});

/** The evaluation of single-task classifiers: test-set accuracy of the averaged model, as it trains and at the end. */
export const testEvalSchema = z.strictObject({
  /** Examples processed (all replicas together) between two evaluations on the test and validation sets. */
  every_examples: count,
});

/** Datasets of single-task classification: one model trained on a training set, tested on a test set. */
export const classificationDatasets = ['fashion-mnist', 'cifar10'] as const;

/**
 * `eval` of text runs: they are scored once on the test part of the split (accuracy, inference time); the
 * validation part gives learning curves and the accuracy that selects settings.
 */
export const textEvalSchema = z.strictObject({
  /** Validation accuracy every this many iterations for learning curves (0: only at the end). */
  every: z.int().min(0).default(0),
  /** Test sentences timed one by one for the inference time per sentence. */
  timing_sentences: count.default(200),
});

export const backends = ['wasm', 'cpu', 'tensorflow'] as const;
export type BackendChoice = (typeof backends)[number];

/** Top-level fields of a run; the parts with variants are validated by their own schemas. */
export const runTopSchema = z.strictObject({
  /** Display name; generated from the dataset and algorithm when absent. */
  name: z.string().min(1).optional(),
  dataset: z.record(z.string(), z.unknown()),
  model: z.record(z.string(), z.unknown()),
  algorithm: z.record(z.string(), z.unknown()),
  /** Required for few-shot datasets (episodes, eval_iters, ...); text runs may leave it out. */
  eval: z.record(z.string(), z.unknown()).default({}),
  backend: z.enum(backends).default('wasm'),
  /** Replica threads inside one run (the sweep sets 1 when it runs several runs at once). */
  workers: count.default(1),
  /**
   * Seeds the training trajectory (model initialisation, task and batch draws) apart from the data split and
   * the test episodes, which stay those of the run's seed. Absent: the run's seed drives everything. The
   * regression check uses it to measure how far a change that only moves numerics moves the results.
   */
  training_seed: z.int().min(0).optional(),
  /** Checkpoints of a run's state, written so that an interrupted run resumes exactly (not part of the hash). */
  checkpoint: z
    .strictObject({
      /** Write one after this many seconds of work since the last (default 120). */
      every_seconds: z.number().positive().default(120),
      /** Also write one every this many iterations (0: only by time). */
      every_iterations: z.int().min(0).default(0),
    })
    .default({ every_seconds: 120, every_iterations: 0 }),
  /**
   * Fail a run as diverged when a training loss exceeds this (non-finite losses and parameters always fail it).
   * The default is far above any loss these tasks reach while training works (cross-entropy starts near ln(ways),
   * sine-wave MSE below 100). Not part of the hash: it never changes a finished run's numbers.
   */
  max_loss: z.number().positive().default(1e6),
});

export type DatasetConfig = z.output<(typeof datasetSchemas)[keyof typeof datasetSchemas]>;
export type ModelConfig = z.output<(typeof modelSchemas)[keyof typeof modelSchemas]>;
export type AlgorithmConfig = z.output<(typeof algorithmSchemas)[keyof typeof algorithmSchemas]>;
export type EvalConfig = z.output<typeof evalSchema>;
export type TextEvalConfig = z.output<typeof textEvalSchema>;
export type TestEvalConfig = z.output<typeof testEvalSchema>;
export type AlgorithmName = keyof typeof algorithmSchemas;
export const algorithmNames = Object.keys(algorithmSchemas) as AlgorithmName[];

export interface RunConfig {
  /** Display name; not part of the config hash. */
  name: string;
  dataset: DatasetConfig;
  model: ModelConfig;
  algorithm: AlgorithmConfig;
  /** Few-shot evaluation, test-set evaluation (classification datasets) or a text run's (`textEvalSchema`). */
  eval: EvalConfig | TestEvalConfig | TextEvalConfig;
  backend: BackendChoice;
  /** Scheduling only (results do not depend on it); not part of the config hash. */
  workers: number;
  /** The training trajectory's own seed (see the schema); part of the hash when set. */
  training_seed?: number;
  /** When checkpoints are written; not part of the config hash. */
  checkpoint: { every_seconds: number; every_iterations: number };
  /** Divergence bound on training losses; not part of the config hash. */
  max_loss: number;
}

/**
 * Fields added after runs were first recorded, with the default that reproduces what every run did before them.
 * While a field holds this default it is left out of the config hash, so earlier configs keep their run ids.
 */
export const hashNeutralDefaults: {
  [part in 'dataset' | 'algorithm' | 'eval']: Record<string, unknown>;
} = {
  dataset: { resize: 'area', ink: 1 },
  algorithm: { shared_optimizer_state: false },
  eval: { optimizer_state: 'fresh' },
};

/** Which models a dataset can feed. */
export const modelsForDataset: Record<DatasetConfig['name'], Array<ModelConfig['name']>> = {
  omniglot: ['conv4'],
  sine: ['mlp'],
  sentiment: ['lstm'],
  'fashion-mnist': ['mlp', 'cnn'],
  cifar10: ['mlp', 'cnn'],
};

/** Datasets trained on once and scored on a test split, rather than few-shot tasks. */
export const textDatasets: ReadonlyArray<DatasetConfig['name']> = ['sentiment'];

/** Which algorithms a dataset can be trained with: few-shot, single-task image and text datasets each have their own. */
export function algorithmsForDataset(dataset: DatasetConfig['name']): AlgorithmName[] {
  if ((classificationDatasets as readonly string[]).includes(dataset)) return ['local-sgd'];
  if (textDatasets.includes(dataset)) return ['supervised', 'sgd-distill'];
  return algorithmNames.filter(
    (a) => a !== 'local-sgd' && a !== 'supervised' && (a !== 'sgd-distill' || dataset === 'omniglot'),
  );
}

/** A run of single-task image classification (a classification dataset, local-sgd, test-set evaluation). */
export type ClassificationRunConfig = RunConfig & {
  dataset: Extract<DatasetConfig, { name: (typeof classificationDatasets)[number] }>;
  algorithm: Extract<AlgorithmConfig, { name: 'local-sgd' }>;
  eval: TestEvalConfig;
};
/** A run on a text dataset, with its eval settings. */
export type TextRunConfig = RunConfig & {
  dataset: Extract<DatasetConfig, { name: 'sentiment' }>;
  algorithm: Extract<AlgorithmConfig, { name: 'supervised' | 'sgd-distill' }>;
  eval: TextEvalConfig;
};
/** A few-shot run (Omniglot or sine waves, a meta-learner or baseline, episode evaluation). */
export type FewShotRunConfig = RunConfig & {
  dataset: Extract<DatasetConfig, { name: 'omniglot' | 'sine' }>;
  algorithm: Exclude<AlgorithmConfig, { name: 'local-sgd' | 'supervised' }>;
  eval: EvalConfig;
};

export function isClassificationRun(config: RunConfig): config is ClassificationRunConfig {
  return (classificationDatasets as readonly string[]).includes(config.dataset.name);
}

export function isTextRun(config: RunConfig): config is TextRunConfig {
  return textDatasets.includes(config.dataset.name);
}

/** The config of a few-shot run; throws (naming the dataset) for a classification or text run. */
export function fewShotConfig(config: RunConfig): FewShotRunConfig {
  if (isClassificationRun(config))
    throw new Error(
      `dataset ${config.dataset.name} is single-task classification: it has no few-shot episodes to evaluate`,
    );
  if (isTextRun(config) || !('episodes' in config.eval))
    throw new Error(
      `run "${config.name}" trains on ${config.dataset.name}, a text dataset: it has no few-shot evaluation`,
    );
  return config as FewShotRunConfig;
}

const randomDistribution = z.union([
  z.strictObject({ uniform: z.tuple([z.number(), z.number()]) }),
  z.strictObject({ log_uniform: z.tuple([z.number().positive(), z.number().positive()]) }),
  z.strictObject({ int: z.tuple([z.int(), z.int()]) }),
  z.strictObject({ choice: z.array(z.unknown()).min(1) }),
]);
export type RandomDistribution = z.output<typeof randomDistribution>;

export const gridSchema = z.record(z.string().min(1), z.array(z.unknown()).min(1));
export const randomSchema = z.strictObject({
  samples: count,
  /** Seeds the draws, so a sweep file always expands to the same runs. */
  seed: z.int().min(0).default(0),
  fields: z.record(z.string().min(1), randomDistribution),
});
const seedsSchema = z.array(z.int().min(0)).min(1);

/** One entry of `runs:`: config fields plus its own name, includes, grid, random search and seeds. */
export const runEntryControlSchema = z.object({
  name: z.string().min(1).optional(),
  include: z.array(z.string().min(1)).optional(),
  grid: gridSchema.optional(),
  random: randomSchema.optional(),
  seeds: seedsSchema.optional(),
});
export const runEntryControlKeys = ['name', 'include', 'grid', 'random', 'seeds'] as const;

export const sweepSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "_", "." and "-" only'),
  description: z.string().optional(),
  include: z.array(z.string().min(1)).default([]),
  defaults: z.record(z.string(), z.unknown()).default({}),
  seeds: seedsSchema,
  runs: z.array(z.record(z.string(), z.unknown())).min(1),
  grid: gridSchema.optional(),
  random: randomSchema.optional(),
});
export type SweepFile = z.output<typeof sweepSchema>;
export type Grid = z.output<typeof gridSchema>;
export type RandomSearch = z.output<typeof randomSchema>;
