// Assembling a run from its resolved config: the data, the model, the learner and the evaluation settings.
import { fomaml, maml, sgdDistill, sgdFromScratch, sgdPretrain } from '@reptile-bench/baselines';
import { createRng, type Rng } from '@reptile-bench/core';
import {
  type ClassSet,
  dataChecksum,
  type EpisodeSampler,
  fewShotSampler,
  loadOmniglot,
  sineSampler,
  splitOmniglot,
} from '@reptile-bench/datasets';
import type { EvaluationOptions } from '@reptile-bench/evaluation';
import type { Learner, MetaLearningOptions } from '@reptile-bench/meta';
import { createCnn, createConv4, createMlp, type Model, type OptimizerState } from '@reptile-bench/models';
import { reptile } from '@reptile-bench/reptile';
import {
  type AlgorithmConfig,
  type EvalConfig,
  fewShotConfig,
  isClassificationRun,
  type RunConfig,
} from './config/schema.ts';

/** The data a run trains and tests on. */
export interface RunData {
  /** Meta-training tasks (support = ways × train_shots for Omniglot). */
  train: EpisodeSampler;
  /** Test episodes (support = ways × shots, query = ways × query_shots). */
  test: EpisodeSampler;
  trainClasses?: ClassSet;
  checksum: string;
}

/** Loads the dataset and builds the samplers. The Omniglot split is shuffled with the run's seed, as in the paper. */
export async function prepareData(config: RunConfig, seed: number): Promise<RunData> {
  const d = fewShotConfig(config).dataset;
  if (d.name === 'sine') {
    const train = sineSampler({ shots: d.train_shots ?? d.shots, queryShots: 0 });
    const test = sineSampler({ shots: d.shots, queryShots: d.query_shots });
    return { train, test, checksum: test.checksum };
  }
  const omniglot = await loadOmniglot({ filter: d.resize });
  const split = { seed, split: d.split, trainCharacters: d.train_characters, augment: d.augment };
  const { train, test } = splitOmniglot(omniglot, { ...split, ink: d.ink });
  // The preprocessing enters the checksum only when it is not the default, so earlier checksums stay valid.
  const preprocessing = {
    ...((d.resize ?? 'area') === 'area' ? {} : { resize: d.resize }),
    ...((d.ink ?? 1) === 1 ? {} : { ink: d.ink }),
  };
  return {
    train: fewShotSampler(train, { ways: d.ways, shots: d.train_shots, queryShots: 0 }),
    test: fewShotSampler(test, { ways: d.ways, shots: d.shots, queryShots: d.query_shots }),
    trainClasses: train,
    checksum: dataChecksum(omniglot.sha256, { ...split, ...preprocessing, imageSize: omniglot.imageSize }),
  };
}

export function createModelFor(config: RunConfig): Model {
  const m = config.model;
  if (isClassificationRun(config)) {
    const shape: [number, number, number] = config.dataset.name === 'cifar10' ? [32, 32, 3] : [28, 28, 1];
    if (m.name === 'cnn')
      return createCnn({ inputShape: shape, classes: 10, filters: m.filters, hidden: m.hidden });
    if (m.name === 'mlp')
      return createMlp({
        inputSize: shape[0] * shape[1] * shape[2],
        hidden: m.hidden,
        outputSize: 10,
        activation: m.activation,
        task: 'classification',
      });
    throw new Error(`model ${m.name} cannot classify ${config.dataset.name} images; use mlp or cnn`);
  }
  if (m.name === 'cnn')
    throw new Error('model cnn needs a classification dataset (fashion-mnist or cifar10)');
  if (m.name === 'mlp')
    return createMlp({ inputSize: 1, hidden: m.hidden, outputSize: 1, activation: m.activation });
  if (m.name !== 'conv4')
    throw new Error(`model ${m.name} is built from its data's vocabulary by prepareTextRun`);
  const d = config.dataset;
  if (d.name !== 'omniglot') throw new Error(`model conv4 needs the omniglot dataset, got ${d.name}`);
  return createConv4({ ways: d.ways, filters: m.filters });
}

function metaLearningOptions(
  a: Extract<AlgorithmConfig, { name: 'reptile' | 'fomaml' | 'maml' }>,
): MetaLearningOptions {
  return {
    metaIterations: a.meta_iters,
    metaBatchSize: a.meta_batch,
    metaStep: a.meta_step,
    metaStepFinal: a.meta_step_final,
    innerIterations: a.inner_iters,
    innerBatchSize: a.inner_batch,
    innerOptimizer: a.optimizer,
    innerLearningRate: a.learning_rate,
    resetOptimizerState: a.reset_optimizer_state,
    sharedOptimizerState: a.shared_optimizer_state,
    replacement: a.replacement,
  };
}

/**
 * The learner an algorithm config names. Adding an algorithm to the schema fails to compile until it is here.
 * `teacher` is sgd-distill's, loaded from its teacher run (see teachers.ts).
 */
export function createLearner(
  a: AlgorithmConfig,
  teacher?: { model: Model; params: Float32Array[] },
): Learner {
  switch (a.name) {
    case 'reptile':
      return reptile(metaLearningOptions(a));
    case 'fomaml':
      return fomaml({ ...metaLearningOptions(a), tailBatches: a.tail_batches });
    case 'maml':
      return maml(metaLearningOptions(a));
    case 'sgd-scratch':
      return sgdFromScratch();
    case 'sgd-pretrain':
      return sgdPretrain({
        iterations: a.train_iters,
        batchSize: a.train_batch,
        optimizer: a.optimizer,
        learningRate: a.learning_rate,
      });
    case 'sgd-distill':
      if (teacher === undefined)
        throw new Error(
          'sgd-distill needs its teacher: the runner loads it from the teacher run (teachers.ts)',
        );
      return sgdDistill({
        iterations: a.train_iters,
        batchSize: a.train_batch,
        optimizer: a.optimizer,
        learningRate: a.learning_rate,
        temperature: a.temperature,
        alpha: a.alpha,
        teacher,
      });
    case 'supervised':
      throw new Error('supervised trains text classifiers: text runs are executed by executeTextRun');
    case 'local-sgd':
      throw new Error(
        'local-sgd is not a meta-learner: its runs train one classifier (execute-classification.ts)',
      );
    default: {
      const unknown: never = a;
      throw new Error(`no learner for algorithm ${JSON.stringify((unknown as { name: string }).name)}`);
    }
  }
}

/** The stream a run's final test episodes are drawn from; `reptile-bench evaluate` redraws them from it. */
export function testEpisodeRng(seed: number): Rng {
  return createRng(seed).derive('test');
}

/**
 * The evaluation settings of a run. `innerState` is meta-training's inner optimizer state, which episodes start
 * from when the config says `optimizer_state: trained`.
 */
export function evaluationOptions(
  config: RunConfig,
  episodes: number,
  modes?: EvalConfig['modes'],
  workers = 1,
  innerState?: OptimizerState,
): EvaluationOptions {
  const e = fewShotConfig(config).eval;
  if (e.optimizer_state === 'trained' && innerState === undefined)
    throw new Error(
      'eval.optimizer_state is "trained" but no inner optimizer state was given (a model saved without one?)',
    );
  return {
    episodes,
    adapt: {
      optimizer: e.optimizer,
      learningRate: e.learning_rate,
      iterations: e.eval_iters,
      batchSize: e.eval_batch,
      replacement: e.replacement,
      ...(e.optimizer_state === 'trained' && innerState ? { startState: innerState } : {}),
    },
    modes: modes ?? e.modes,
    workers,
  };
}
