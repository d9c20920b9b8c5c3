// A sweep end to end: run what is not finished, write the reports, summarise the outcome.
import { openRunStore } from '@reptile-bench/tracking';
import type { SweepPlan } from './config/sweep.ts';
import type { StoredRun } from './records.ts';
import { type WrittenReport, writeReports } from './report/write.ts';
import type { RunOutcome, SweepOptions } from './scheduler.ts';

/** The stored runs of a planned sweep (only the runs it plans now, so stale configs stay out of reports). */
export async function storedRunsOf(out: string, plan: SweepPlan): Promise<StoredRun[]> {
  const store = openRunStore(out);
  const runs: StoredRun[] = [];
  for (const run of plan.runs) {
    const record = await store.getRun(run.runId);
    if (record) runs.push(record);
  }
  return runs;
}

export interface SweepResult {
  outcomes: RunOutcome[];
  reports: WrittenReport[];
  failed: RunOutcome[];
  /** The signal that stopped the sweep, if one did. */
  interrupted?: NodeJS.Signals;
}

/** What runs the planned runs: local worker processes (`runSweeps`) unless told otherwise (the job queue). */
export type Scheduler = (
  plans: SweepPlan[],
  options: SweepOptions,
) => Promise<RunOutcome[] & { interrupted?: NodeJS.Signals }>;

/**
 * Runs the sweeps (resuming earlier work) and writes each sweep's reports from the run store, unless
 * `writeReportFiles` is false.
 */
export async function sweepAndReport(
  plans: SweepPlan[],
  options: SweepOptions & { writeReportFiles?: boolean; schedule?: Scheduler },
): Promise<SweepResult> {
  // Loaded here rather than at the top: the scheduler pulls in the training stack, which `--help`, `--dry-run`
  // and `report` do not need.
  const schedule = options.schedule ?? (await import('./scheduler.ts')).runSweeps;
  // Distillation students wait for their teachers (teachers.ts); without students this is `schedule`.
  const { runWithTeachers } = await import('./teachers.ts');
  const outcomes = await runWithTeachers(plans, options, schedule);
  const reports: WrittenReport[] = [];
  for (const plan of options.writeReportFiles === false ? [] : plans) {
    const scope = plan.reportScope;
    const runs =
      scope === 'stored'
        ? await openRunStore(options.out).listRuns({ sweep: plan.name })
        : await storedRunsOf(options.out, scope ? { ...plan, runs: scope.runs } : plan);
    if (runs.length === 0) continue;
    reports.push(await writeReports(options.out, plan, runs));
  }
  return {
    outcomes,
    reports,
    failed: outcomes.filter((o) => o.status !== 'FINISHED'),
    ...(outcomes.interrupted ? { interrupted: outcomes.interrupted } : {}),
  };
}

/** Replaces non-finite numbers (which JSON cannot hold) by null. */
function jsonNumbers(values: Record<string, number>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Number.isFinite(v) ? v : null]));
}

/** The one-line machine-readable summary printed by `--json`. */
export function summaryJson(plans: SweepPlan[], result: SweepResult): string {
  return JSON.stringify({
    sweep: plans.map((p) => p.name).join(','),
    ok: result.failed.length === 0,
    counts: {
      runs: result.outcomes.length,
      finished: result.outcomes.filter((o) => o.status === 'FINISHED').length,
      reused: result.outcomes.filter((o) => o.reused).length,
      failed: result.outcomes.filter((o) => o.status === 'FAILED').length,
      killed: result.outcomes.filter((o) => o.status === 'KILLED').length,
    },
    reports: result.reports.map((r) => r.dir),
    runs: result.outcomes.map((o) => ({
      id: o.run.runId,
      sweep: o.run.sweep,
      name: o.run.name,
      config_hash: o.run.configHash,
      seed: o.run.seed,
      status: o.status,
      reused: o.reused,
      seconds: Number(o.seconds.toFixed(3)),
      metrics: jsonNumbers(o.summary),
      ...(o.error ? { error: o.error } : {}),
    })),
  });
}

/** The human summary at the end of a sweep: counts, report folders and every failure with its error. */
export function summaryText(result: SweepResult): string {
  const finished = result.outcomes.filter((o) => o.status === 'FINISHED');
  const reused = finished.filter((o) => o.reused).length;
  const lines = [
    `${finished.length}/${result.outcomes.length} runs finished (${reused} reused), ${result.failed.length} failed or killed`,
  ];
  for (const r of result.reports) lines.push(`reports: ${r.dir}`);
  for (const f of result.failed)
    lines.push(
      `  ${f.status} ${f.run.runId} (${f.run.name} seed ${f.run.seed}): ${(f.error ?? '').split('\n')[0]}`,
    );
  return lines.join('\n');
}
