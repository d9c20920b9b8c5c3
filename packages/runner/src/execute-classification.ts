// Running one single-task classification run: local SGD (plain SGD with one replica) on a training set, the averaged
// model evaluated on the test and validation sets as it trains (accuracy against examples processed and against
// training seconds), the final test-set accuracy, the trained model as an artifact. Same records, checkpoints,
// resume and failure handling as the few-shot runs of execute.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planLocalSgd, trainLocalSgd } from '@reptile-bench/averaging';
import { initBackend } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import {
  dataChecksum,
  type LabelledImages,
  loadCifar10,
  loadFashionMnist,
  splitValidation,
} from '@reptile-bench/datasets';
import { classifierAccuracy, type Model, saveModel } from '@reptile-bench/models';
import type { RunWriter } from '@reptile-bench/tracking';
import { createModelFor } from './assemble.ts';
import type { RunCheckpoint } from './checkpoint.ts';
import type { ClassificationRunConfig } from './config/schema.ts';
import type { PlannedRun } from './config/sweep.ts';
import type { ExecuteOptions, ExecuteResult } from './execute.ts';
import { localSgdOptionsOf } from './local-sgd.ts';
import {
  examplesKey,
  summaryKey,
  testAccuracyKey,
  testLossKey,
  validationKey,
  validationSecondsKey,
} from './records.ts';
import { checkpointWriter, executeRecorded, workClock } from './run-lifecycle.ts';

export type ClassificationRun = PlannedRun & { config: ClassificationRunConfig };

/** The data of a classification run: train (less the validation images), validation, test, and their checksum. */
export interface ClassificationData {
  train: LabelledImages;
  validation?: LabelledImages;
  test: LabelledImages;
  checksum: string;
}

/**
 * Loads the dataset and carves the validation set out of the training set with the run's seed (so every
 * algorithm of a seed trains on the same images). The checksum covers the files' content and the split.
 */
export async function prepareClassificationData(
  config: ClassificationRunConfig,
  seed: number,
): Promise<ClassificationData> {
  const d = config.dataset;
  const loaded = d.name === 'cifar10' ? await loadCifar10() : await loadFashionMnist();
  const validation = d.validation;
  const split =
    validation > 0
      ? splitValidation(loaded.train, validation, createRng(seed).derive('validation'))
      : undefined;
  return {
    train: split?.train ?? loaded.train,
    ...(split ? { validation: split.validation } : {}),
    test: loaded.test,
    checksum: dataChecksum(loaded.sha256, { validation, ...(validation > 0 ? { seed } : {}) }),
  };
}

/** Test-set accuracy as a summary: each test example is one Bernoulli sample, so seeds pool exactly. */
function testSummary(correct: number, count: number): Record<string, number> {
  const p = correct / count;
  const std = count > 1 ? Math.sqrt((count / (count - 1)) * p * (1 - p)) : Number.NaN;
  return {
    [summaryKey('accuracy', 'test')]: p,
    [summaryKey('accuracy', 'test', 'ci95')]: (1.96 * std) / Math.sqrt(count),
    [summaryKey('accuracy', 'test', 'std')]: std,
    [summaryKey('accuracy', 'test', 'n')]: count,
  };
}

export async function executeClassificationRun(
  run: ClassificationRun,
  options: ExecuteOptions,
): Promise<ExecuteResult> {
  const { config, seed } = run;
  return executeRecorded(run, options, {
    threads: options.threads,
    async setup() {
      const backend = await initBackend(config.backend);
      const data = await prepareClassificationData(config, seed);
      return { backend, checksum: data.checksum, data, model: createModelFor(config) };
    },
    // Only training checkpoints: the final evaluation is one pass over the test set, simply done again.
    iterations: planLocalSgd(localSgdOptionsOf(config.algorithm, config.eval)).iterations,
    run: ({ model, data }, writer, checkpoint) =>
      trainAndTest(run, model, data, writer, options, checkpoint as TrainCheckpoint | undefined),
  });
}

type TrainCheckpoint = RunCheckpoint & { phase: 'train' };

const maxTrainingPoints = 500;

async function trainAndTest(
  run: ClassificationRun,
  model: Model,
  data: ClassificationData,
  writer: RunWriter,
  options: ExecuteOptions,
  resumed: TrainCheckpoint | undefined,
): Promise<Record<string, number>> {
  const { config, seed } = run;
  const progress = options.onProgress ?? (() => {});
  const plan = planLocalSgd(localSgdOptionsOf(config.algorithm, config.eval));
  const examplesPerIteration = plan.chunk * plan.examplesPerStep;
  const logEvery = Math.max(1, Math.ceil(plan.iterations / maxTrainingPoints));
  const clock = workClock(resumed?.elapsed ?? { train: 0, validation: 0, eval: 0, cpu: 0 });
  const checkpoints = checkpointWriter(run, options, writer, clock);

  progress({ phase: 'train', done: resumed?.training.iteration ?? 0, total: plan.iterations });
  const result = await trainLocalSgd(
    {
      model,
      train: data.train,
      // training_seed: another trajectory on the same data (what check's null replicates measure).
      rng:
        config.training_seed === undefined
          ? createRng(seed).derive('meta-train')
          : createRng(seed).derive('meta-train', 'trajectory', config.training_seed),
      backend: config.backend,
      workers: options.threads,
      onMetrics: (iteration, metrics) => {
        progress({ phase: 'train', done: iteration + 1, total: plan.iterations });
        if (iteration % logEvery === 0 || iteration + 1 === plan.iterations)
          writer.logMetrics(
            Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`train_${k}`, v])),
            iteration,
          );
      },
      // Evaluation time is kept out of the training time, so accuracy against seconds shows training alone.
      evaluate: async ({ params }, iteration) => {
        const start = performance.now();
        const trainedFor = clock.train();
        const test = classifierAccuracy(model, params, data.test);
        const validation = data.validation ? classifierAccuracy(model, params, data.validation) : undefined;
        clock.addValidation((performance.now() - start) / 1000);
        const point: Record<string, number> = {
          [testAccuracyKey]: test.accuracy,
          [testLossKey]: test.loss,
          ...(validation
            ? { [validationKey('accuracy')]: validation.accuracy, val_loss: validation.loss }
            : {}),
          [validationSecondsKey]: trainedFor,
          [examplesKey]: iteration * examplesPerIteration,
        };
        writer.logMetrics(point, iteration);
        return point;
      },
      checkpoint: {
        ...(resumed ? { resume: resumed.training } : {}),
        due: checkpoints.due,
        save: (training) => checkpoints.save({ phase: 'train', training }),
      },
      ...(config.max_loss === undefined ? {} : { maxLoss: config.max_loss }),
      ...(options.signal ? { signal: options.signal } : {}),
    },
    localSgdOptionsOf(config.algorithm, config.eval),
  );
  clock.startEvaluation();
  progress({ phase: 'eval', done: 0, total: 1 });
  const test = classifierAccuracy(model, result.params, data.test);
  progress({ phase: 'eval', done: 1, total: 1 });
  // Per-example hits, under the mode key `test`: what `check` compares, example by example, with a baseline.
  await writer.addArtifact(
    'test-episodes.json',
    `${JSON.stringify({ metric: 'accuracy', test: [...test.hits] })}\n`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'reptile-bench-model-'));
  try {
    const file = join(dir, 'model.json');
    await saveModel(file, model, result.params, { runId: run.runId, configHash: run.configHash, seed });
    await writer.addArtifact('model.json', { file });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const elapsed = clock.snapshot();
  const examples = plan.steps * plan.examplesPerStep;
  return {
    ...testSummary(test.correct, test.count),
    test_loss: test.loss,
    examples,
    train_seconds: elapsed.train,
    validation_seconds: elapsed.validation,
    eval_seconds: elapsed.eval,
    total_seconds: elapsed.train + elapsed.validation + elapsed.eval,
    cpu_seconds: elapsed.cpu,
    ...(elapsed.train > 0
      ? { meta_iters_per_s: plan.iterations / elapsed.train, examples_per_s: examples / elapsed.train }
      : {}),
  };
}
