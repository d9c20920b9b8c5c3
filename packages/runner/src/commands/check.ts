import type { Command } from 'commander';
import type { CheckOptions } from '../actions/check.ts';
import { collect, positiveInt, progressHelp, progressMode, workerCount } from './options.ts';

export function register(program: Command): void {
  program
    .command('check')
    .description('accuracy regression check: run (or reuse) a suite and compare it with its baseline')
    .option('--suite <name>', 'experiments/<name>.yaml, or a path to a sweep file', 'ci')
    .option('--out <dir>', 'folder for the run store and reports', 'results')
    .option('--baseline <file>', 'baseline file (default: <out>/baselines/<suite>.json)')
    .option(
      '--update-baseline',
      'write the current results as the new baseline (a deliberate change), measuring its noise first',
    )
    .option(
      '--null-replicates <n>',
      'with --update-baseline: runs of the suite along other training trajectories (training_seed 1..n) that measure the noise',
      positiveInt('--null-replicates'),
      3,
    )
    .option(
      '--set <key=value>',
      'override a config field in every run of the suite (repeatable)',
      collect,
      [],
    )
    .option('--workers <n|auto>', 'runs executed at once (auto: one per CPU core)', workerCount, 1)
    .option('--json', 'print the comparison as one JSON line on stdout')
    .option('--progress <mode>', progressHelp, progressMode, 'auto')
    .action(async function (this: Command, opts: CheckOptions) {
      const { checkCommand } = await import('../actions/check.ts');
      await checkCommand(this, opts);
    });
}
