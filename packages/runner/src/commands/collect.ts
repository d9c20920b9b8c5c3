import type { Command } from 'commander';
import type { CollectCommandOptions } from '../actions/queue.ts';
import { collect, progressHelp, progressMode } from './options.ts';
import { addQueueOptions } from './queue-options.ts';

export function register(program: Command): void {
  const command = program
    .command('collect')
    .description(
      'gather the runs of sweeps enqueued with `sweep --queue` (e.g. --detach) into the run store and write the reports',
    )
    .argument('<files...>', 'the sweep files, as given to `sweep --queue`')
    .option('--out <dir>', 'folder for the run store (runs/) and the reports (<sweep>/)', 'results')
    .option('--set <key=value>', 'the same overrides as given to `sweep --queue` (repeatable)', collect, [])
    .option(
      '--only <text>',
      'the same --only as given to `sweep --queue` (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--wait', 'wait until every run has finished or failed (default: gather what is done now)')
    .option('--json', 'print one machine-readable summary line on stdout at the end')
    .option('--progress <mode>', progressHelp, progressMode, 'auto');
  addQueueOptions(command).action(async function (
    this: Command,
    files: string[],
    opts: CollectCommandOptions,
  ) {
    const { collectCommand } = await import('../actions/queue.ts');
    await collectCommand(files, opts);
  });
}
