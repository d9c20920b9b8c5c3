import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';
import { type Override, parseOverride } from '../config/sweep.ts';
import type { ProgressMode } from '../progress.ts';

/** Shared option parsers for the runner's subcommands. */
export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
    return n;
  };
}

export function collectOverride(value: string, previous: Override[] = []): Override[] {
  try {
    return [...previous, parseOverride(value)];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

const progressModes: ProgressMode[] = ['auto', 'bars', 'lines', 'none'];
export function progressMode(value: string): ProgressMode {
  if (!(progressModes as string[]).includes(value))
    throw new InvalidArgumentError(`--progress must be one of ${progressModes.join(', ')}, got "${value}"`);
  return value as ProgressMode;
}

/** `--workers`: a count, or `auto` for one per CPU core (each worker process computes on one core). */
export function workerCount(value: string): number {
  if (value === 'auto') return availableParallelism();
  return positiveInt('--workers')(value);
}
