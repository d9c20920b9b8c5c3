import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isClassificationRun } from '../config/schema.ts';
import type { StoredRun } from '../records.ts';
import { type ConfigSummary, summarizeConfigs } from './aggregate.ts';
import {
  averagingCharts,
  averagingMarkdown,
  averagingMethodNote,
  averagingSettings,
  averagingTables,
  costNote,
} from './averaging.ts';
import { settingCharts } from './charts.ts';
import { reportHtml } from './html.ts';
import { reportMarkdown } from './markdown.ts';
import { resultsCsv, summaryCsv } from './tables.ts';
import {
  isTextRecord,
  textReportHtml,
  textReportMarkdown,
  textReportTables,
  textResultsCsv,
  textSummaryCsv,
} from './text.ts';

/** Writes through a temporary file and a rename, so a reader never sees half a report. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, file);
}

export interface WrittenReport {
  dir: string;
  files: string[];
  summaries: ConfigSummary[];
}

/**
 * Writes `<out>/<sweep>/{results.csv,summary.csv,report.md,report.html}` from a sweep's stored runs. Runs are
 * sorted by name and seed, and the date shown is the latest run's end, so the same store always gives the same files.
 */
export async function writeReports(
  out: string,
  sweep: { name: string; description?: string },
  runs: StoredRun[],
  generatedAt?: Date,
): Promise<WrittenReport> {
  const sorted = [...runs].sort(
    (a, b) => a.meta.name.localeCompare(b.meta.name) || a.meta.seed - b.meta.seed,
  );
  // Text runs (the distillation experiment) have reports of their own (text.ts).
  if (sorted.length > 0 && sorted.every(isTextRecord))
    return writeTextReports(out, sweep, sorted, generatedAt);
  const summaries = summarizeConfigs(sorted.filter((r) => !isTextRecord(r)));
  // Single-task classification settings get their own tables (budgets, time to accuracy, verdicts).
  const fewShot = summaries.filter((s) => !isClassificationRun(s.config));
  const averaging = averagingSettings(summaries);
  const context = {
    sweep: sweep.name,
    ...(sweep.description === undefined ? {} : { description: sweep.description }),
    // The latest run's end rather than the clock: regenerating from the same store gives the same files.
    generatedAt: generatedAt ?? new Date(Math.max(0, ...sorted.map((r) => r.endTime ?? r.startTime))),
    runs: sorted,
  };
  const charts = [...(await settingCharts(fewShot)), ...(await averagingCharts(averaging))];
  const onlyAveraging = averaging.length > 0 && fewShot.length === 0;
  const markdown =
    averaging.length === 0
      ? reportMarkdown(context, summaries)
      : `${reportMarkdown(context, fewShot, onlyAveraging ? averagingMethodNote : undefined).trimEnd()}\n\n${averagingMarkdown(averaging)}`;
  const html = reportHtml(context, fewShot, charts, {
    ...(onlyAveraging ? { note: averagingMethodNote } : {}),
    sections: averaging.map((s) => ({ setting: s.setting, tables: averagingTables(s), note: costNote(s) })),
  });
  const dir = join(out, sweep.name);
  await mkdir(dir, { recursive: true });
  const files: Array<[string, string]> = [
    ['results.csv', resultsCsv(sorted)],
    ['summary.csv', summaryCsv(summaries)],
    ['report.md', markdown],
    ['report.html', html],
  ];
  for (const [name, content] of files) await writeFileAtomic(join(dir, name), content);
  const text = sorted.filter(isTextRecord);
  // A sweep of both kinds: the text runs' reports beside the others, as text-*.
  const textFiles =
    text.length > 0 ? (await writeTextReports(out, sweep, text, generatedAt, 'text-')).files : [];
  return { dir, files: [...files.map(([name]) => join(dir, name)), ...textFiles], summaries };
}

/** A text sweep's results.csv, summary.csv, report.md and report.html (text.ts), written like the others. */
async function writeTextReports(
  out: string,
  sweep: { name: string; description?: string },
  sorted: StoredRun[],
  generatedAt?: Date,
  prefix = '',
): Promise<WrittenReport> {
  const context = {
    sweep: sweep.name,
    ...(sweep.description === undefined ? {} : { description: sweep.description }),
    generatedAt: generatedAt ?? new Date(Math.max(0, ...sorted.map((r) => r.endTime ?? r.startTime))),
    runs: sorted,
  };
  const { summaries, tables } = textReportTables(sorted);
  const dir = join(out, sweep.name);
  await mkdir(dir, { recursive: true });
  const files: Array<[string, string]> = [
    ['results.csv', textResultsCsv(sorted)],
    ['summary.csv', textSummaryCsv(summaries)],
    ['report.md', textReportMarkdown(context, tables)],
    ['report.html', textReportHtml(context, tables)],
  ];
  for (const [name, content] of files) await writeFileAtomic(join(dir, `${prefix}${name}`), content);
  return { dir, files: files.map(([name]) => join(dir, `${prefix}${name}`)), summaries: [] };
}
