// What identifies a run: the hash of everything that can change its numbers, and the id it is stored under.
import { hashNeutralDefaults, type RunConfig } from './schema.ts';

/**
 * What goes into the config hash: everything that can change the numbers a run produces, leaving out the fields
 * of `hashNeutralDefaults` that hold their neutral default.
 */
export function hashableConfig(
  config: RunConfig,
): Omit<RunConfig, 'name' | 'workers' | 'checkpoint' | 'max_loss'> {
  const { name: _name, workers: _workers, checkpoint: _checkpoint, max_loss: _maxLoss, ...rest } = config;
  const without = <T extends object>(part: T, neutral: Record<string, unknown>): T =>
    Object.fromEntries(
      Object.entries(part).filter(([key, value]) => !(key in neutral && neutral[key] === value)),
    ) as T;
  return {
    ...rest,
    dataset: without(rest.dataset, hashNeutralDefaults.dataset),
    algorithm: without(rest.algorithm, hashNeutralDefaults.algorithm),
    eval: without(rest.eval, hashNeutralDefaults.eval),
  };
}

export function runIdFor(sweep: string, hash: string, seed: number): string {
  return `${sweep}-${hash}-s${seed}`;
}
