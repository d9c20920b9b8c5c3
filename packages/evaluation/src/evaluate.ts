import { createReplicaPool, currentBackendInfo, packArrays, tf } from '@reptile-bench/backend';
import { meanWithCi, type Rng } from '@reptile-bench/core';
import { type Batch, type EpisodeSampler, miniBatches } from '@reptile-bench/datasets';
import { checkParamArrays, type Model, toTensors, trainOnBatches } from '@reptile-bench/models';
import { adaptationOptimizer } from './adapt.ts';
import { type CheckedAdaptOptions, checkEvaluationOptions } from './options.ts';
import { accuracy, meanSquaredError, predictNonTransductive, predictTransductive } from './predict.ts';
import type { ReplicaEpisodesJob } from './replica.ts';
import type {
  AdaptOptions,
  EpisodeScores,
  EvaluatedInit,
  EvaluationOptions,
  EvaluationResult,
  PredictionMode,
} from './types.ts';

function checkSampler(model: Model, sampler: EpisodeSampler): void {
  if (sampler.task !== model.task)
    throw new RangeError(
      `evaluate: the sampler draws ${sampler.task} tasks but the model is built for ${model.task}`,
    );
  if (sampler.outputSize !== model.outputSize)
    throw new RangeError(
      `evaluate: the sampler's tasks have ${sampler.outputSize} outputs (ways) but the model has ${model.outputSize}`,
    );
  if (sampler.inputShape.join('×') !== model.inputShape.join('×'))
    throw new RangeError(
      `evaluate: the sampler's inputs are [${sampler.inputShape}] but the model expects [${model.inputShape}]`,
    );
}

/** Scores of one episode, one per requested mode. */
export function scoreEpisode(
  model: Model,
  params: tf.Tensor[],
  episode: { support: Batch; query: Batch },
  modes: readonly PredictionMode[],
): EpisodeScores {
  const { support, query } = episode;
  const scores: EpisodeScores = {};
  for (const mode of modes) {
    const outputs =
      mode === 'non-transductive'
        ? predictNonTransductive(model, params, support, query)
        : predictTransductive(model, params, query);
    try {
      scores[mode] =
        model.task === 'classification'
          ? accuracy(outputs, query.y as Int32Array)
          : meanSquaredError(outputs, query.y as Float32Array);
    } finally {
      outputs.dispose();
    }
  }
  return scores;
}

/** One prepared test episode: everything random already drawn, so any thread computes the same scores. */
export interface PreparedEpisode {
  support: Batch;
  query: Batch;
  /** The adaptation's mini-batches, in order. */
  batches: Batch[];
  /** This episode's own initialisation, when the learner gives one per episode. */
  init?: Float32Array[];
}

/** Draws episode `e`: the task from `.derive('task')`, an init from `.derive('init')`, batches from `.derive('adapt')`. */
export function prepareEpisode(
  model: Model,
  init: EvaluatedInit,
  sampler: EpisodeSampler,
  adapt: CheckedAdaptOptions,
  rng: Rng,
  e: number,
): PreparedEpisode {
  const episodeRng = rng.derive('episode', e);
  const { support, query } = sampler.sample(episodeRng.derive('task'));
  if (query.size === 0) throw new RangeError('evaluate: the sampler produced an empty query set');
  const batches = miniBatches(
    support,
    adapt.batchSize,
    adapt.iterations,
    { replacement: adapt.replacement },
    episodeRng.derive('adapt'),
  );
  const prepared: PreparedEpisode = { support, query, batches };
  if (typeof init === 'function') {
    prepared.init = init(episodeRng.derive('init'));
    checkParamArrays(model, prepared.init, `evaluate: init(episode ${e})`);
  }
  return prepared;
}

/**
 * Adapts a copy of the init on the episode's batches (fresh optimizer, or one continuing `adapt.startState`) and
 * scores its query set.
 */
export function runEpisode(
  model: Model,
  init: Float32Array[],
  episode: PreparedEpisode,
  adapt: Pick<AdaptOptions, 'optimizer' | 'learningRate' | 'startState'>,
  modes: readonly PredictionMode[],
): EpisodeScores {
  const optimizer = adaptationOptimizer(adapt);
  let params: tf.Tensor[] = [];
  try {
    params = trainOnBatches(model, optimizer, toTensors(model, episode.init ?? init), episode.batches).params;
    return scoreEpisode(model, params, episode, modes);
  } finally {
    tf.dispose(params);
    optimizer.dispose();
  }
}

/**
 * The one evaluation protocol: for each of `episodes` test tasks, adapt a copy of the initialisation on the
 * support set (`adapt.iterations` steps, from a fresh optimizer or `adapt.startState`) and score the query set,
 * non-transductively and/or transductively. Reports mean ± 1.96·σ/√n over the episodes. Never changes `init`.
 *
 * Episode `e` is drawn from `rng.derive('episode', e)` (see `prepareEpisode`), always in this thread, so results
 * depend neither on evaluation order nor on `workers`: with `workers > 1` the episodes' adaptation and scoring
 * run on replica threads, and the scores come back in episode order. Episodes in `options.done` are not run
 * again, so an interrupted evaluation resumes with the same result.
 */
export async function evaluate(
  model: Model,
  init: EvaluatedInit,
  sampler: EpisodeSampler,
  options: EvaluationOptions,
  rng: Rng,
): Promise<EvaluationResult> {
  const { episodes, adapt, modes, workers } = checkEvaluationOptions(options);
  checkSampler(model, sampler);
  if (typeof init !== 'function') checkParamArrays(model, init, 'evaluate: init');
  const started = performance.now();
  const prepare = (e: number) => prepareEpisode(model, init, sampler, adapt, rng, e);
  const fixedInit = typeof init === 'function' ? undefined : init;
  const scores: EpisodeScores[] = new Array(episodes);
  const pending: number[] = [];
  for (let e = 0; e < episodes; e++) {
    const done = options.done?.get(e);
    if (done !== undefined && modes.every((m) => typeof done[m] === 'number')) scores[e] = done;
    else pending.push(e);
  }
  const settings: RunSettings = {
    episodes,
    pending,
    adapt,
    modes,
    record: (e, s) => {
      scores[e] = s;
      options.onEpisode?.(e, s);
    },
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  if (workers > 1 && pending.length > 0)
    await scoreOnReplicas(model, fixedInit, prepare, { ...settings, workers });
  else await scoreInThread(model, fixedInit, prepare, settings);
  const result: EvaluationResult = {
    metric: model.task === 'classification' ? 'accuracy' : 'mse',
    perEpisode: {},
    episodes,
    seconds: (performance.now() - started) / 1000,
  };
  if (modes.includes('non-transductive')) {
    const values = scores.map((s) => s['non-transductive'] as number);
    result.nonTransductive = meanWithCi(values);
    result.perEpisode.nonTransductive = values;
  }
  if (modes.includes('transductive')) {
    const values = scores.map((s) => s.transductive as number);
    result.transductive = meanWithCi(values);
    result.perEpisode.transductive = values;
  }
  return result;
}

interface RunSettings {
  episodes: number;
  /** The episodes still to run, in order. */
  pending: number[];
  adapt: CheckedAdaptOptions;
  modes: PredictionMode[];
  record: (episode: number, scores: EpisodeScores) => void;
  onProgress?: EvaluationOptions['onProgress'];
  signal?: AbortSignal;
}

async function scoreInThread(
  model: Model,
  init: Float32Array[] | undefined,
  prepare: (e: number) => PreparedEpisode,
  o: RunSettings,
): Promise<void> {
  const already = o.episodes - o.pending.length;
  for (const [i, e] of o.pending.entries()) {
    o.signal?.throwIfAborted();
    const episode = prepare(e);
    o.record(e, runEpisode(model, init ?? (episode.init as Float32Array[]), episode, o.adapt, o.modes));
    o.onProgress?.(already + i + 1, o.episodes);
    // Let timers, signals and progress output run between episodes.
    if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
  }
  if (o.pending.length === 0) o.onProgress?.(o.episodes, o.episodes);
}

/** Episodes per replica request: large enough to amortise messaging, small enough to balance the threads. */
const chunkSize = 8;

async function scoreOnReplicas(
  model: Model,
  init: Float32Array[] | undefined,
  prepare: (e: number) => PreparedEpisode,
  o: RunSettings & { workers: number },
): Promise<void> {
  const backend = (await currentBackendInfo())?.name ?? 'wasm';
  const pool = await createReplicaPool({
    module: new URL('./replica.ts', import.meta.url),
    workers: o.workers,
    backend,
  });
  try {
    const shared = init === undefined ? undefined : packArrays(init, { shared: true });
    let next = 0;
    let done = o.episodes - o.pending.length;
    // Each lane keeps one request in flight; episodes are prepared here, just before they are sent.
    const lane = async () => {
      while (next < o.pending.length) {
        o.signal?.throwIfAborted();
        const chunk = o.pending.slice(next, next + chunkSize);
        next += chunk.length;
        const episodes = chunk.map((e) => prepare(e));
        const job: ReplicaEpisodesJob = { model: model.config, episodes, adapt: o.adapt, modes: o.modes };
        if (shared !== undefined) job.init = shared;
        const result = await pool.run<EpisodeScores[]>('scoreEpisodes', job);
        result.forEach((s, i) => {
          o.record(chunk[i]!, s);
        });
        done += chunk.length;
        o.onProgress?.(done, o.episodes);
      }
    };
    await Promise.all(Array.from({ length: o.workers }, lane));
  } finally {
    await pool.destroy();
  }
}
