import { type Command, CommanderError } from 'commander';
import { failCommand } from '../commands/options.ts';
import { ConfigError } from '../config/errors.ts';
import { parseOverride } from '../config/overrides.ts';
import { planSweeps, type SweepPlan } from '../config/sweep.ts';
import { createProgress, type ProgressMode } from '../progress.ts';
import { markdownTable } from '../report/markdown.ts';
import { type Scheduler, summaryJson, summaryText, sweepAndReport } from '../sweep-and-report.ts';
import { trainingIterations } from '../training.ts';

export interface SweepCommandOptions {
  out: string;
  workers: number;
  /** `key=value` overrides as typed. */
  set: string[];
  force?: boolean;
  /** Substrings of run names or ids: only matching runs are run (the reports still cover the whole sweep). */
  only?: string[];
  dryRun?: boolean;
  json?: boolean;
  progress: ProgressMode;
  /** Run on the job queue at this Redis URL (default $REPTILE_BENCH_QUEUE) instead of local processes. */
  queue?: string;
  insecure?: boolean;
  /** With a queue: enqueue and exit. */
  detach?: boolean;
  attempts?: number;
  backoff?: number;
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
        'episodes' in r.config.eval ? String(r.config.eval.episodes) : 'test split',
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
  schedule?: Scheduler,
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
    ...(schedule ? { schedule } : {}),
  });
  const text = summaryText(result);
  if (opts.json) {
    process.stderr.write(`${text}\n`);
    process.stdout.write(`${summaryJson(plans, result)}\n`);
  } else {
    process.stdout.write(`${text}\n`);
  }
  if (result.interrupted) {
    process.stderr.write(
      `interrupted (${result.interrupted}): rerun the same command to continue from the checkpoints\n`,
    );
    process.exitCode = result.interrupted === 'SIGINT' ? 130 : 143;
    throw new CommanderError(process.exitCode, 'reptile-bench.interrupted', '');
  }
  if (result.failed.length > 0) {
    failCommand(`${result.failed.length} run(s) did not finish; rerun the same command to retry them`, 1);
  }
}

/** `reptile-bench sweep <files...>`. */
export async function sweepCommand(
  command: Command,
  files: string[],
  opts: SweepCommandOptions,
): Promise<void> {
  const picked = pickRuns(files, opts.set, opts.only ?? []);
  const queue = opts.queue ?? process.env.REPTILE_BENCH_QUEUE;
  if (queue && !opts.dryRun) {
    const { sweepOnQueue } = await import('./queue.ts');
    await sweepOnQueue(command, files, picked, { ...opts, queue });
    return;
  }
  await executePlans(command, picked, opts);
}

/** The sweeps planned from `files` with `--set` overrides, narrowed to the runs `--only` names. */
export function pickRuns(files: string[], set: string[], only: string[]): SweepPlan[] {
  const plans = planSweeps(files, set.map(parseOverride));
  const picked =
    only.length === 0
      ? plans
      : plans.map((plan) => ({
          ...plan,
          runs: plan.runs.filter((r) => only.some((text) => r.name.includes(text) || r.runId.includes(text))),
          reportScope: typeof plan.reportScope === 'object' ? plan.reportScope : { runs: plan.runs },
        }));
  if (picked.every((plan) => plan.runs.length === 0))
    throw new ConfigError([
      {
        where: files.join(', '),
        field: '--only',
        message: `no run's name or id contains ${only.map((o) => JSON.stringify(o)).join(' or ')}`,
      },
    ]);
  return picked;
}
