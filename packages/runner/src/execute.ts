// Running one planned run: setup, meta-training with checkpoints, the final evaluation, the exported model.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { omniglotPreprocessing } from '@reptile-bench/datasets';
import { type EpisodeScores, evaluate } from '@reptile-bench/evaluation';
import type { MetaTrainContext, MetaTrainResult } from '@reptile-bench/meta';
import { type Model, saveModel } from '@reptile-bench/models';
import type { RunWriter, Tracker } from '@reptile-bench/tracking';
import {
  createLearner,
  createModelFor,
  evaluationOptions,
  prepareData,
  type RunData,
  testEpisodeRng,
} from './assemble.ts';
import type { RunCheckpoint } from './checkpoint.ts';
import { fewShotConfig, isClassificationRun, isTextRun } from './config/schema.ts';
import type { PlannedRun } from './config/sweep.ts';
import { type ClassificationRun, executeClassificationRun } from './execute-classification.ts';
import { executeTextRun } from './execute-text.ts';
import {
  type MetricKind,
  metricKindOf,
  modeKeyOf,
  summaryFromResult,
  validationKey,
  validationSecondsKey,
} from './records.ts';
import { checkpointWriter, executeRecorded, workClock } from './run-lifecycle.ts';
import { loadTeacher } from './teachers.ts';
import { trainingIterations } from './training.ts';

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
  /** Things worth telling the user: a resume, a checkpoint of another commit. */
  onNote?: (text: string) => void;
  /** Called once the run is recorded as RUNNING, so a killed worker can still mark it KILLED. */
  onStarted?: (writer: RunWriter) => void;
  /** Stops the run between steps: its state is checkpointed and it is recorded KILLED, to be resumed later. */
  signal?: AbortSignal;
  /** Continue an interrupted run from its checkpoint (default true); false starts it over. */
  resume?: boolean;
  /** Called after each checkpoint is written (e.g. to copy it off this machine). */
  onCheckpoint?: () => void;
}

export interface ExecuteResult {
  status: 'FINISHED' | 'FAILED' | 'KILLED';
  summary: Record<string, number>;
  error?: string;
}

/** At most this many points per training-metric history, so long runs keep small logs. */
const maxTrainingPoints = 500;

/**
 * Runs one planned run end to end: backend, data, model, meta-training (metrics and learning-curve evaluations
 * logged as it goes, checkpoints written as the config says), the final evaluation (checkpointed too) and the
 * trained initialisation as an artifact. A run interrupted before (KILLED, with a checkpoint) continues where it
 * stopped and ends with the same numbers as an uninterrupted one. Every random choice derives from the run's
 * seed with fixed labels, so the same config, seed and backend give the same numbers. Failures are recorded in
 * the run (status FAILED with the error) and returned, not thrown.
 */
export async function executeRun(run: PlannedRun, options: ExecuteOptions): Promise<ExecuteResult> {
  if (isClassificationRun(run.config)) return executeClassificationRun(run as ClassificationRun, options);
  if (isTextRun(run.config)) return executeTextRun(run, options);
  const config = fewShotConfig(run.config);
  return executeRecorded(run, options, {
    threads: options.threads,
    async setup() {
      const backend = await initBackend(config.backend);
      const data = await prepareData(config, run.seed);
      return { backend, checksum: data.checksum, data, model: createModelFor(config) };
    },
    // Both phases continue: training from its iteration, the final evaluation from its last scored episode.
    iterations: trainingIterations(config.algorithm),
    evalEpisodes: config.eval.episodes,
    run: ({ model, data }, writer, checkpoint) =>
      trainAndEvaluate(run, model, data, writer, options, checkpoint),
  });
}

async function trainAndEvaluate(
  run: PlannedRun,
  model: Model,
  data: RunData,
  writer: RunWriter,
  options: ExecuteOptions,
  resumed: RunCheckpoint | undefined,
): Promise<Record<string, number>> {
  const { seed } = run;
  const config = fewShotConfig(run.config);
  const progress = options.onProgress ?? (() => {});
  const metric: MetricKind = metricKindOf(config);
  const rng = createRng(seed);
  const iterations = trainingIterations(config.algorithm);
  const logEvery = Math.max(1, Math.ceil(iterations / maxTrainingPoints));
  const clock = workClock(resumed?.elapsed ?? { train: 0, validation: 0, eval: 0, cpu: 0 });
  const checkpoints = checkpointWriter(run, options, writer, clock);

  // Learning curves: a few test episodes every `eval.every` iterations. Their time is kept out of the training
  // time so that accuracy-vs-time shows the cost of training alone.
  const valMode = config.eval.modes.includes('transductive') ? 'transductive' : 'non-transductive';
  const validate: MetaTrainContext['validate'] =
    config.eval.every > 0 && iterations > 0
      ? {
          every: config.eval.every,
          run: async ({ params, innerState }, iteration) => {
            const start = performance.now();
            const trainedFor = clock.train();
            const result = await evaluate(
              model,
              params,
              data.test,
              evaluationOptions(config, config.eval.val_episodes, [valMode], options.threads, innerState),
              rng.derive('validation', iteration),
            );
            clock.addValidation((performance.now() - start) / 1000);
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

  // A distillation run's teacher comes from its own run (teachers.ts).
  const teacher = run.teacher ? await loadTeacher(run, options.tracker.store) : undefined;
  const learner = createLearner(config.algorithm, teacher);
  const trainingRng =
    config.training_seed === undefined
      ? rng.derive('meta-train')
      : createRng(seed).derive('meta-train', 'trajectory', config.training_seed);
  let trained: MetaTrainResult;
  if (resumed?.phase === 'eval') {
    // Training is done; only the evaluation continues. (A learner without one initialisation, SGD from scratch,
    // trains nothing: asking it again costs nothing.)
    const { params, innerState } = resumed.trained;
    trained =
      params.length > 0
        ? { init: params, ...(innerState ? { innerState } : {}) }
        : await learner.metaTrain({
            model,
            train: data.train,
            rng: rng.derive('meta-train'),
            backend: config.backend,
          });
  } else {
    const startAt = resumed?.phase === 'train' ? resumed.training.iteration : 0;
    if (iterations > 0) progress({ phase: 'train', done: startAt, total: iterations });
    const ctx: MetaTrainContext = {
      model,
      train: data.train,
      rng: trainingRng,
      backend: config.backend,
      workers: options.threads,
      onMetrics: (iteration, metrics) => {
        progress({ phase: 'train', done: iteration + 1, total: iterations });
        if (iteration % logEvery === 0 || iteration + 1 === iterations) {
          const prefixed = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`train_${k}`, v]));
          writer.logMetrics(prefixed, iteration);
        }
      },
      checkpoint: {
        ...(resumed?.phase === 'train' ? { resume: resumed.training } : {}),
        due: checkpoints.due,
        save: (training) => checkpoints.save({ phase: 'train', training }),
      },
      // (earlier stored configs have no bound)
      ...(config.max_loss === undefined ? {} : { maxLoss: config.max_loss }),
      ...(data.trainClasses ? { trainClasses: data.trainClasses } : {}),
      ...(validate ? { validate } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    trained = await learner.metaTrain(ctx);
  }
  clock.startEvaluation();
  // The classifier training built (joint pre-training's): a later distillation run's teacher. Kept before the
  // evaluation's checkpoint, so a run resumed in its evaluation has it already.
  if (trained.classifier) await addModelArtifact(writer, 'classifier.json', trained.classifier, run);
  const init = trained.init;
  const trainedParams = Array.isArray(init) ? init : [];
  const trainedState = {
    params: trainedParams,
    ...(trained.innerState ? { innerState: trained.innerState } : {}),
  };

  // The evaluation checkpoints the episodes it has scored: a resumed one runs only the rest.
  const done = new Map<number, EpisodeScores>(resumed?.phase === 'eval' ? resumed.episodes : []);
  const saveEvaluation = () =>
    checkpoints.save({ phase: 'eval', trained: trainedState, episodes: [...done.entries()] });
  if (resumed?.phase !== 'eval') await saveEvaluation();
  options.signal?.throwIfAborted();
  let saving: Promise<void> | undefined;
  progress({ phase: 'eval', done: done.size, total: config.eval.episodes });
  let result: Awaited<ReturnType<typeof evaluate>>;
  try {
    result = await evaluate(
      model,
      init,
      data.test,
      {
        ...evaluationOptions(
          config,
          config.eval.episodes,
          config.eval.modes,
          options.threads,
          trained.innerState,
        ),
        done,
        onEpisode: (e, scores) => {
          done.set(e, scores);
          if (saving === undefined && checkpoints.secondsDue())
            saving = saveEvaluation().finally(() => {
              saving = undefined;
            });
        },
        onProgress: (count, total) => progress({ phase: 'eval', done: count, total }),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      testEpisodeRng(seed),
    );
  } catch (error) {
    await saving;
    if (options.signal?.aborted) await saveEvaluation();
    throw error;
  }
  await saving;
  progress({ phase: 'eval', done: config.eval.episodes, total: config.eval.episodes });

  const summary = {
    ...summaryFromResult(metric, {
      ...(result.nonTransductive ? { [modeKeyOf['non-transductive']]: result.nonTransductive } : {}),
      ...(result.transductive ? { [modeKeyOf.transductive]: result.transductive } : {}),
    }),
  };
  for (const [key, value] of Object.entries(summary))
    if (!Number.isFinite(value))
      throw new Error(
        `the final evaluation gave ${key} = ${value}: the trained model's predictions are not finite ` +
          '(an evaluation learning rate too large for it is the usual cause)',
      );

  // Every episode's score, in episode order: the same seed gives every algorithm the same episodes, so runs can
  // be compared episode by episode.
  await writer.addArtifact('test-episodes.json', `${JSON.stringify({ metric, ...result.perEpisode })}\n`);

  if (Array.isArray(init)) {
    // The learned initialisation (and the inner optimizer state), loadable with @reptile-bench/models' loadModel.
    const dir = await mkdtemp(join(tmpdir(), 'reptile-bench-model-'));
    try {
      const file = join(dir, 'model.json');
      // How inputs were made from image files, so `reptile-bench predict` prepares the user's images the same way.
      const preprocessing =
        config.dataset.name === 'omniglot'
          ? { preprocessing: omniglotPreprocessing(config.dataset.resize, config.dataset.ink) }
          : {};
      const meta = { runId: run.runId, configHash: run.configHash, seed, ...preprocessing };
      await saveModel(file, model, init, meta, trained.innerState);
      await writer.addArtifact('model.json', { file });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  const elapsed = clock.snapshot();
  return {
    ...summary,
    parameters: model.paramSpecs.reduce((n, spec) => n + spec.shape.reduce((a, b) => a * b, 1), 0),
    train_seconds: elapsed.train,
    validation_seconds: elapsed.validation,
    eval_seconds: elapsed.eval,
    total_seconds: elapsed.train + elapsed.validation + elapsed.eval,
    cpu_seconds: elapsed.cpu,
    ...(iterations > 0 && elapsed.train > 0 ? { meta_iters_per_s: iterations / elapsed.train } : {}),
  };
}

/** Saves a model as an artifact of the run (loadable with models' loadModel), with the run's id and config hash. */
export async function addModelArtifact(
  writer: RunWriter,
  name: string,
  trained: { model: Model; params: Float32Array[] },
  run: PlannedRun,
  metadata: Record<string, unknown> = {},
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'reptile-bench-model-'));
  try {
    const file = join(dir, name);
    await saveModel(file, trained.model, trained.params, {
      runId: run.runId,
      configHash: run.configHash,
      seed: run.seed,
      ...metadata,
    });
    await writer.addArtifact(name, { file });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
