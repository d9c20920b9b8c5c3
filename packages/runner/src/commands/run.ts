import type { Command } from 'commander';
import type { RunCommandOptions } from '../actions/run.ts';
import { collect, progressHelp, progressMode, seedOption } from './options.ts';

export function register(program: Command): void {
  program
    .command('run')
    .description('run one configuration: a run config file, or one run picked from a sweep file')
    .argument('<file>', 'a run config (e.g. experiments/base/sine.yaml) or a sweep file')
    .option(
      '--set <key=value>',
      'override a config field, e.g. algorithm.meta_iters=100 (repeatable)',
      collect,
      [],
    )
    .option('--seed <n>', 'seed of the run (default 0 for a run config file)', seedOption)
    .option('--only <text>', 'in a sweep file: the run whose name or id contains this text')
    .option('--sweep <name>', 'sweep name to record the run under (default: the file name)')
    .option('--out <dir>', 'folder for the run store and reports', 'results')
    .option('--force', 'run again even if this run finished before')
    .option('--dry-run', 'print the expanded plan (resolved config) and exit')
    .option('--json', 'print one machine-readable summary line on stdout at the end')
    .option('--progress <mode>', progressHelp, progressMode, 'auto')
    .action(async function (this: Command, file: string, opts: RunCommandOptions) {
      const { runCommand } = await import('../actions/run.ts');
      await runCommand(this, file, opts);
    });
}
