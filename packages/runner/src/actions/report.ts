import { existsSync } from 'node:fs';
import { openRunStore } from '@reptile-bench/tracking';
import { planSweep } from '../config/sweep.ts';
import { suiteFile } from '../paths.ts';
import type { StoredRun } from '../records.ts';
import { writeReports } from '../report/write.ts';
import { storedRunsOf } from '../sweep-and-report.ts';

/** The sweep file a sweep name stands for (experiments/<name>.yaml declaring that name), if there is one. */
function sweepFileNamed(name: string): string | undefined {
  const file = suiteFile(name);
  if (!existsSync(file)) return undefined;
  try {
    return planSweep(file).name === name ? file : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Regenerates reports from the run store without training. A sweep file (or a name with a file in
 * experiments/) reports the runs that file plans now, so configurations it no longer has stay out; a name
 * without a file reports every stored run of that sweep; no target reports every stored sweep.
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
    const file = existsSync(target) ? target : sweepFileNamed(target);
    if (file) {
      const plan = planSweep(file);
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
