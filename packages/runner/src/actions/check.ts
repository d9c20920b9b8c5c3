import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import {
  buildBaseline,
  checkRowForJson,
  compareWithBaseline,
  formatCheckTable,
  readBaseline,
} from '../check.ts';
import { failCommand } from '../commands/options.ts';
import { planSweep } from '../config/sweep.ts';
import { suiteFile } from '../paths.ts';
import { createProgress, type ProgressMode } from '../progress.ts';
import { summarizeConfigs } from '../report/aggregate.ts';
import { writeFileAtomic } from '../report/write.ts';
import { storedRunsOf, summaryText, sweepAndReport } from '../sweep-and-report.ts';

export interface CheckOptions {
  suite: string;
  out: string;
  baseline?: string;
  updateBaseline?: boolean;
  workers: number;
  json?: boolean;
  progress: ProgressMode;
}

/** `reptile-bench check`: run (or reuse) a suite, then compare it with its baseline or rewrite the baseline. */
export async function checkCommand(command: Command, opts: CheckOptions): Promise<void> {
  const plan = planSweep(suiteFile(opts.suite));
  const baselineFile = opts.baseline ?? join(opts.out, 'baselines', `${plan.name}.json`);
  // Read the baseline first: a missing or broken one should fail before minutes of training, not after.
  const baseline = opts.updateBaseline ? undefined : await readBaseline(baselineFile);
  const result = await sweepAndReport([plan], {
    out: opts.out,
    workers: opts.workers,
    progress: createProgress(opts.progress),
    // The suite's reports describe the baseline: they are rewritten with it, not by every check.
    writeReportFiles: opts.updateBaseline === true,
  });
  process.stderr.write(`${summaryText(result)}\n`);
  if (result.failed.length > 0) {
    failCommand(
      `check: ${result.failed.length} run(s) of suite ${plan.name} did not finish; nothing compared`,
      1,
    );
  }
  const summaries = summarizeConfigs(await storedRunsOf(opts.out, plan));
  if (!baseline) {
    const fresh = buildBaseline(plan.name, summaries);
    await mkdir(dirname(baselineFile), { recursive: true });
    await writeFileAtomic(baselineFile, `${JSON.stringify(fresh, null, 2)}\n`);
    process.stdout.write(`baseline written: ${baselineFile} (${fresh.metrics.length} metrics)\n`);
    return;
  }
  const comparison = compareWithBaseline(baseline, summaries);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ suite: plan.name, baseline: baselineFile, passed: comparison.passed, regressions: comparison.regressions, missing: comparison.missing, rows: comparison.rows.map(checkRowForJson) })}\n`,
    );
  } else {
    process.stdout.write(`${formatCheckTable(comparison)}\n`);
  }
  if (!comparison.passed) {
    failCommand(`check: suite ${plan.name} regressed against ${baselineFile}`, 1);
  }
}
