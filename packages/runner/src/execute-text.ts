// Running one text run: the classifier trained once on the training sentences (from its labels, or distilled
// from its teacher run), with checkpoints, then scored on the test sentences.
import { initBackend } from '@reptile-bench/backend';
import { createRng, hashValue } from '@reptile-bench/core';
import { inferenceTime, scoreClassifier } from '@reptile-bench/evaluation';
import { type SupervisedContext, trainClassifier } from '@reptile-bench/supervised';
import type { RunWriter } from '@reptile-bench/tracking';
import { prepareTextRun, type TextRunData } from './assemble-text.ts';
import type { RunCheckpoint } from './checkpoint.ts';
import { isTextRun, type TextRunConfig } from './config/schema.ts';
import type { PlannedRun } from './config/sweep.ts';
import { addModelArtifact, type ExecuteOptions, type ExecuteResult } from './execute.ts';
import { validationKey, validationSecondsKey } from './records.ts';
import { checkpointWriter, executeRecorded, workClock } from './run-lifecycle.ts';
import { loadTeacher } from './teachers.ts';
import { trainingIterations } from './training.ts';

/** At most this many points per training-metric history. */
const maxTrainingPoints = 500;

/** Summary keys of text runs: accuracy on the test and validation parts (mean, 95% CI half-width, std, n). */
export const textSummaryKeys = {
  test: 'accuracy_test',
  validation: 'accuracy_validation',
} as const;

function textConfig(run: PlannedRun): TextRunConfig {
  if (!isTextRun(run.config)) throw new Error(`run ${run.runId} is not a text run`);
  return run.config;
}

const vocabularyHash = (tokens: readonly string[]) => hashValue([...tokens]).slice(0, 16);

/**
 * Runs one text run end to end, recording it like a few-shot run (config hash, seed, commit, backend, data
 * checksum): data and model, training with checkpoints (an interrupted run resumes with the same numbers), the
 * test and validation accuracy, the inference time per sentence, and the classifier (with its vocabulary) as
 * `model.json`, every test sentence's prediction as `test-predictions.json`. A distillation run loads its
 * teacher from the teacher run and checks that both read the same vocabulary.
 */
export async function executeTextRun(run: PlannedRun, options: ExecuteOptions): Promise<ExecuteResult> {
  const config = textConfig(run);
  return executeRecorded(run, options, {
    threads: 1,
    async setup() {
      const backend = await initBackend(config.backend);
      const data = await prepareTextRun(config, run.seed);
      return { backend, checksum: data.checksum, data };
    },
    // Text runs checkpoint only their training: scoring takes seconds and is simply done again.
    iterations: trainingIterations(config.algorithm),
    run: ({ data }, writer, checkpoint) =>
      trainAndTest(run, config, data, writer, options, checkpoint as TrainCheckpoint | undefined),
  });
}

type TrainCheckpoint = RunCheckpoint & { phase: 'train' };

async function trainAndTest(
  run: PlannedRun,
  config: TextRunConfig,
  data: TextRunData,
  writer: RunWriter,
  options: ExecuteOptions,
  resumed: TrainCheckpoint | undefined,
): Promise<Record<string, number>> {
  const progress = options.onProgress ?? (() => {});
  const a = config.algorithm;
  const { model, splits } = data;
  const rng = createRng(run.seed);
  const clock = workClock(resumed?.elapsed ?? { train: 0, validation: 0, eval: 0, cpu: 0 });
  const checkpoints = checkpointWriter(run, options, writer, clock);
  const logEvery = Math.max(1, Math.ceil(a.train_iters / maxTrainingPoints));

  let distill: Parameters<typeof trainClassifier>[1]['distill'];
  if (a.name === 'sgd-distill') {
    const teacher = await loadTeacher(run, options.tracker.store);
    const file = options.tracker.store.artifactPath(teacher.runId, 'model.json');
    const stored = teacher.metadata.vocabulary;
    if (
      !Array.isArray(stored) ||
      vocabularyHash(stored as string[]) !== vocabularyHash(splits.vocabulary.tokens)
    )
      throw new Error(
        `teacher run ${teacher.runId} read another vocabulary than this run (${file}); a teacher must be trained on the same data settings and seed as its students`,
      );
    distill = { teacher, temperature: a.temperature, alpha: a.alpha };
    writer.setTag('teacher_run', teacher.runId);
  }

  const ctx: SupervisedContext = {
    model,
    train: splits.train.batch,
    rng: rng.derive('train'),
    backend: config.backend,
    onMetrics: (iteration, metrics) => {
      progress({ phase: 'train', done: iteration + 1, total: a.train_iters });
      if (iteration % logEvery === 0 || iteration + 1 === a.train_iters)
        writer.logMetrics(
          Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`train_${k}`, v])),
          iteration,
        );
    },
    checkpoint: {
      ...(resumed ? { resume: resumed.training } : {}),
      due: checkpoints.due,
      save: (training) => checkpoints.save({ phase: 'train', training }),
    },
    ...(config.eval.every > 0
      ? {
          validate: {
            every: config.eval.every,
            run: async ({ params }, iteration) => {
              const start = performance.now();
              const trainedFor = clock.train();
              const score = scoreClassifier(model, params, splits.validation.batch);
              clock.addValidation((performance.now() - start) / 1000);
              const point = {
                [validationKey('accuracy')]: score.accuracy.mean,
                [validationSecondsKey]: trainedFor,
              };
              writer.logMetrics(point, iteration);
              return point;
            },
          },
        }
      : {}),
    ...(config.max_loss === undefined ? {} : { maxLoss: config.max_loss }),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  progress({ phase: 'train', done: resumed?.training.iteration ?? 0, total: a.train_iters });
  const trained = await trainClassifier(ctx, {
    iterations: a.train_iters,
    batchSize: a.train_batch,
    optimizer: a.optimizer,
    learningRate: a.learning_rate,
    labelFraction: a.label_fraction,
    tokenDropout: a.token_dropout,
    ...(distill ? { distill } : {}),
  });
  clock.startEvaluation();
  progress({ phase: 'eval', done: 0, total: 1 });

  const test = scoreClassifier(model, trained.params, splits.test.batch);
  const validation = scoreClassifier(model, trained.params, splits.validation.batch);
  const timing = inferenceTime(model, trained.params, splits.test.batch, {
    examples: config.eval.timing_sentences,
  });
  await writer.addArtifact(
    'test-predictions.json',
    `${JSON.stringify({ labels: Array.from(splits.test.batch.y), predictions: Array.from(test.predictions) })}\n`,
  );
  await addModelArtifact(writer, 'model.json', { model, params: trained.params }, run, {
    vocabulary: splits.vocabulary.tokens,
  });
  progress({ phase: 'eval', done: 1, total: 1 });
  const elapsed = clock.snapshot();
  const stats = (key: string, r: { mean: number; ci95: number; std: number; n: number }) => ({
    [key]: r.mean,
    [`${key}_ci95`]: r.ci95,
    [`${key}_std`]: r.std,
    [`${key}_n`]: r.n,
  });
  return {
    ...stats(textSummaryKeys.test, test.accuracy),
    ...stats(textSummaryKeys.validation, validation.accuracy),
    parameters: model.paramSpecs.reduce((n, s) => n + s.shape.reduce((x, y) => x * y, 1), 0),
    inference_ms_per_sentence: timing.msPerExample,
    inference_batched_ms_per_sentence: timing.batchedMsPerExample,
    inference_wall_ms_per_sentence: timing.wallMsPerExample,
    labelled_examples: trained.labelled,
    train_examples: trained.examples,
    ...(trained.teacherAgreement === undefined || Number.isNaN(trained.teacherAgreement)
      ? {}
      : { teacher_label_accuracy: trained.teacherAgreement }),
    vocabulary: splits.vocabulary.size,
    train_seconds: elapsed.train,
    validation_seconds: elapsed.validation,
    eval_seconds: elapsed.eval,
    total_seconds: elapsed.train + elapsed.validation + elapsed.eval,
    cpu_seconds: elapsed.cpu,
    ...(elapsed.train > 0 ? { meta_iters_per_s: a.train_iters / elapsed.train } : {}),
  };
}
