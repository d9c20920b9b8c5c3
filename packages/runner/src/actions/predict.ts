// `reptile-bench predict`: a meta-trained model adapted to the user's own support images, predicting queries.
import { statSync } from 'node:fs';
import { initBackend, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import {
  type Batch,
  hasClassFolders,
  imageFolderBatch,
  imagesBatch,
  listImages,
  readImageFolder,
} from '@reptile-bench/datasets';
import { adaptToSupport, predictNonTransductive, predictTransductive } from '@reptile-bench/evaluation';
import { stringify } from 'csv-stringify/sync';
import { evaluationOptions } from '../assemble.ts';
import { labelledQueries } from './fixed-episodes.ts';
import { fewShotOf, imagePreprocessingOf, loadRunModel } from './run-model.ts';

export interface PredictOptions {
  model: string;
  support: string;
  query: string[];
  out: string;
  transductive?: boolean;
  seed?: number;
  json?: boolean;
  csv?: boolean;
}

interface Prediction {
  file: string;
  predicted: string;
  probability: number;
  /** Probability of every class, in the support set's class order. */
  probabilities: number[];
  actual?: string;
  correct?: boolean;
}

export async function predictCommand(opts: PredictOptions): Promise<void> {
  const { loaded, runId, config: runConfig, modelFile } = await loadRunModel(opts.model, opts.out);
  const config = fewShotOf(runConfig, runId);
  const preprocessing = imagePreprocessingOf(loaded, config, modelFile);
  const support = readImageFolder(opts.support);
  const ways = loaded.model.outputSize;
  if (support.classes.length !== ways)
    throw new Error(
      `${support.dir}: ${support.classes.length} class folders (${support.classes.map((c) => c.name).join(', ')}), ` +
        `but the model of run ${runId} adapts ${ways}-way: give exactly ${ways} class folders`,
    );
  const classes = support.classes.map((c) => c.name);
  // Labelled queries: one folder in the class-folder layout. Otherwise any images and folders of images.
  const labelled =
    opts.query.length === 1 &&
    statSync(opts.query[0]!, { throwIfNoEntry: false })?.isDirectory() === true &&
    hasClassFolders(opts.query[0]!);
  let query: Batch;
  let files: string[];
  if (labelled) {
    const folder = readImageFolder(opts.query[0]!);
    query = labelledQueries(folder, support, (f) => imageFolderBatch(f, preprocessing));
    // (labelledQueries orders queries by the support set's classes)
    files = classes.flatMap((name) => folder.classes.find((c) => c.name === name)?.files ?? []);
  } else {
    files = listImages(opts.query);
    query = imagesBatch(files, preprocessing);
  }

  await initBackend(config.backend);
  const adapt = evaluationOptions(config, 1, config.eval.modes, 1, loaded.optimizerState).adapt;
  const supportBatch = imageFolderBatch(support, preprocessing);
  const rng = createRng(opts.seed ?? 0).derive('predict');
  const { params } = adaptToSupport(loaded.model, loaded.params, supportBatch, adapt, rng);
  let probabilities: Float32Array;
  try {
    const outputs = opts.transductive
      ? predictTransductive(loaded.model, params, query)
      : predictNonTransductive(loaded.model, params, supportBatch, query);
    const softmax = tf.softmax(outputs);
    probabilities = softmax.dataSync() as Float32Array;
    tf.dispose([outputs, softmax]);
  } finally {
    tf.dispose(params);
  }

  const predictions: Prediction[] = files.map((file, i) => {
    const row = Array.from(probabilities.subarray(i * ways, (i + 1) * ways));
    const best = row.indexOf(Math.max(...row));
    const p: Prediction = { file, predicted: classes[best]!, probability: row[best]!, probabilities: row };
    if (labelled) {
      p.actual = classes[query.y[i] as number]!;
      p.correct = p.actual === p.predicted;
    }
    return p;
  });
  const correct = predictions.filter((p) => p.correct).length;
  const mode = opts.transductive ? 'transductive' : 'non-transductive';
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ run_id: runId, mode, classes, support: supportBatch.size, predictions, ...(labelled ? { accuracy: correct / predictions.length } : {}) })}\n`,
    );
    return;
  }
  if (opts.csv) {
    const header = [
      'file',
      'predicted',
      'probability',
      ...(labelled ? ['actual', 'correct'] : []),
      ...classes.map((c) => `p_${c}`),
    ];
    const rows = predictions.map((p) => [
      p.file,
      p.predicted,
      p.probability,
      ...(labelled ? [p.actual, p.correct] : []),
      ...p.probabilities,
    ]);
    process.stdout.write(stringify([header, ...rows]));
    return;
  }
  process.stdout.write(
    `run ${runId}: adapted on ${supportBatch.size} support images of ${ways} classes (${classes.join(', ')}), ${mode}\n`,
  );
  process.stdout.write(`| query | predicted | probability |${labelled ? ' actual |' : ''}\n`);
  process.stdout.write(`| --- | --- | ---: |${labelled ? ' --- |' : ''}\n`);
  for (const p of predictions)
    process.stdout.write(
      `| ${p.file} | ${p.predicted} | ${p.probability.toFixed(3)} |${labelled ? ` ${p.actual}${p.correct ? '' : ' ✗'} |` : ''}\n`,
    );
  if (labelled)
    process.stdout.write(
      `accuracy: ${((100 * correct) / predictions.length).toFixed(2)} % (${correct}/${predictions.length})\n`,
    );
}
