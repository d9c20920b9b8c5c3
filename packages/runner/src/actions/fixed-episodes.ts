// Scoring a model on episodes the user provides: <dir>/<episode>/support/<class>/* and query/<class>/*.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '@reptile-bench/backend';
import { createRng, meanWithCi } from '@reptile-bench/core';
import {
  type Batch,
  type ImageFolder,
  imageFolderBatch,
  miniBatches,
  readImageFolder,
} from '@reptile-bench/datasets';
import { runEpisode } from '@reptile-bench/evaluation';
import { evaluationOptions } from '../assemble.ts';
import type { EvalMode, RunConfig } from '../config/schema.ts';
import { modeKeyOf } from '../records.ts';
import { fewShotOf, imagePreprocessingOf, type LoadedModel } from './run-model.ts';

/** The query folder's classes as labels of the support folder's (same names); errors name the odd folder. */
export function queryAgainstSupport(query: ImageFolder, support: ImageFolder): ImageFolder {
  const names = support.classes.map((c) => c.name);
  for (const c of query.classes)
    if (!names.includes(c.name))
      throw new Error(
        `${join(query.dir, c.name)}: class "${c.name}" is not among the support set's classes (${names.join(', ')})`,
      );
  // Labels follow the support set's class order; classes without queries are simply absent.
  return { dir: query.dir, classes: names.flatMap((name) => query.classes.filter((c) => c.name === name)) };
}

/** A labelled batch whose labels are the support set's class indices. */
export function labelledQueries(
  query: ImageFolder,
  support: ImageFolder,
  batch: (f: ImageFolder) => Batch,
): Batch {
  const aligned = queryAgainstSupport(query, support);
  const b = batch(aligned);
  const names = support.classes.map((c) => c.name);
  const labels = aligned.classes.flatMap((c) => c.files.map(() => names.indexOf(c.name)));
  return { ...b, y: Int32Array.from(labels) };
}

function subfolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

export interface FixedEpisodeOptions {
  modes?: EvalMode[];
  evalSeed?: number;
  json?: boolean;
}

/**
 * `evaluate <run> --episodes-from DIR`: every episode folder adapts the model with the run's own evaluation
 * settings on its support set and scores its query set; mean ± 95% CI over the episodes, per mode.
 */
export async function evaluateFixedEpisodes(
  dir: string,
  m: { loaded: LoadedModel; runId: string; config: RunConfig; modelFile: string },
  opts: FixedEpisodeOptions,
): Promise<void> {
  const root = resolve(dir);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`${root}: no such folder; --episodes-from takes a folder of episode folders`);
  const episodes = subfolders(root);
  if (episodes.length === 0)
    throw new Error(
      `${root}: no episode folders; each episode is a folder with support/ and query/ class folders`,
    );
  const { loaded } = m;
  const config = fewShotOf(m.config, m.runId);
  const preprocessing = imagePreprocessingOf(loaded, config, m.modelFile);
  await initBackend(config.backend);
  const modes = opts.modes ?? config.eval.modes;
  const adapt = evaluationOptions(config, 1, modes, 1, loaded.optimizerState).adapt;
  // The adaptation's mini-batches: drawn from --eval-seed (default 0), one stream per episode.
  const rng = createRng(opts.evalSeed ?? 0).derive('episodes-from');
  const ways = loaded.model.outputSize;
  const scores: Record<EvalMode, number[]> = { 'non-transductive': [], transductive: [] };
  for (const [e, name] of episodes.entries()) {
    const folder = join(root, name);
    const support = readImageFolder(join(folder, 'support'));
    if (support.classes.length !== ways)
      throw new Error(
        `${join(folder, 'support')}: ${support.classes.length} class folders, but the model adapts ${ways}-way ` +
          `(run ${m.runId}); each episode needs exactly ${ways} classes`,
      );
    const supportBatch = imageFolderBatch(support, preprocessing);
    const query = labelledQueries(readImageFolder(join(folder, 'query')), support, (f) =>
      imageFolderBatch(f, preprocessing),
    );
    const batches = miniBatches(
      supportBatch,
      adapt.batchSize,
      adapt.iterations,
      { replacement: adapt.replacement ?? false },
      rng.derive('episode', e),
    );
    const result = runEpisode(
      loaded.model,
      loaded.params,
      { support: supportBatch, query, batches },
      adapt,
      modes,
    );
    for (const mode of modes) scores[mode].push(result[mode] as number);
  }
  const summary = Object.fromEntries(
    modes.map((mode) => [modeKeyOf[mode], { ...meanWithCi(scores[mode]), per_episode: scores[mode] }]),
  );
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ run_id: m.runId, episodes_from: root, episodes: episodes.length, names: episodes, metric: 'accuracy', results: summary })}\n`,
    );
    return;
  }
  process.stdout.write(`run ${m.runId}, accuracy %, ${episodes.length} episodes from ${root}\n`);
  process.stdout.write('| mode | accuracy % |\n| --- | --- |\n');
  for (const mode of modes) {
    const r = meanWithCi(scores[mode]);
    process.stdout.write(
      `| ${mode} | ${(r.mean * 100).toFixed(2)} ± ${(r.ci95 * 100).toFixed(2)} (n=${r.n}) |\n`,
    );
  }
}
