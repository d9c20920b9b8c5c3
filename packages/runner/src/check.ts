// The accuracy regression check: a candidate's runs of a suite against its baseline, episode by episode.
//
// Every run of the suite scores the same test episodes as the baseline run of the same configuration and seed
// (the episodes are drawn from the seed), so the comparison is paired: the change of a metric is the mean, over
// the suite's seeds, of the candidate's mean score minus the baseline's on the same episodes (for MSE, the log of
// their ratio). What a harmless change does to that number was measured when the baseline was made: the suite
// was run again with other training trajectories (another `training_seed`: what another summation order or any
// numerics-only change does), and the spread of those paired changes is the noise the tolerance is made of.
import { readFile } from 'node:fs/promises';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import type { MetricKind, ModeKey } from './records.ts';
import { displayValue } from './report/aggregate.ts';
import { formatNumber } from './report/format.ts';
import { markdownTable } from './report/markdown.ts';

export const baselineFormat = 'reptile-bench/baseline';
export const baselineVersion = 2;

/** Family-wise false-alarm rate the tolerances are set for: a harmless change fails the check this rarely. */
export const falseAlarmRate = 0.05;

/** Smallest tolerance, so that configurations whose trajectory does not vary (no training) allow float noise. */
export const toleranceFloor: Record<MetricKind, number> = {
  /** Accuracy points (as a fraction). */
  accuracy: 0.002,
  /** Log MSE ratio (≈ relative change). */
  mse: 0.005,
};

export function toleranceRule(metrics: number): string {
  return (
    'Paired comparison on the same test episodes. For each metric, change = mean over the suite seeds of ' +
    '(mean candidate score − mean baseline score) on that seed’s episodes (accuracy), or of log(candidate MSE / ' +
    'baseline MSE), signed so that positive is better. It regresses when change < −tolerance, or when it is not a ' +
    'number. tolerance = t_q(df) · null_sd / √seeds, where null_sd is the standard deviation of one seed’s paired ' +
    'change between two training trajectories (measured with the null replicates: the same suite with other ' +
    'training_seed values), df the number of such changes, and q = 1 − ' +
    `${falseAlarmRate}/${metrics}: one-sided, Bonferroni over the ${metrics} metrics, so a numerics-only change ` +
    `fails the whole check at most ${falseAlarmRate * 100}% of the time. Floors: ` +
    `${toleranceFloor.accuracy * 100} accuracy points, ${toleranceFloor.mse} in log MSE ratio.`
  );
}

/** A suite metric's scores on each seed's test episodes. */
export interface MetricScores {
  config: string;
  configHash: string;
  kind: MetricKind;
  mode: ModeKey;
  /** Per seed: the run and its per-episode scores, in episode order. */
  seeds: Array<{ seed: number; runId: string; episodes: number[] }>;
}

export interface BaselineMetric {
  config: string;
  config_hash: string;
  /** "accuracy_nontransductive", "mse_transductive", ... */
  metric: string;
  kind: MetricKind;
  mode: ModeKey;
  better: 'higher' | 'lower';
  /** Mean over the seeds of each seed's mean score. */
  value: number;
  seeds: Array<{ seed: number; run_id: string; mean: number; episodes: number }>;
  /** SD of one seed's paired change between two trajectories, in the change's units. */
  null_sd: number;
  /** Paired changes null_sd was measured from. */
  null_df: number;
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
  /** training_seed values of the null replicates. */
  null_replicates: number[];
  metrics: BaselineMetric[];
  /** Per-episode scores of the baseline runs, by run id and mode (kept in a file of their own). */
  episodes?: Record<string, Partial<Record<ModeKey, number[]>>>;
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * One seed's paired change, signed so that positive is better: accuracy, the mean difference on the same
 * episodes; MSE, the log of the ratio of the means (a relative change).
 */
export function pairedChange(kind: MetricKind, candidate: number[], baseline: number[]): number {
  if (candidate.length !== baseline.length)
    throw new RangeError(
      `pairedChange: ${candidate.length} candidate episodes against ${baseline.length} baseline episodes`,
    );
  if (candidate.length === 0) return Number.NaN;
  if (kind === 'accuracy') return mean(candidate) - mean(baseline);
  return Math.log(mean(baseline) / mean(candidate));
}

/** The tolerance of a metric from its null SD (see `toleranceRule`). */
export function toleranceFor(
  kind: MetricKind,
  nullSd: number,
  nullDf: number,
  seeds: number,
  metrics: number,
): number {
  const q = 1 - falseAlarmRate / Math.max(1, metrics);
  const t = nullDf > 0 ? tQuantile(q, nullDf) : Number.POSITIVE_INFINITY;
  const width = nullSd > 0 ? (t * nullSd) / Math.sqrt(seeds) : 0;
  return Math.max(toleranceFloor[kind], width);
}

/**
 * The baseline of a suite: its metrics on the baseline runs, and their null SDs measured from the null
 * replicates (the same configurations and seeds trained along other trajectories).
 */
export function buildBaseline(
  suite: string,
  o: {
    sweep: string;
    commit: string;
    backend: string;
    baseline: MetricScores[];
    replicates: Array<{ trainingSeed: number; metrics: MetricScores[] }>;
    created?: Date;
  },
): BaselineFile {
  const count = o.baseline.length;
  const metrics: BaselineMetric[] = o.baseline.map((m) => {
    const changes: number[] = [];
    for (const replicate of o.replicates) {
      const other = replicate.metrics.find((r) => r.config === m.config && r.mode === m.mode);
      for (const s of m.seeds) {
        const match = other?.seeds.find((r) => r.seed === s.seed);
        if (match) changes.push(pairedChange(m.kind, match.episodes, s.episodes));
      }
    }
    // Under the null the change is centred on 0: its SD is the root mean square.
    const nullSd = changes.length > 0 ? Math.sqrt(mean(changes.map((c) => c * c))) : 0;
    return {
      config: m.config,
      config_hash: m.configHash,
      metric: `${m.kind}_${m.mode}`,
      kind: m.kind,
      mode: m.mode,
      better: m.kind === 'accuracy' ? 'higher' : 'lower',
      value: mean(m.seeds.map((s) => mean(s.episodes))),
      seeds: m.seeds.map((s) => ({
        seed: s.seed,
        run_id: s.runId,
        mean: mean(s.episodes),
        episodes: s.episodes.length,
      })),
      null_sd: nullSd,
      null_df: changes.length,
      tolerance: toleranceFor(m.kind, nullSd, changes.length, m.seeds.length, count),
    };
  });
  const episodes: NonNullable<BaselineFile['episodes']> = {};
  for (const m of o.baseline)
    for (const s of m.seeds) {
      const run = episodes[s.runId] ?? {};
      run[m.mode] = s.episodes;
      episodes[s.runId] = run;
    }
  return {
    format: baselineFormat,
    version: baselineVersion,
    suite,
    sweep: o.sweep,
    created: (o.created ?? new Date()).toISOString(),
    commit: o.commit,
    backend: o.backend,
    tolerance_rule: toleranceRule(count),
    null_replicates: o.replicates.map((r) => r.trainingSeed),
    metrics,
    episodes,
  };
}

/** Where the per-episode scores of a baseline live: `<name>.episodes.json` beside it. */
export function episodesFileOf(baselineFile: string): string {
  return `${baselineFile.replace(/\.json$/, '')}.episodes.json`;
}

/** Reads and validates a baseline file and its per-episode scores, with errors that say what to do. */
export async function readBaseline(file: string): Promise<BaselineFile> {
  const parse = async (path: string): Promise<unknown> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new Error(`${path}: no baseline yet; create it with \`reptile-bench check --update-baseline\``);
      throw error;
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new Error(
        `${path}: not valid JSON (${(error as Error).message}); regenerate it with --update-baseline`,
      );
    }
  };
  const b = (await parse(file)) as Partial<BaselineFile>;
  if (b.format !== baselineFormat || b.version !== baselineVersion || !Array.isArray(b.metrics)) {
    throw new Error(
      `${file}: not a ${baselineFormat} v${baselineVersion} file (format ${JSON.stringify(b.format)}, version ` +
        `${JSON.stringify(b.version)}); regenerate it with --update-baseline`,
    );
  }
  for (const [i, m] of b.metrics.entries()) {
    for (const field of ['value', 'tolerance', 'null_sd'] as const) {
      if (typeof m?.[field] !== 'number' || !Number.isFinite(m[field]))
        throw new Error(
          `${file}: metrics[${i}].${field} must be a finite number, got ${JSON.stringify(m?.[field])}`,
        );
    }
    if (typeof m.config !== 'string' || typeof m.metric !== 'string' || !Array.isArray(m.seeds))
      throw new Error(`${file}: metrics[${i}] needs string "config" and "metric" and a list "seeds"`);
  }
  const episodesFile = episodesFileOf(file);
  const episodes = (await parse(episodesFile)) as BaselineFile['episodes'];
  for (const m of b.metrics)
    for (const s of m.seeds) {
      const scores = episodes?.[s.run_id]?.[m.mode];
      if (!Array.isArray(scores) || scores.length !== s.episodes)
        throw new Error(
          `${episodesFile}: run ${s.run_id} needs ${s.episodes} ${m.mode} scores for ${m.config}; regenerate the ` +
            'baseline with --update-baseline',
        );
    }
  return { ...(b as BaselineFile), episodes: episodes ?? {} };
}

export type CheckStatus = 'ok' | 'improved' | 'regressed' | 'missing' | 'new';

export interface CheckRow {
  config: string;
  metric: string;
  kind: MetricKind;
  baseline?: number;
  current?: number;
  /** Paired change (positive is better): accuracy points as a fraction, or log MSE ratio. */
  change?: number;
  tolerance?: number;
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
 * Compares a suite's results with its baseline metric by metric (matched by configuration name, mode and seed),
 * pairing each seed's episodes. A metric that changed for the worse by more than its tolerance, or is not a
 * number, or that the baseline has and the results lack, fails.
 */
export function compareWithBaseline(baseline: BaselineFile, current: MetricScores[]): CheckResult {
  const rows: CheckRow[] = [];
  const seen = new Set<string>();
  for (const b of baseline.metrics) {
    const key = `${b.config}\u0000${b.mode}`;
    seen.add(key);
    const c = current.find((m) => m.config === b.config && m.mode === b.mode);
    const missingSeeds = b.seeds.filter((s) => !c?.seeds.some((r) => r.seed === s.seed)).map((s) => s.seed);
    if (c === undefined || missingSeeds.length > 0) {
      rows.push({
        config: b.config,
        metric: b.metric,
        kind: b.kind,
        baseline: b.value,
        tolerance: b.tolerance,
        status: 'missing',
        note: `no finished run of this configuration for seed(s) ${missingSeeds.join(', ')}`,
      });
      continue;
    }
    const notes: string[] = [];
    const changes = b.seeds.map((s) => {
      const candidate = c.seeds.find((r) => r.seed === s.seed)!.episodes;
      const scores = baseline.episodes?.[s.run_id]?.[b.mode] ?? [];
      if (candidate.length !== scores.length) {
        notes.push(`seed ${s.seed}: ${candidate.length} episodes, the baseline has ${scores.length}`);
        return Number.NaN;
      }
      return pairedChange(b.kind, candidate, scores);
    });
    const change = mean(changes);
    const now = mean(
      c.seeds.filter((s) => b.seeds.some((x) => x.seed === s.seed)).map((s) => mean(s.episodes)),
    );
    if (c.configHash !== b.config_hash)
      notes.push(`config changed since the baseline (${b.config_hash} → ${c.configHash})`);
    if (!Number.isFinite(change)) notes.push('not a number');
    const status: CheckStatus = !Number.isFinite(change)
      ? 'regressed'
      : change < -b.tolerance
        ? 'regressed'
        : change > b.tolerance
          ? 'improved'
          : 'ok';
    rows.push({
      config: b.config,
      metric: b.metric,
      kind: b.kind,
      baseline: b.value,
      current: now,
      change,
      tolerance: b.tolerance,
      status,
      ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
    });
  }
  for (const c of current) {
    if (seen.has(`${c.config}\u0000${c.mode}`)) continue;
    rows.push({
      config: c.config,
      metric: `${c.kind}_${c.mode}`,
      kind: c.kind,
      current: mean(c.seeds.map((s) => mean(s.episodes))),
      status: 'new',
      note: 'not in the baseline',
    });
  }
  const regressions = rows.filter((r) => r.status === 'regressed').length;
  const missing = rows.filter((r) => r.status === 'missing').length;
  return { rows, regressions, missing, passed: regressions === 0 && missing === 0 };
}

/** A change as shown: accuracy in points, MSE as a relative change in percent. */
function formatChange(kind: MetricKind, change: number): string {
  if (!Number.isFinite(change)) return 'NaN';
  // MSE: the relative change of the MSE itself, negative when it grew.
  const value = kind === 'accuracy' ? change * 100 : (1 - Math.exp(-change)) * 100;
  const text = `${Math.abs(value).toFixed(2)}${kind === 'accuracy' ? '' : '%'}`;
  return `${value < 0 ? '−' : '+'}${text}`;
}

function formatTolerance(kind: MetricKind, tolerance: number): string {
  return kind === 'accuracy'
    ? (tolerance * 100).toFixed(2)
    : `${((Math.exp(tolerance) - 1) * 100).toFixed(2)}%`;
}

/** The old-vs-new table the check prints (accuracy in percent, MSE changes relative). */
export function formatCheckTable(result: CheckResult): string {
  const rows = result.rows.map((r) => [
    r.status === 'regressed' ? 'REGRESSED' : r.status === 'missing' ? 'MISSING' : r.status,
    r.config,
    r.metric,
    r.baseline === undefined ? '–' : formatNumber(r.kind, r.baseline),
    r.current === undefined ? '–' : formatNumber(r.kind, r.current),
    r.change === undefined ? '–' : formatChange(r.kind, r.change),
    r.tolerance === undefined ? '–' : formatTolerance(r.kind, r.tolerance),
    r.note ?? '',
  ]);
  const table = markdownTable({
    headers: [
      'status',
      'configuration',
      'metric',
      'baseline',
      'now',
      'paired change (+ better)',
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
