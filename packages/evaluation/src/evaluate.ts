import { createReplicaPool, currentBackendInfo, packArrays, tf } from '@reptile-bench/backend';
import { meanWithCi, type Rng } from '@reptile-bench/core';
import { type Batch, type EpisodeSampler, miniBatches } from '@reptile-bench/datasets';
import { type Model, toTensors } from '@reptile-bench/models';
import { createOptimizer, trainOnBatches } from './inner-loop.ts';
import { checkEvaluationOptions } from './options.ts';
import { accuracy, meanSquaredError, predictNonTransductive, predictTransductive } from './predict.ts';
import type { ReplicaEpisodesJob } from './replica.ts';
import type {
  AdaptOptions,
  EvaluationOptions,
  EvaluationResult,
  LearnedInit,
  PredictionMode,
} from './types.ts';

/** Checks that `params` fit `model`, naming the first parameter that does not. */
export function checkInit(model: Model, params: Float32Array[], where: string): void {
  if (!Array.isArray(params) || params.length !== model.paramSpecs.length)
    throw new RangeError(
      `${where}: expected ${model.paramSpecs.length} parameter arrays for the ${model.kind} model, got ${
        Array.isArray(params) ? params.length : typeof params
      }`,
    );
  model.paramSpecs.forEach((spec, i) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const array = params[i];
    if (!(array instanceof Float32Array) || array.length !== size)
      throw new RangeError(
        `${where}: parameter ${i} (${spec.name}, shape [${spec.shape}]) needs a Float32Array of ${size} values, got ${
          array instanceof Float32Array ? `${array.length} values` : typeof array
        }`,
      );
  });
}

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
): Partial<Record<PredictionMode, number>> {
  const { support, query } = episode;
  const scores: Partial<Record<PredictionMode, number>> = {};
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
  init: LearnedInit,
  sampler: EpisodeSampler,
  adapt: Required<AdaptOptions>,
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
    checkInit(model, prepared.init, `evaluate: init(episode ${e})`);
  }
  return prepared;
}

/** Adapts a copy of the init with a fresh optimizer on the episode's batches and scores its query set. */
export function runEpisode(
  model: Model,
  init: Float32Array[],
  episode: PreparedEpisode,
  adapt: Pick<AdaptOptions, 'optimizer' | 'learningRate'>,
  modes: readonly PredictionMode[],
): Partial<Record<PredictionMode, number>> {
  const optimizer = createOptimizer(adapt);
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
 * support set (fresh optimizer, `adapt.iterations` steps) and score the query set, non-transductively and/or
 * transductively. Reports mean ± 1.96·σ/√n over the episodes. Never changes `init`.
 *
 * Episode `e` is drawn from `rng.derive('episode', e)` (see `prepareEpisode`), always in this thread, so results
 * depend neither on evaluation order nor on `workers`: with `workers > 1` the episodes' adaptation and scoring
 * run on replica threads, and the scores come back in episode order.
 */
export async function evaluate(
  model: Model,
  init: LearnedInit,
  sampler: EpisodeSampler,
  options: EvaluationOptions,
  rng: Rng,
): Promise<EvaluationResult> {
  const { episodes, adapt, modes, workers } = checkEvaluationOptions(options);
  checkSampler(model, sampler);
  if (typeof init !== 'function') checkInit(model, init, 'evaluate: init');
  const started = performance.now();
  const prepare = (e: number) => prepareEpisode(model, init, sampler, adapt, rng, e);
  const fixedInit = typeof init === 'function' ? undefined : init;
  const perEpisode =
    workers > 1
      ? await scoreOnReplicas(model, fixedInit, prepare, { ...options, episodes, adapt, modes, workers })
      : await scoreInThread(model, fixedInit, prepare, { ...options, episodes, adapt, modes });
  const result: EvaluationResult = {
    metric: model.task === 'classification' ? 'accuracy' : 'mse',
    perEpisode: {},
    episodes,
    seconds: (performance.now() - started) / 1000,
  };
  if (modes.includes('non-transductive')) {
    const scores = perEpisode.map((s) => s['non-transductive'] as number);
    result.nonTransductive = meanWithCi(scores);
    result.perEpisode.nonTransductive = scores;
  }
  if (modes.includes('transductive')) {
    const scores = perEpisode.map((s) => s.transductive as number);
    result.transductive = meanWithCi(scores);
    result.perEpisode.transductive = scores;
  }
  return result;
}

type EpisodeScores = Partial<Record<PredictionMode, number>>;
interface RunSettings {
  episodes: number;
  adapt: Required<AdaptOptions>;
  modes: PredictionMode[];
  onProgress?: EvaluationOptions['onProgress'];
  signal?: AbortSignal;
}

async function scoreInThread(
  model: Model,
  init: Float32Array[] | undefined,
  prepare: (e: number) => PreparedEpisode,
  o: RunSettings,
): Promise<EpisodeScores[]> {
  const scores: EpisodeScores[] = [];
  for (let e = 0; e < o.episodes; e++) {
    o.signal?.throwIfAborted();
    const episode = prepare(e);
    scores.push(runEpisode(model, init ?? (episode.init as Float32Array[]), episode, o.adapt, o.modes));
    o.onProgress?.(e + 1, o.episodes);
    // Let timers, signals and progress output run between episodes.
    if (e % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
  }
  return scores;
}

/** Episodes per replica request: large enough to amortise messaging, small enough to balance the threads. */
const chunkSize = 8;

async function scoreOnReplicas(
  model: Model,
  init: Float32Array[] | undefined,
  prepare: (e: number) => PreparedEpisode,
  o: RunSettings & { workers: number },
): Promise<EpisodeScores[]> {
  const backend = (await currentBackendInfo())?.name ?? 'wasm';
  const pool = await createReplicaPool({
    module: new URL('./replica.ts', import.meta.url),
    workers: o.workers,
    backend,
  });
  try {
    const shared = init === undefined ? undefined : packArrays(init, { shared: true });
    const scores: EpisodeScores[] = new Array(o.episodes);
    let next = 0;
    let done = 0;
    // Each lane keeps one request in flight; episodes are prepared here, just before they are sent.
    const lane = async () => {
      while (next < o.episodes) {
        o.signal?.throwIfAborted();
        const first = next;
        const count = Math.min(chunkSize, o.episodes - first);
        next += count;
        const episodes = Array.from({ length: count }, (_, i) => prepare(first + i));
        const job: ReplicaEpisodesJob = { model: model.config, episodes, adapt: o.adapt, modes: o.modes };
        if (shared !== undefined) job.init = shared;
        const result = await pool.run<EpisodeScores[]>('scoreEpisodes', job);
        result.forEach((s, i) => {
          scores[first + i] = s;
        });
        done += count;
        o.onProgress?.(done, o.episodes);
      }
    };
    await Promise.all(Array.from({ length: o.workers }, lane));
    return scores;
  } finally {
    await pool.destroy();
  }
}
