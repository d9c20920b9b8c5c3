import { tf } from '@reptile-bench/backend';
import { meanWithCi, type Rng } from '@reptile-bench/core';
import type { EpisodeSampler } from '@reptile-bench/datasets';
import type { Model } from '@reptile-bench/models';
import { adaptToSupport } from './inner-loop.ts';
import { checkEvaluationOptions } from './options.ts';
import { accuracy, meanSquaredError, predictNonTransductive, predictTransductive } from './predict.ts';
import type { EvaluationOptions, EvaluationResult, LearnedInit, PredictionMode } from './types.ts';

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
  episode: ReturnType<EpisodeSampler['sample']>,
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

/**
 * The one evaluation protocol: for each of `episodes` test tasks, adapt a copy of the initialisation on the
 * support set (fresh optimizer, `adapt.iterations` steps) and score the query set, non-transductively and/or
 * transductively. Reports mean ± 1.96·σ/√n over the episodes. Never changes `init`.
 *
 * Episode `e` is drawn from `rng.derive('episode', e)` (task from `.derive('task')`, a per-episode init from
 * `.derive('init')`, mini-batches from `.derive('adapt')`), so results do not depend on evaluation order.
 */
export async function evaluate(
  model: Model,
  init: LearnedInit,
  sampler: EpisodeSampler,
  options: EvaluationOptions,
  rng: Rng,
): Promise<EvaluationResult> {
  const { episodes, adapt, modes } = checkEvaluationOptions(options);
  checkSampler(model, sampler);
  if (typeof init !== 'function') checkInit(model, init, 'evaluate: init');
  const started = performance.now();
  const scores: Record<PredictionMode, number[]> = { 'non-transductive': [], transductive: [] };
  for (let e = 0; e < episodes; e++) {
    options.signal?.throwIfAborted();
    const episodeRng = rng.derive('episode', e);
    const episode = sampler.sample(episodeRng.derive('task'));
    if (episode.query.size === 0) throw new RangeError('evaluate: the sampler produced an empty query set');
    let start: Float32Array[];
    if (typeof init === 'function') {
      start = init(episodeRng.derive('init'));
      checkInit(model, start, `evaluate: init(episode ${e})`);
    } else start = init;
    const adapted = adaptToSupport(model, start, episode.support, adapt, episodeRng.derive('adapt'));
    try {
      const episodeScores = scoreEpisode(model, adapted.params, episode, modes);
      for (const mode of modes) scores[mode].push(episodeScores[mode] as number);
    } finally {
      tf.dispose(adapted.params);
    }
    options.onProgress?.(e + 1, episodes);
    // Let timers, signals and progress output run between episodes.
    if (e % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
  }
  const result: EvaluationResult = {
    metric: model.task === 'classification' ? 'accuracy' : 'mse',
    perEpisode: {},
    episodes,
    seconds: (performance.now() - started) / 1000,
  };
  if (modes.includes('non-transductive')) {
    result.nonTransductive = meanWithCi(scores['non-transductive']);
    result.perEpisode.nonTransductive = scores['non-transductive'];
  }
  if (modes.includes('transductive')) {
    result.transductive = meanWithCi(scores.transductive);
    result.perEpisode.transductive = scores.transductive;
  }
  return result;
}
