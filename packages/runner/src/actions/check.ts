import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { openRunStore } from '@reptile-bench/tracking';
import type { Command } from 'commander';
import {
  buildBaseline,
  checkRowForJson,
  compareWithBaseline,
  episodesFileOf,
  formatCheckTable,
  type MetricScores,
  readBaseline,
} from '../check.ts';
import { failCommand } from '../commands/options.ts';
import { parseOverride } from '../config/overrides.ts';
import { planSweep, type SweepPlan } from '../config/sweep.ts';
import { suiteFile } from '../paths.ts';
import { createProgress, type ProgressMode } from '../progress.ts';
import { type ModeKey, metricKindOf, reportModeKeys } from '../records.ts';
import { writeFileAtomic } from '../report/write.ts';
import { summaryText, sweepAndReport } from '../sweep-and-report.ts';

export interface CheckOptions {
  suite: string;
  out: string;
  baseline?: string;
  updateBaseline?: boolean;
  /** With --update-baseline: how many other training trajectories measure the noise (training_seed 1..n). */
  nullReplicates: number;
  set: string[];
  workers: number;
  json?: boolean;
  progress: ProgressMode;
}

/** Where each mode's scores are in a run's test-episodes.json (classification runs: one 0/1 per test example). */
const artifactKeys: Record<ModeKey, string> = {
  nontransductive: 'nonTransductive',
  transductive: 'transductive',
  test: 'test',
};

/** The per-episode scores of a plan's finished runs, per configuration and mode, from their artifacts. */
async function metricScores(out: string, plan: SweepPlan): Promise<MetricScores[]> {
  const store = openRunStore(out);
  const metrics = new Map<string, MetricScores>();
  for (const run of plan.runs) {
    const record = await store.getRun(run.runId);
    if (record?.status !== 'FINISHED') continue;
    const file = store.artifactPath(run.runId, 'test-episodes.json');
    const scores = JSON.parse(await readFile(file, 'utf8')) as Partial<Record<string, number[]>>;
    for (const mode of reportModeKeys) {
      const episodes = scores[artifactKeys[mode]];
      if (!Array.isArray(episodes)) continue;
      const key = `${run.name}\u0000${mode}`;
      const metric = metrics.get(key) ?? {
        config: run.name,
        configHash: run.configHash,
        kind: metricKindOf(run.config),
        mode,
        seeds: [],
      };
      metric.seeds.push({ seed: run.seed, runId: run.runId, episodes });
      metrics.set(key, metric);
    }
  }
  return [...metrics.values()];
}

/**
 * `reptile-bench check`: run (or reuse) a suite, then compare it with its baseline episode by episode, or write
 * a new baseline, measuring its noise with null replicates (the suite again along other training trajectories).
 */
export async function checkCommand(command: Command, opts: CheckOptions): Promise<void> {
  void command;
  const overrides = opts.set.map(parseOverride);
  const plan = planSweep(suiteFile(opts.suite), overrides);
  const baselineFile = opts.baseline ?? join(opts.out, 'baselines', `${plan.name}.json`);
  // Read the baseline first: a missing or broken one should fail before minutes of training, not after.
  const baseline = opts.updateBaseline ? undefined : await readBaseline(baselineFile);
  const run = async (p: SweepPlan, writeReportFiles: boolean) => {
    // A reporter per sweep: its counts ([done/total]) are of this sweep, not of every sweep of the check.
    const result = await sweepAndReport([p], {
      out: opts.out,
      workers: opts.workers,
      progress: createProgress(opts.progress),
      writeReportFiles,
    });
    process.stderr.write(`${summaryText(result)}\n`);
    if (result.failed.length > 0)
      failCommand(
        `check: ${result.failed.length} run(s) of suite ${p.name} did not finish; nothing compared`,
        1,
      );
    return metricScores(opts.out, p);
  };
  // The suite's reports describe the baseline: they are rewritten with it, not by every check.
  const current = await run(plan, opts.updateBaseline === true);
  if (!baseline) {
    const replicates = [];
    for (let k = 1; k <= opts.nullReplicates; k++) {
      process.stderr.write(`null replicate ${k}/${opts.nullReplicates}: the suite with training_seed=${k}\n`);
      const other = planSweep(suiteFile(opts.suite), [...overrides, { path: ['training_seed'], value: k }]);
      replicates.push({ trainingSeed: k, metrics: await run(other, false) });
    }
    const store = openRunStore(opts.out);
    const first = await store.getRun(plan.runs[0]!.runId);
    const commits = new Set<string>();
    for (const r of plan.runs) commits.add((await store.getRun(r.runId))?.meta.commit ?? 'unknown');
    const fresh = buildBaseline(plan.name, {
      sweep: plan.name,
      commit: [...commits].join(', '),
      backend: first ? `${first.meta.backend.name} ${first.meta.backend.version}` : 'unknown',
      baseline: current,
      replicates,
    });
    const { episodes, ...readable } = fresh;
    await mkdir(dirname(baselineFile), { recursive: true });
    await writeFileAtomic(episodesFileOf(baselineFile), `${JSON.stringify(episodes)}\n`);
    await writeFileAtomic(baselineFile, `${JSON.stringify(readable, null, 2)}\n`);
    process.stdout.write(
      `baseline written: ${baselineFile} (${fresh.metrics.length} metrics, noise from ${replicates.length} null replicate(s))\n`,
    );
    return;
  }
  const comparison = compareWithBaseline(baseline, current);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ suite: plan.name, baseline: baselineFile, passed: comparison.passed, regressions: comparison.regressions, missing: comparison.missing, rows: comparison.rows.map(checkRowForJson) })}\n`,
    );
  } else {
    process.stdout.write(`${formatCheckTable(comparison)}\n`);
  }
  if (!comparison.passed) failCommand(`check: suite ${plan.name} regressed against ${baselineFile}`, 1);
}
