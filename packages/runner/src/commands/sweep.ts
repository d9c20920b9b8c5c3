import type { Command } from 'commander';
import { type Override, planSweeps, type SweepPlan } from '../config/sweep.ts';
import { summaryJson, summaryText, sweepAndReport } from '../flow.ts';
import { createProgress, type ProgressMode } from '../progress.ts';
import { markdownTable } from '../report/markdown.ts';
import { trainingIterations } from '../training.ts';
import { collectOverride, progressMode, workerCount } from './options.ts';

export interface SweepCommandOptions {
  out: string;
  workers: number;
  set: Override[];
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  progress: ProgressMode;
}

/** The expanded plan as a table per sweep (what `--dry-run` prints). */
export function planText(plans: SweepPlan[]): string {
  return plans
    .map((plan) => {
      const configs = new Set(plan.runs.map((r) => r.configHash)).size;
      const header =
        `sweep ${plan.name} (${plan.file}): ${plan.runs.length} run(s), ${configs} configuration(s)` +
        (plan.duplicates ? `, ${plan.duplicates} duplicate(s) merged` : '');
      const rows = plan.runs.map((r) => [
        r.runId,
        r.name,
        String(r.seed),
        r.config.backend,
        String(trainingIterations(r.config.algorithm)),
        String(r.config.eval.episodes),
      ]);
      return `${header}\n${markdownTable({ headers: ['run id', 'name', 'seed', 'backend', 'meta-iters', 'test episodes'], rows })}`;
    })
    .join('\n\n');
}

/** Shared by `sweep` and `run`: dry run, or run + reports + summary, failing the command when a run failed. */
export async function executePlans(
  command: Command,
  plans: SweepPlan[],
  opts: SweepCommandOptions,
): Promise<void> {
  if (opts.dryRun) {
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ sweeps: plans.map((p) => ({ name: p.name, file: p.file, duplicates: p.duplicates, runs: p.runs })) })}\n`,
      );
    } else {
      process.stdout.write(`${planText(plans)}\n`);
    }
    return;
  }
  const result = await sweepAndReport(plans, {
    out: opts.out,
    workers: opts.workers,
    force: opts.force ?? false,
    progress: createProgress(opts.progress),
  });
  const text = summaryText(result);
  if (opts.json) {
    process.stderr.write(`${text}\n`);
    process.stdout.write(`${summaryJson(plans, result)}\n`);
  } else {
    process.stdout.write(`${text}\n`);
  }
  if (result.failed.length > 0) {
    command.error(`${result.failed.length} run(s) did not finish; rerun the same command to retry them`, {
      exitCode: 1,
    });
  }
}

export function register(program: Command): void {
  program
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
      collectOverride,
      [],
    )
    .option('--force', 'run again even the runs that finished before')
    .option('--dry-run', 'print the expanded plan and exit')
    .option('--json', 'print one machine-readable summary line on stdout at the end')
    .option(
      '--progress <mode>',
      'auto (bars on a terminal, lines otherwise), bars, lines or none',
      progressMode,
      'auto',
    )
    .action(async function (this: Command, files: string[], opts: SweepCommandOptions) {
      await executePlans(this, planSweeps(files, opts.set), opts);
    });
}
