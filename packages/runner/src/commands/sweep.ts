import type { Command } from 'commander';
import type { SweepCommandOptions } from '../actions/sweep.ts';
import { collect, progressHelp, progressMode, workerCount } from './options.ts';
import { addQueueOptions, addRetryOptions } from './queue-options.ts';

export function register(program: Command): void {
  const command = program
    .command('sweep')
    .description('run sweep configs: expand them, reuse finished runs, run the rest, write reports')
    .argument('<files...>', 'sweep files, e.g. experiments/bench.yaml')
    .option('--out <dir>', 'folder for the run store (runs/) and the reports (<sweep>/)', 'results')
    .option(
      '--workers <n|auto>',
      'runs executed at once, each in its own process; auto: one per CPU core (more than the cores gains nothing)',
      workerCount,
      1,
    )
    .option(
      '--set <key=value>',
      'override a config field in every run, e.g. backend=cpu (repeatable)',
      collect,
      [],
    )
    .option(
      '--only <text>',
      'run only the runs whose name or id contains this text (repeatable: any of them); reports cover every run stored',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--force', 'run again even the runs that finished before (and start interrupted ones over)')
    .option('--dry-run', 'print the expanded plan and exit')
    .option('--json', 'print one machine-readable summary line on stdout at the end')
    .option('--progress <mode>', progressHelp, progressMode, 'auto')
    .option(
      '--detach',
      'with --queue: enqueue the runs and exit; `reptile-bench collect` gathers them later',
    );
  addRetryOptions(addQueueOptions(command)).action(async function (
    this: Command,
    files: string[],
    opts: SweepCommandOptions,
  ) {
    const { sweepCommand } = await import('../actions/sweep.ts');
    await sweepCommand(this, files, opts);
  });
}
