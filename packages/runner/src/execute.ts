import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BackendInfo, initBackend } from '@reptile-bench/backend';
import { fomaml, maml, sgdFromScratch, sgdPretrain } from '@reptile-bench/baselines';
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
import {
  type EvaluationOptions,
  evaluate,
  type Learner,
  type MetaTrainContext,
} from '@reptile-bench/evaluation';
import { createConv4, createMlp, type Model, saveModel } from '@reptile-bench/models';
import { reptile } from '@reptile-bench/reptile';
import { flattenParams, type RunMeta, type RunWriter, type Tracker } from '@reptile-bench/tracking';
import type { AlgorithmConfig, RunConfig } from './config/schema.ts';
import type { PlannedRun } from './config/sweep.ts';
import {
  type MetricKind,
  metricKindOf,
  modeKeyOf,
  summaryFromResult,
  validationKey,
  validationSecondsKey,
} from './records.ts';
import { trainingIterations } from './training.ts';

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
  const d = config.dataset;
  if (d.name === 'sine') {
    const train = sineSampler({ shots: d.train_shots ?? d.shots, queryShots: 0 });
    const test = sineSampler({ shots: d.shots, queryShots: d.query_shots });
    return { train, test, checksum: test.checksum };
  }
  const omniglot = await loadOmniglot();
  const split = { seed, split: d.split, trainCharacters: d.train_characters, augment: d.augment };
  const { train, test } = splitOmniglot(omniglot, split);
  return {
    train: fewShotSampler(train, { ways: d.ways, shots: d.train_shots, queryShots: 0 }),
    test: fewShotSampler(test, { ways: d.ways, shots: d.shots, queryShots: d.query_shots }),
    trainClasses: train,
    checksum: dataChecksum(omniglot.sha256, { ...split, imageSize: omniglot.imageSize }),
  };
}

export function createModelFor(config: RunConfig): Model {
  const m = config.model;
  if (m.name === 'mlp')
    return createMlp({ inputSize: 1, hidden: m.hidden, outputSize: 1, activation: m.activation });
  const d = config.dataset;
  if (d.name !== 'omniglot') throw new Error(`model conv4 needs the omniglot dataset, got ${d.name}`);
  return createConv4({ ways: d.ways, filters: m.filters });
}

export function createLearner(a: AlgorithmConfig): Learner {
  switch (a.name) {
    case 'sgd-scratch':
      return sgdFromScratch();
    case 'sgd-pretrain':
      return sgdPretrain({
        iterations: a.train_iters,
        batchSize: a.train_batch,
        optimizer: a.optimizer,
        learningRate: a.learning_rate,
      });
    default: {
      const options = {
        metaIterations: a.meta_iters,
        metaBatchSize: a.meta_batch,
        metaStep: a.meta_step,
        metaStepFinal: a.meta_step_final,
        innerIterations: a.inner_iters,
        innerBatchSize: a.inner_batch,
        innerOptimizer: a.optimizer,
        innerLearningRate: a.learning_rate,
        resetOptimizerState: a.reset_optimizer_state,
        replacement: a.replacement,
      };
      if (a.name === 'reptile') return reptile(options);
      if (a.name === 'fomaml') return fomaml({ ...options, tailBatches: a.tail_batches });
      return maml(options);
    }
  }
}

/** The stream a run's final test episodes are drawn from; `reptile-bench evaluate` redraws them from it. */
export function testEpisodeRng(seed: number): Rng {
  return createRng(seed).derive('test');
}

export function evaluationOptions(
  config: RunConfig,
  episodes: number,
  modes = config.eval.modes,
  workers = 1,
): EvaluationOptions {
  const e = config.eval;
  return {
    episodes,
    adapt: {
      optimizer: e.optimizer,
      learningRate: e.learning_rate,
      iterations: e.eval_iters,
      batchSize: e.eval_batch,
      replacement: e.replacement,
    },
    modes,
    workers,
  };
}

export interface RunProgress {
  phase: 'setup' | 'train' | 'eval';
  done: number;
  total: number;
}

export interface ExecuteOptions {
  tracker: Tracker;
  /** Code commit recorded with the run. */
  commit: string;
  /** Replica threads for this run's meta-batches. */
  threads: number;
  onProgress?: (progress: RunProgress) => void;
  /** Called once the run is recorded as RUNNING, so a killed worker can still mark it KILLED. */
  onStarted?: (writer: RunWriter) => void;
  signal?: AbortSignal;
}

export interface ExecuteResult {
  status: 'FINISHED' | 'FAILED';
  summary: Record<string, number>;
  error?: string;
}

/** At most this many points per training-metric history, so long runs keep small logs. */
const maxTrainingPoints = 500;

/**
 * Runs one planned run end to end: backend, data, model, meta-training (metrics and learning-curve evaluations
 * logged as it goes), the final evaluation and the trained initialisation as an artifact. Every random choice
 * derives from the run's seed with fixed labels, so the same config, seed and backend give the same numbers.
 * Failures are recorded in the run (status FAILED with the error) and returned, not thrown.
 */
export async function executeRun(run: PlannedRun, options: ExecuteOptions): Promise<ExecuteResult> {
  const { config, seed } = run;
  const progress = options.onProgress ?? (() => {});
  progress({ phase: 'setup', done: 0, total: 1 });
  const meta = (backend: RunMeta['backend'], dataChecksum: string): RunMeta => ({
    runId: run.runId,
    sweep: run.sweep,
    name: run.name,
    configHash: run.configHash,
    seed,
    commit: options.commit,
    backend,
    dataChecksum,
    config,
    params: { ...flattenParams(config), seed },
    tags: { sweep_file: run.file, replica_threads: String(options.threads) },
  });
  let setup: { backend: BackendInfo; data: RunData; model: Model };
  try {
    const backend = await initBackend(config.backend);
    setup = { backend, data: await prepareData(config, seed), model: createModelFor(config) };
  } catch (error) {
    // No backend or data: record the failure anyway, so the reports list the run and its reason.
    const writer = await options.tracker.startRun(
      meta({ name: config.backend, version: 'unavailable', threads: options.threads }, 'unavailable'),
    );
    return fail(writer, error);
  }
  const { backend, data, model } = setup;
  const writer = await options.tracker.startRun(
    meta({ name: backend.name, version: backend.version, threads: backend.threads }, data.checksum),
  );
  options.onStarted?.(writer);
  try {
    const summary = await trainAndEvaluate(run, model, data, writer, options);
    await writer.finish('FINISHED', summary);
    return { status: 'FINISHED', summary };
  } catch (error) {
    return fail(writer, error);
  }
}

async function fail(writer: RunWriter, error: unknown): Promise<ExecuteResult> {
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  await writer.finish('FAILED', {}, stack).catch(() => {});
  return { status: 'FAILED', summary: {}, error: error instanceof Error ? error.message : String(error) };
}

async function trainAndEvaluate(
  run: PlannedRun,
  model: Model,
  data: RunData,
  writer: RunWriter,
  options: ExecuteOptions,
): Promise<Record<string, number>> {
  const { config, seed } = run;
  const progress = options.onProgress ?? (() => {});
  const metric: MetricKind = metricKindOf(config);
  const rng = createRng(seed);
  const iterations = trainingIterations(config.algorithm);
  const logEvery = Math.max(1, Math.ceil(iterations / maxTrainingPoints));

  // Learning curves: a few transductive test episodes every `eval.every` iterations. Their time is kept out
  // of the training time so that accuracy-vs-time shows the cost of training alone.
  const valMode = config.eval.modes.includes('transductive') ? 'transductive' : 'non-transductive';
  let validationSeconds = 0;
  const trainStart = performance.now();
  // CPU seconds of this process and its replica threads: unlike wall time, barely moved by other load.
  const cpuStart = process.cpuUsage();
  const cpuSeconds = () => {
    const used = process.cpuUsage(cpuStart);
    return (used.user + used.system) / 1e6;
  };
  const validate: MetaTrainContext['validate'] =
    config.eval.every > 0 && iterations > 0
      ? {
          every: config.eval.every,
          run: async (params, iteration) => {
            const start = performance.now();
            const trainedFor = (start - trainStart) / 1000 - validationSeconds;
            const result = await evaluate(
              model,
              params,
              data.test,
              evaluationOptions(config, config.eval.val_episodes, [valMode], options.threads),
              rng.derive('validation', iteration),
            );
            validationSeconds += (performance.now() - start) / 1000;
            const value = (valMode === 'transductive' ? result.transductive : result.nonTransductive)?.mean;
            const point = {
              [validationKey(metric)]: value ?? Number.NaN,
              [validationSecondsKey]: trainedFor,
            };
            writer.logMetrics(point, iteration);
            return point;
          },
        }
      : undefined;

  if (iterations > 0) progress({ phase: 'train', done: 0, total: iterations });
  const learner = createLearner(config.algorithm);
  const ctx: MetaTrainContext = {
    model,
    train: data.train,
    rng: rng.derive('meta-train'),
    backend: config.backend,
    workers: options.threads,
    onMetrics: (iteration, metrics) => {
      progress({ phase: 'train', done: iteration + 1, total: iterations });
      if (iteration % logEvery === 0 || iteration + 1 === iterations) {
        const prefixed = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`train_${k}`, v]));
        writer.logMetrics(prefixed, iteration);
      }
    },
    ...(data.trainClasses ? { trainClasses: data.trainClasses } : {}),
    ...(validate ? { validate } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const init = await learner.metaTrain(ctx);
  const trainSeconds = (performance.now() - trainStart) / 1000 - validationSeconds;
  options.signal?.throwIfAborted();

  progress({ phase: 'eval', done: 0, total: config.eval.episodes });
  const evalStart = performance.now();
  const result = await evaluate(
    model,
    init,
    data.test,
    {
      ...evaluationOptions(config, config.eval.episodes, config.eval.modes, options.threads),
      onProgress: (done, total) => progress({ phase: 'eval', done, total }),
      ...(options.signal ? { signal: options.signal } : {}),
    },
    testEpisodeRng(seed),
  );
  const evalSeconds = (performance.now() - evalStart) / 1000;
  progress({ phase: 'eval', done: config.eval.episodes, total: config.eval.episodes });

  // Every episode's score, in episode order: the same seed gives every algorithm the same episodes, so runs can
  // be compared episode by episode.
  await writer.addArtifact('test-episodes.json', `${JSON.stringify({ metric, ...result.perEpisode })}\n`);

  if (Array.isArray(init)) {
    // The learned initialisation, loadable with @reptile-bench/models' loadModel.
    const dir = await mkdtemp(join(tmpdir(), 'reptile-bench-model-'));
    try {
      const file = join(dir, 'model.json');
      await saveModel(file, model, init, { runId: run.runId, configHash: run.configHash, seed });
      await writer.addArtifact('model.json', { file });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  return {
    ...summaryFromResult(metric, {
      ...(result.nonTransductive ? { [modeKeyOf['non-transductive']]: result.nonTransductive } : {}),
      ...(result.transductive ? { [modeKeyOf.transductive]: result.transductive } : {}),
    }),
    train_seconds: trainSeconds,
    validation_seconds: validationSeconds,
    eval_seconds: evalSeconds,
    total_seconds: trainSeconds + validationSeconds + evalSeconds,
    cpu_seconds: cpuSeconds(),
    ...(iterations > 0 && trainSeconds > 0 ? { meta_iters_per_s: iterations / trainSeconds } : {}),
  };
}
