import type { MeanWithCi } from '@reptile-bench/core';
import type { RunMeta, RunRecord } from '@reptile-bench/tracking';
import type { RunConfig } from './config/schema.ts';

/**
 * The parts of a stored run that the reports and the check read: the tracking package's RunRecord without the
 * fields they ignore (fixtures can then be written in full), `meta.config` being the resolved RunConfig and
 * `summary` using the keys below.
 */
export type StoredRun = Pick<
  RunRecord,
  'status' | 'startTime' | 'endTime' | 'error' | 'summary' | 'metrics'
> & {
  meta: Omit<RunMeta, 'params' | 'tags'>;
};

export type MetricKind = 'accuracy' | 'mse';
/** Few-shot evaluation modes as they appear in metric keys and table columns. */
export type FewShotModeKey = 'nontransductive' | 'transductive';
/** Every result kind of a run: the few-shot modes, and 'test' (test-set accuracy of a classification run). */
export type ModeKey = FewShotModeKey | 'test';
export const modeKeys: FewShotModeKey[] = ['nontransductive', 'transductive'];
/** The modes reports and the check look for in a summary. */
export const reportModeKeys: ModeKey[] = [...modeKeys, 'test'];
export const modeKeyOf = { 'non-transductive': 'nontransductive', transductive: 'transductive' } as const;

export function metricKindOf(config: RunConfig): MetricKind {
  return config.dataset.name === 'sine' ? 'mse' : 'accuracy';
}

/** Summary keys: `<metric>_<mode>` is the mean, then `_ci95`, `_std`, `_n` (episodes). */
export function summaryKey(metric: MetricKind, mode: ModeKey, stat?: 'ci95' | 'std' | 'n'): string {
  return stat ? `${metric}_${mode}_${stat}` : `${metric}_${mode}`;
}

/** Key of the learning-curve series logged during meta-training (one evaluation mode, few episodes). */
export function validationKey(metric: MetricKind): string {
  return `val_${metric}`;
}
/** Training seconds elapsed at each learning-curve point (same steps as the validation series). */
export const validationSecondsKey = 'val_train_seconds';
/** Classification runs: test-set accuracy and loss of the averaged model at each learning-curve point. */
export const testAccuracyKey = 'test_accuracy';
export const testLossKey = 'test_loss';
/** Classification runs: examples processed (all replicas together) at each learning-curve point. */
export const examplesKey = 'examples';

export function summaryFromResult(
  metric: MetricKind,
  results: Partial<Record<ModeKey, MeanWithCi>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const mode of reportModeKeys) {
    const r = results[mode];
    if (!r) continue;
    out[summaryKey(metric, mode)] = r.mean;
    out[summaryKey(metric, mode, 'ci95')] = r.ci95;
    out[summaryKey(metric, mode, 'std')] = r.std;
    out[summaryKey(metric, mode, 'n')] = r.n;
  }
  return out;
}

/** Reads one mode's statistics back from a run summary (undefined when that mode was not evaluated). */
export function resultFromSummary(
  summary: Record<string, number>,
  metric: MetricKind,
  mode: ModeKey,
): MeanWithCi | undefined {
  const mean = summary[summaryKey(metric, mode)];
  const n = summary[summaryKey(metric, mode, 'n')];
  if (mean === undefined || n === undefined) return undefined;
  return {
    mean,
    ci95: summary[summaryKey(metric, mode, 'ci95')] ?? Number.NaN,
    std: summary[summaryKey(metric, mode, 'std')] ?? Number.NaN,
    n,
  };
}

const timingKey = /seconds|per_s/;

/**
 * Every number a run records but for its times (which differ from run to run): what must be bit for bit the same
 * between a run and its rerun, its resumed copy, or its copy from a worker on the job queue.
 */
export function recordedNumbers(record: Pick<RunRecord, 'status' | 'summary' | 'metrics'>): {
  status: string;
  summary: Record<string, number>;
  metrics: Record<string, Array<[number, number]>>;
} {
  return {
    status: record.status,
    summary: Object.fromEntries(Object.entries(record.summary).filter(([k]) => !timingKey.test(k))),
    metrics: Object.fromEntries(
      Object.entries(record.metrics)
        .filter(([k]) => !timingKey.test(k))
        .map(([k, points]) => [k, points.map((p): [number, number] => [p.step, p.value])]),
    ),
  };
}
