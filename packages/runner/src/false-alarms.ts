// How often the regression check fails the unmodified code: from null checks (the suite trained along new
// trajectories, another `training_seed`, and checked against the committed baseline), counted and estimated.
//
// Counting alone needs many checks to say anything (0 false alarms in 20 only bounds the rate below 14 %), and
// each check trains the whole suite. The estimate uses more of what every check measures: each metric's paired
// change, whose spread across the null checks is the noise the tolerance was sized for. The chance that the next
// numerics-only change moves a metric past its tolerance is the tail of the predictive distribution of that change
// (Student t with the null checks' mean and SD), and the check's family-wise rate is at most their sum. A second
// estimate models the check's own statistic, its largest loss relative to the tolerance, the same way.
import { type MeanWithCi, meanWithCi } from '@reptile-bench/core';
import betaQuantile from '@stdlib/stats-base-dists-beta-quantile';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import type { CheckRow } from './check.ts';

/** One check of the unmodified code along another training trajectory. */
export interface NullCheck {
  trainingSeed: number;
  passed: boolean;
  rows: CheckRow[];
}

export interface MetricNoise {
  config: string;
  metric: string;
  tolerance: number;
  /** Null checks with a finite change of this metric. */
  checks: number;
  /** Mean and SD of the change across them (positive is better; accuracy as a fraction, MSE as log ratio). */
  mean: number;
  sd: number;
  /** The predicted chance that the next null check's change is below −tolerance. */
  failProbability: number;
  /** Another metric of the same configuration whose change was the same in every check (they fail together). */
  sameAs?: string;
}

export interface FalseAlarmEstimate {
  checks: number;
  falseAlarms: number;
  /** One-sided 95 % upper confidence limit of the rate from the count alone (Clopper–Pearson). */
  countedUpper95: number;
  metrics: MetricNoise[];
  /** Upper estimate of the family-wise rate: the sum of the metrics' fail probabilities, each distinct once. */
  estimatedRate: number;
  /** Per check, its largest loss as a fraction of that metric's tolerance (the check fails above 1). */
  closest: number[];
  /** The rate estimated from `closest` itself (t predictive, as for a metric): correlations between metrics included. */
  closestRate: number;
}

/** The exact one-sided upper confidence limit of a binomial rate with `k` events in `n` trials. */
export function binomialUpper(k: number, n: number, confidence = 0.95): number {
  if (n <= 0) return 1;
  if (k >= n) return 1;
  return betaQuantile(confidence, k + 1, n - k);
}

/**
 * The chance that the next draw of a normal quantity, known only through `values`, falls below `bound`: the
 * predictive distribution is t with n − 1 degrees of freedom, centred on their mean, scaled by SD · √(1 + 1/n).
 */
export function predictiveBelow(values: number[], bound: number): number {
  return values.length < 2 ? Number.NaN : tailBelow(meanWithCi(values), bound);
}

function tailBelow({ mean, std, n }: MeanWithCi, bound: number): number {
  if (n < 2) return Number.NaN;
  if (std === 0) return mean < bound ? 1 : 0;
  return tCdf((bound - mean) / (std * Math.sqrt(1 + 1 / n)), n - 1);
}

/** Counts the false alarms of `checks` and estimates the rate from the spread of each metric's change. */
export function estimateFalseAlarms(checks: NullCheck[]): FalseAlarmEstimate {
  const byMetric = new Map<
    string,
    { config: string; metric: string; tolerance: number; changes: number[] }
  >();
  for (const check of checks)
    for (const row of check.rows) {
      if (typeof row.change !== 'number' || !Number.isFinite(row.change) || row.tolerance === undefined)
        continue;
      const key = `${row.config}\u0000${row.metric}`;
      const entry = byMetric.get(key) ?? {
        config: row.config,
        metric: row.metric,
        tolerance: row.tolerance,
        changes: [],
      };
      entry.changes.push(row.change);
      byMetric.set(key, entry);
    }
  const metrics: MetricNoise[] = [];
  const seen: Array<{ metric: MetricNoise; changes: number[] }> = [];
  for (const { config, metric, tolerance, changes } of byMetric.values()) {
    const summary = meanWithCi(changes);
    // E.g. an MLP's transductive and non-transductive scores (no batch statistics to differ in).
    const twin = seen.find(
      ({ metric: m, changes: other }) =>
        m.config === config &&
        m.tolerance === tolerance &&
        other.length === changes.length &&
        other.every((v, i) => v === changes[i]),
    );
    const noise: MetricNoise = {
      config,
      metric,
      tolerance,
      checks: summary.n,
      mean: summary.mean,
      sd: summary.std,
      failProbability: tailBelow(summary, -tolerance),
      ...(twin ? { sameAs: twin.metric.metric } : {}),
    };
    metrics.push(noise);
    seen.push({ metric: noise, changes });
  }
  const falseAlarms = checks.filter((c) => !c.passed).length;
  const closest = checks.map((c) =>
    Math.max(
      ...c.rows.map((r) =>
        typeof r.change === 'number' && r.tolerance !== undefined
          ? Number.isFinite(r.change)
            ? -r.change / r.tolerance
            : Number.POSITIVE_INFINITY
          : Number.NEGATIVE_INFINITY,
      ),
    ),
  );
  return {
    checks: checks.length,
    falseAlarms,
    countedUpper95: binomialUpper(falseAlarms, checks.length),
    metrics,
    estimatedRate: Math.min(
      1,
      metrics.filter((m) => m.sameAs === undefined).reduce((s, m) => s + m.failProbability, 0),
    ),
    closest,
    closestRate: closest.every(Number.isFinite)
      ? predictiveBelow(
          closest.map((v) => -v),
          -1,
        )
      : Number.NaN,
  };
}
