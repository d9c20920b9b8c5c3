import { existsSync } from 'node:fs';
import { openRunStore } from '@reptile-bench/tracking';
import { planSweep } from '../config/sweep.ts';
import { storedRunsOf } from '../flow.ts';
import type { StoredRun } from '../records.ts';
import { writeReports } from '../report/write.ts';

/**
 * Regenerates reports from the run store without training. A target that is a sweep file reports the runs that
 * file plans now; a sweep name reports every stored run of that sweep; no target reports every stored sweep.
 */
export async function regenerateReports(targets: string[], out: string): Promise<string[]> {
  const store = openRunStore(out);
  const jobs: Array<{ sweep: { name: string; description?: string }; runs: StoredRun[] }> = [];
  if (targets.length === 0) {
    const names = [...new Set((await store.listRuns()).map((r) => r.meta.sweep))].sort();
    if (names.length === 0)
      throw new Error(`no runs in ${out}/runs; run a sweep first (reptile-bench sweep <file>)`);
    targets = names;
  }
  for (const target of targets) {
    if (existsSync(target)) {
      const plan = planSweep(target);
      jobs.push({ sweep: plan, runs: await storedRunsOf(out, plan) });
    } else {
      jobs.push({ sweep: { name: target }, runs: await store.listRuns({ sweep: target }) });
    }
  }
  const dirs: string[] = [];
  for (const job of jobs) {
    if (job.runs.length === 0) {
      throw new Error(`no stored runs for sweep "${job.sweep.name}" in ${out}; run it first or check --out`);
    }
    dirs.push((await writeReports(out, job.sweep, job.runs)).dir);
  }
  return dirs;
}
