import { readFile } from 'node:fs/promises';
import { type MetricKind, type ModeKey, reportModeKeys } from './records.ts';
import { type ConfigSummary, displayValue } from './report/aggregate.ts';
import { formatNumber } from './report/format.ts';
import { markdownTable } from './report/markdown.ts';

export const baselineFormat = 'reptile-bench/baseline';
export const baselineVersion = 1;

/** Smallest tolerance per metric kind, so a zero-width CI (identical episodes) does not flag float noise. */
export const toleranceFloor: Record<MetricKind, { absolute: number; relative: number }> = {
  accuracy: { absolute: 0.005, relative: 0 },
  mse: { absolute: 0, relative: 0.02 },
};

export const toleranceRule =
  'A metric regresses when it is worse than its baseline value by more than its tolerance. ' +
  'tolerance = max(ci95 of the baseline (95% CI half-width over all test episodes of all seeds), floor); ' +
  'floor = 0.005 absolute for accuracy (half a percentage point), 2% of the baseline value for MSE. ' +
  'Runs are deterministic (same config, seed and backend give the same numbers), so an unchanged code base ' +
  'reproduces the baseline exactly; the tolerance only absorbs changes within the measurement noise.';

export interface BaselineMetric {
  /** Configuration name in the suite (the key the check matches on). */
  config: string;
  config_hash: string;
  /** "accuracy_nontransductive", "mse_transductive", ... */
  metric: string;
  kind: MetricKind;
  mode: ModeKey;
  /** "higher" for accuracy, "lower" for MSE. */
  better: 'higher' | 'lower';
  value: number;
  ci95: number;
  n: number;
  tolerance: number;
}

export interface BaselineFile {
  format: typeof baselineFormat;
  version: typeof baselineVersion;
  suite: string;
  sweep: string;
  created: string;
  commit: string;
  backend: string;
  tolerance_rule: string;
  metrics: BaselineMetric[];
}

export function toleranceFor(kind: MetricKind, value: number, ci95: number): number {
  const floor = Math.max(toleranceFloor[kind].absolute, toleranceFloor[kind].relative * Math.abs(value));
  return Math.max(Number.isFinite(ci95) ? ci95 : 0, floor);
}

/** The baseline file for a suite's current results: every evaluated mode of every configuration. */
export function buildBaseline(
  suite: string,
  summaries: ConfigSummary[],
  o: { created?: Date } = {},
): BaselineFile {
  const metrics: BaselineMetric[] = [];
  for (const s of summaries) {
    for (const mode of reportModeKeys) {
      const m = s.modes[mode]?.pooled;
      if (!m) continue;
      metrics.push({
        config: s.name,
        config_hash: s.configHash,
        metric: `${s.metric}_${mode}`,
        kind: s.metric,
        mode,
        better: s.metric === 'accuracy' ? 'higher' : 'lower',
        value: m.mean,
        ci95: Number.isFinite(m.ci95) ? m.ci95 : 0,
        n: m.n,
        tolerance: toleranceFor(s.metric, m.mean, m.ci95),
      });
    }
  }
  const commits = [...new Set(summaries.flatMap((s) => s.finished.map((r) => r.meta.commit)))];
  const backends = [...new Set(summaries.map((s) => s.backend))];
  return {
    format: baselineFormat,
    version: baselineVersion,
    suite,
    sweep: summaries[0]?.sweep ?? suite,
    created: (o.created ?? new Date()).toISOString(),
    commit: commits.join(', '),
    backend: backends.join(', '),
    tolerance_rule: toleranceRule,
    metrics,
  };
}

/** Reads and validates a baseline file, with errors that say what to do. */
export async function readBaseline(file: string): Promise<BaselineFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${file}: no baseline yet; create it with \`reptile-bench check --update-baseline\``);
    }
    throw error;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `${file}: not valid JSON (${(error as Error).message}); regenerate it with --update-baseline`,
    );
  }
  const b = data as Partial<BaselineFile>;
  if (b.format !== baselineFormat || b.version !== baselineVersion || !Array.isArray(b.metrics)) {
    throw new Error(
      `${file}: not a ${baselineFormat} v${baselineVersion} file (format ${JSON.stringify(b.format)}, version ` +
        `${JSON.stringify(b.version)}); regenerate it with --update-baseline`,
    );
  }
  for (const [i, m] of b.metrics.entries()) {
    for (const field of ['value', 'tolerance'] as const) {
      if (typeof m?.[field] !== 'number' || !Number.isFinite(m[field]))
        throw new Error(
          `${file}: metrics[${i}].${field} must be a finite number, got ${JSON.stringify(m?.[field])}`,
        );
    }
    if (
      typeof m.config !== 'string' ||
      typeof m.metric !== 'string' ||
      !['higher', 'lower'].includes(m.better)
    )
      throw new Error(
        `${file}: metrics[${i}] needs string "config" and "metric" and "better": "higher" | "lower"`,
      );
  }
  return b as BaselineFile;
}

export type CheckStatus = 'ok' | 'improved' | 'regressed' | 'missing' | 'new';

export interface CheckRow {
  config: string;
  metric: string;
  kind: MetricKind;
  baseline?: number;
  tolerance?: number;
  current?: number;
  currentCi95?: number;
  /** current − baseline, signed so that positive is better. */
  gain?: number;
  status: CheckStatus;
  note?: string;
}

export interface CheckResult {
  rows: CheckRow[];
  regressions: number;
  missing: number;
  passed: boolean;
}

/**
 * Compares a suite's results with its baseline, metric by metric (matched by configuration name and metric).
 * A metric that got worse by more than its tolerance, or that the baseline has and the results lack, fails.
 */
export function compareWithBaseline(baseline: BaselineFile, summaries: ConfigSummary[]): CheckResult {
  const rows: CheckRow[] = [];
  const current = new Map<string, { value: number; ci95: number; hash: string; kind: MetricKind }>();
  for (const s of summaries) {
    for (const mode of reportModeKeys) {
      const m = s.modes[mode]?.pooled;
      if (m)
        current.set(`${s.name}\u0000${s.metric}_${mode}`, {
          value: m.mean,
          ci95: m.ci95,
          hash: s.configHash,
          kind: s.metric,
        });
    }
  }
  const seen = new Set<string>();
  for (const b of baseline.metrics) {
    const key = `${b.config}\u0000${b.metric}`;
    seen.add(key);
    const c = current.get(key);
    if (!c) {
      rows.push({
        config: b.config,
        metric: b.metric,
        kind: b.kind,
        baseline: b.value,
        tolerance: b.tolerance,
        status: 'missing',
        note: 'no finished run of this configuration',
      });
      continue;
    }
    const gain = b.better === 'higher' ? c.value - b.value : b.value - c.value;
    const status: CheckStatus = gain < -b.tolerance ? 'regressed' : gain > b.tolerance ? 'improved' : 'ok';
    rows.push({
      config: b.config,
      metric: b.metric,
      kind: b.kind,
      baseline: b.value,
      tolerance: b.tolerance,
      current: c.value,
      currentCi95: c.ci95,
      gain,
      status,
      ...(c.hash !== b.config_hash
        ? { note: `config changed since the baseline (${b.config_hash} → ${c.hash})` }
        : {}),
    });
  }
  for (const [key, c] of current) {
    if (seen.has(key)) continue;
    const [config, metric] = key.split('\u0000') as [string, string];
    rows.push({
      config,
      metric,
      kind: c.kind,
      current: c.value,
      currentCi95: c.ci95,
      status: 'new',
      note: 'not in the baseline',
    });
  }
  const regressions = rows.filter((r) => r.status === 'regressed').length;
  const missing = rows.filter((r) => r.status === 'missing').length;
  return { rows, regressions, missing, passed: regressions === 0 && missing === 0 };
}

function signed(kind: MetricKind, value: number): string {
  const text = formatNumber(kind, Math.abs(value));
  return `${value < 0 ? '−' : '+'}${text}`;
}

/** The old-vs-new table the check prints (accuracy in percent). */
export function formatCheckTable(result: CheckResult): string {
  const rows = result.rows.map((r) => [
    r.status === 'regressed' ? 'REGRESSED' : r.status === 'missing' ? 'MISSING' : r.status,
    r.config,
    r.metric,
    r.baseline === undefined ? '–' : formatNumber(r.kind, r.baseline),
    r.current === undefined ? '–' : formatNumber(r.kind, r.current),
    r.gain === undefined ? '–' : signed(r.kind, r.gain),
    r.tolerance === undefined ? '–' : formatNumber(r.kind, r.tolerance),
    r.note ?? '',
  ]);
  const table = markdownTable({
    headers: [
      'status',
      'configuration',
      'metric',
      'baseline',
      'now',
      'change (+ better)',
      'tolerance',
      'note',
    ],
    rows,
  });
  const verdict = result.passed
    ? `check passed: ${result.rows.filter((r) => r.status === 'ok' || r.status === 'improved').length} metric(s) within tolerance or better`
    : `check FAILED: ${result.regressions} regression(s), ${result.missing} missing metric(s)`;
  return `${table}\n\n${verdict}`;
}

/** For JSON output: values in display units next to the raw ones. */
export function checkRowForJson(row: CheckRow): Record<string, unknown> {
  const show = (v: number | undefined) => (v === undefined ? null : displayValue(row.kind, v));
  return { ...row, baseline_display: show(row.baseline), current_display: show(row.current) };
}
