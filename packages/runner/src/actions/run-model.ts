import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ImagePreprocessing, omniglotPreprocessing } from '@reptile-bench/datasets';
import { loadModel } from '@reptile-bench/models';
import { openRunStore, type RunRecord } from '@reptile-bench/tracking';
import { type FewShotRunConfig, fewShotConfig, type RunConfig } from '../config/schema.ts';

export type LoadedModel = Awaited<ReturnType<typeof loadModel>>;

/**
 * A run's exported model and the run it came from. `target` is a run id in the store under `out`, or a model file
 * a run saved; errors say which of the two is missing and what to do.
 */
export async function loadRunModel(
  target: string,
  out: string,
): Promise<{ modelFile: string; loaded: LoadedModel; runId: string; run: RunRecord; config: RunConfig }> {
  const store = openRunStore(out);
  const isFile = existsSync(target);
  const modelFile = isFile ? resolve(target) : store.artifactPath(target, 'model.json');
  const loaded = isFile || existsSync(modelFile) ? await loadModel(modelFile) : undefined;
  const runId = isFile ? loaded?.metadata.runId : target;
  if (typeof runId !== 'string')
    throw new Error(`${target}: the model file names no run (metadata.runId); use models saved by a run`);
  const run = await store.getRun(runId);
  if (run === undefined)
    throw new Error(
      `run ${runId} is not in the run store ${join(resolve(out), 'runs')}; ` +
        'pass --out with the folder the run was written to, or a run id listed there',
    );
  const config = run.meta.config as RunConfig;
  if (loaded === undefined)
    throw new Error(
      `run ${runId} (${config.algorithm.name}) has no exported model (${modelFile}): ` +
        (run.status === 'FINISHED'
          ? 'this algorithm learns no initialisation (SGD from scratch starts every episode afresh)'
          : `the run is ${run.status}; finish it with reptile-bench sweep or run`),
    );
  if (loaded.metadata.configHash !== undefined && loaded.metadata.configHash !== run.meta.configHash)
    throw new Error(
      `${modelFile}: saved by a run with config hash ${String(loaded.metadata.configHash)}, but run ${runId} ` +
        `has ${run.meta.configHash}; the file does not belong to this run`,
    );
  return { modelFile, loaded, runId, run, config };
}

/** The run's config when it is a few-shot run (the only kind whose models adapt to a support set). */
export function fewShotOf(config: RunConfig, runId: string): FewShotRunConfig {
  try {
    return fewShotConfig(config);
  } catch (e) {
    throw new Error(
      `run ${runId}: ${(e as Error).message}; its model classifies directly, without adaptation`,
    );
  }
}

/**
 * How the model's inputs were made from image files: recorded in the model file, else (models saved before it
 * was recorded) the run's dataset settings.
 */
export function imagePreprocessingOf(
  loaded: LoadedModel,
  config: RunConfig,
  modelFile: string,
): ImagePreprocessing {
  const recorded = loaded.metadata.preprocessing as ImagePreprocessing | undefined;
  if (recorded !== undefined) return recorded;
  const d = config.dataset;
  if (d.name !== 'omniglot')
    throw new Error(
      `${modelFile}: a ${d.name} model takes no images; predict and --episodes-from need an image model`,
    );
  return omniglotPreprocessing(d.resize ?? 'area', d.ink ?? 1);
}
