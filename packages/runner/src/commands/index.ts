import type { Command } from 'commander';
import { register as check } from './check.ts';
import { register as collect } from './collect.ts';
import { register as data } from './data.ts';
import { register as evaluate } from './evaluate.ts';
import { register as predict } from './predict.ts';
import { register as report } from './report.ts';
import { register as run } from './run.ts';
import { register as sweep } from './sweep.ts';
import { register as sync } from './sync.ts';
import { register as throughput } from './throughput.ts';
import { register as worker } from './worker.ts';

/**
 * Every subcommand is a module in this folder exporting `register(program)`; list it here.
 * Keeping one line per command means packages can add their commands without touching each other's code.
 */
const commands: Array<(program: Command) => void> = [
  sweep,
  collect,
  worker,
  run,
  report,
  evaluate,
  predict,
  check,
  sync,
  data,
  throughput,
];

export function registerCommands(program: Command): void {
  for (const register of commands) register(program);
}
