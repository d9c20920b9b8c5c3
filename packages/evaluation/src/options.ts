import { requireInteger, requireNumber, requireOneOf } from '@reptile-bench/core';
import type { AdaptOptions, EvaluationOptions, PredictionMode } from './types.ts';

export type CheckedAdaptOptions = ReturnType<typeof checkAdaptOptions>;

/** Validates adaptation settings; `where` prefixes the field names in errors (e.g. `evaluate: options.adapt`). */
export function checkAdaptOptions(
  adapt: AdaptOptions,
  where: string,
): Required<Omit<AdaptOptions, 'startState'>> & Pick<AdaptOptions, 'startState'> {
  if (adapt === null || typeof adapt !== 'object') throw new TypeError(`${where} must be an object`);
  return {
    optimizer: requireOneOf(adapt.optimizer, `${where}.optimizer`, ['adam', 'sgd']),
    learningRate: requireNumber(adapt.learningRate, `${where}.learningRate`, true),
    iterations: requireInteger(adapt.iterations, `${where}.iterations`, 0),
    batchSize: requireInteger(adapt.batchSize, `${where}.batchSize`, 1),
    replacement: adapt.replacement ?? false,
    ...(adapt.startState === undefined ? {} : { startState: adapt.startState }),
  };
}

const allModes: PredictionMode[] = ['non-transductive', 'transductive'];

export function checkEvaluationOptions(options: EvaluationOptions): {
  episodes: number;
  adapt: CheckedAdaptOptions;
  modes: PredictionMode[];
  workers: number;
} {
  const episodes = requireInteger(options.episodes ?? 1000, 'evaluate: options.episodes', 1);
  const adapt = checkAdaptOptions(options.adapt, 'evaluate: options.adapt');
  const modes = options.modes ?? allModes;
  if (!Array.isArray(modes) || modes.length === 0)
    throw new RangeError(`evaluate: options.modes must list at least one of ${allModes.join(', ')}`);
  for (const mode of modes)
    if (!allModes.includes(mode))
      throw new RangeError(
        `evaluate: options.modes has ${JSON.stringify(mode)}; allowed values: ${allModes.join(', ')}`,
      );
  const workers = requireInteger(options.workers ?? 1, 'evaluate: options.workers', 1);
  return { episodes, adapt, modes: allModes.filter((m) => modes.includes(m)), workers };
}
