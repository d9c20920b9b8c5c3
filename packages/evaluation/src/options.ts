import type { AdaptOptions, EvaluationOptions, PredictionMode } from './types.ts';

/** Throws a RangeError naming `field` unless `value` is an integer ≥ `min`. */
export function requireInteger(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new RangeError(`${field} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return value;
}

/** Throws a RangeError naming `field` unless `value` is a finite number (> 0 when `positive`). */
export function requireNumber(value: unknown, field: string, positive = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (positive && value <= 0))
    throw new RangeError(
      `${field} must be a ${positive ? 'positive' : 'finite'} number, got ${JSON.stringify(value)}`,
    );
  return value;
}

export function requireOptimizer(value: unknown, field: string): 'adam' | 'sgd' {
  if (value !== 'adam' && value !== 'sgd')
    throw new RangeError(`${field} must be 'adam' or 'sgd', got ${JSON.stringify(value)}`);
  return value;
}

/** Validates adaptation settings; `where` prefixes the field names in errors (e.g. `evaluate: options.adapt`). */
export function checkAdaptOptions(adapt: AdaptOptions, where: string): Required<AdaptOptions> {
  if (adapt === null || typeof adapt !== 'object') throw new TypeError(`${where} must be an object`);
  return {
    optimizer: requireOptimizer(adapt.optimizer, `${where}.optimizer`),
    learningRate: requireNumber(adapt.learningRate, `${where}.learningRate`, true),
    iterations: requireInteger(adapt.iterations, `${where}.iterations`, 0),
    batchSize: requireInteger(adapt.batchSize, `${where}.batchSize`, 1),
    replacement: adapt.replacement ?? false,
  };
}

const allModes: PredictionMode[] = ['non-transductive', 'transductive'];

export function checkEvaluationOptions(options: EvaluationOptions): {
  episodes: number;
  adapt: Required<AdaptOptions>;
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
