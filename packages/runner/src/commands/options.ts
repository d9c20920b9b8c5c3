import { availableParallelism } from 'node:os';
import { CommanderError, InvalidArgumentError } from 'commander';
import type { ProgressMode } from '../progress.ts';

// Option parsers shared by the runner's subcommands. This module and the command modules stay light (commander
// only): the config, training and report code is imported when a command runs, so `--help` is instant.

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
    return n;
  };
}

/** `--workers`: a count, or `auto` for one per CPU core (each worker process computes on one core). */
export function workerCount(value: string): number {
  if (value === 'auto') return availableParallelism();
  return positiveInt('--workers')(value);
}

export function seedOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`--seed must be a non-negative integer, got "${value}"`);
  return n;
}

/** Collects repeated `--set key=value` options; they are parsed (as YAML values) when the command runs. */
export function collect(value: string, previous: string[] = []): string[] {
  if (!value.includes('=') || value.startsWith('='))
    throw new InvalidArgumentError(`expected key=value (e.g. algorithm.meta_iters=100), got "${value}"`);
  return [...previous, value];
}

const progressModes: ProgressMode[] = ['auto', 'bars', 'lines', 'none'];
export function progressMode(value: string): ProgressMode {
  if (!(progressModes as string[]).includes(value))
    throw new InvalidArgumentError(`--progress must be one of ${progressModes.join(', ')}, got "${value}"`);
  return value as ProgressMode;
}

export const progressHelp = 'auto (bars on a terminal, lines otherwise), bars, lines or none';

/**
 * Ends a command that failed for a reason other than its usage (a run failed, a regression, a network error):
 * the message and an exit code, without the usage hint commander adds to its own errors.
 */
export function failCommand(message: string, exitCode = 1): never {
  process.stderr.write(`${message}\n`);
  throw new CommanderError(exitCode, 'reptile-bench.failed', message);
}
