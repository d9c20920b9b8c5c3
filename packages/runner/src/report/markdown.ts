import type { StoredRun } from '../records.ts';
import type { ConfigSummary } from './aggregate.ts';
import { distillationNote, distillationTable } from './distill.ts';
import { formatDuration, formatMeanCi, formatRate, metricLabel } from './format.ts';
import {
  paperReproductionNote,
  paperReproductionTable,
  pretrainingBesideNote,
  pretrainingBesideTable,
} from './paper.ts';

export interface Table {
  /** A heading for the setting, e.g. "omniglot-5w1s — accuracy (%)". */
  title: string;
  headers: string[];
  rows: string[][];
}

function describeSetting(s: ConfigSummary): string {
  const d = s.config.dataset;
  if (d.name === 'omniglot') {
    return `Omniglot ${d.ways}-way ${d.shots}-shot (${d.split} split) — ${metricLabel(s.metric)}, higher is better`;
  }
  if (d.name === 'fashion-mnist' || d.name === 'cifar10')
    return `${d.name === 'cifar10' ? 'CIFAR-10' : 'Fashion-MNIST'}, ${s.config.model.name} — test-set ${metricLabel(s.metric)}, higher is better`;
  if (d.name !== 'sine') return `${d.name} — ${metricLabel(s.metric)} on the test split, higher is better`;
  return `Sine waves, ${d.shots} support points — ${metricLabel(s.metric)} on ${d.query_shots} query points, lower is better`;
}

/** One table per setting: each configuration's results with the paper's number beside them. */
export function settingTables(summaries: ConfigSummary[]): Table[] {
  const bySetting = new Map<string, ConfigSummary[]>();
  for (const s of summaries) bySetting.set(s.setting, [...(bySetting.get(s.setting) ?? []), s]);
  const tables: Table[] = [];
  for (const [setting, group] of bySetting) {
    const withPaper = group.some((s) => s.paper);
    const headers = [
      'configuration',
      'algorithm',
      'seeds',
      'non-transductive',
      'transductive',
      ...(withPaper ? ['paper (non-tr. / tr.)'] : []),
      'train time',
      'meta-iters/s',
      'eval time',
    ];
    const rows = group.map((s) => [
      s.name,
      s.config.algorithm.name,
      `${s.seeds.length}${s.unfinished.length ? ` (+${s.unfinished.length} unfinished)` : ''}`,
      formatMeanCi(s.metric, s.modes.nontransductive?.pooled),
      formatMeanCi(s.metric, s.modes.transductive?.pooled),
      ...(withPaper
        ? [s.paper ? `${s.paper.nontransductive.toFixed(2)} / ${s.paper.transductive.toFixed(2)}` : '–']
        : []),
      formatDuration(s.trainSeconds),
      formatRate(s.metaItersPerSecond),
      formatDuration(s.evalSeconds),
    ]);
    tables.push({ title: `${setting}: ${describeSetting(group[0] as ConfigSummary)}`, headers, rows });
  }
  return tables;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(table: Pick<Table, 'headers' | 'rows'>): string {
  const line = (cells: string[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(table.headers), line(table.headers.map(() => '---')), ...table.rows.map(line)].join('\n');
}

export interface ReportContext {
  sweep: string;
  description?: string;
  generatedAt: Date;
  runs: StoredRun[];
}

/** The provenance line under the title: how many runs, which commits and backends produced them. */
export function provenance(context: ReportContext): string {
  const finished = context.runs.filter((r) => r.status === 'FINISHED');
  const commits = [...new Set(finished.map((r) => r.meta.commit))];
  const backends = [
    ...new Set(
      finished.map(
        (r) => `${r.meta.backend.name} ${r.meta.backend.version} (${r.meta.backend.threads} thread(s))`,
      ),
    ),
  ];
  const checksums = [...new Set(finished.map((r) => r.meta.dataChecksum.slice(0, 12)))];
  return [
    `${finished.length} of ${context.runs.length} runs finished`,
    `commit ${commits.join(', ') || '–'}`,
    `backend ${backends.join(', ') || '–'}`,
    `data ${checksums.join(', ') || '–'}`,
  ].join('; ');
}

export const methodNote =
  'Each cell is the mean ± 95% CI (1.96·σ/√n) over all test episodes of all seeds. Non-transductive: each ' +
  'query image is classified in a batch with the whole support set (batch norm sees one query at a time); ' +
  'transductive: all query images in one batch. The paper column is Reptile as published (Nichol et al. ' +
  '2018, 100k–200k meta-iterations); runs here may be shorter, see the configuration. Seed-to-seed CIs are in ' +
  'summary.csv.';

export function failedRunsTable(runs: StoredRun[]): Table | undefined {
  const failed = runs.filter((r) => r.status !== 'FINISHED');
  if (failed.length === 0) return undefined;
  return {
    title: 'Runs that did not finish',
    headers: ['run', 'configuration', 'seed', 'status', 'error'],
    rows: failed.map((r) => [
      r.meta.runId,
      r.meta.name,
      String(r.meta.seed),
      r.status,
      (r.error ?? '').split('\n')[0] ?? '',
    ]),
  };
}

export function reportMarkdown(
  context: ReportContext,
  summaries: ConfigSummary[],
  note = methodNote,
): string {
  const parts = [`# Sweep \`${context.sweep}\``, ''];
  if (context.description) parts.push(context.description, '');
  parts.push(`Runs up to ${context.generatedAt.toISOString()} — ${provenance(context)}.`, '', note, '');
  const paper = paperReproductionTable(summaries);
  if (paper) parts.push(`## ${paper.title}`, '', paperReproductionNote, '', markdownTable(paper), '');
  const pretraining = pretrainingBesideTable(summaries);
  if (pretraining)
    parts.push(`### ${pretraining.title}`, '', pretrainingBesideNote, '', markdownTable(pretraining), '');
  for (const table of settingTables(summaries)) parts.push(`## ${table.title}`, '', markdownTable(table), '');
  const distillation = distillationTable(summaries);
  if (distillation)
    parts.push(`## ${distillation.title}`, '', distillationNote, '', markdownTable(distillation), '');
  const failed = failedRunsTable(context.runs);
  if (failed) parts.push(`## ${failed.title}`, '', markdownTable(failed), '');
  parts.push(
    'Per-run rows: `results.csv`; per-configuration rows with seed CIs: `summary.csv`; charts: `report.html`.',
  );
  return `${parts.join('\n')}\n`;
}
