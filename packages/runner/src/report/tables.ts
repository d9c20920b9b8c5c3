import { stringify } from 'csv-stringify/sync';
import type { RunConfig } from '../config/schema.ts';
import {
  type MetricKind,
  type ModeKey,
  metricKindOf,
  reportModeKeys,
  resultFromSummary,
  type StoredRun,
} from '../records.ts';
import { type ConfigSummary, displayValue, settingOf } from './aggregate.ts';
import { csvNumber } from './format.ts';

function iso(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toISOString();
}

function hyperparameters(config: RunConfig): Record<string, number | string> {
  const a = config.algorithm;
  const h: Record<string, number | string> = {};
  if ('meta_iters' in a) {
    h.meta_iters = a.meta_iters;
    h.meta_batch = a.meta_batch;
    h.inner_iters = a.inner_iters;
    h.inner_batch = a.inner_batch;
    h.learning_rate = a.learning_rate;
  } else if ('train_iters' in a) {
    h.meta_iters = a.train_iters;
    h.meta_batch = a.train_batch;
    h.learning_rate = a.learning_rate;
  } else if (a.name === 'local-sgd') {
    h.meta_batch = a.batch;
    h.learning_rate = a.learning_rate;
  }
  return h;
}

function metricColumnValue(metric: MetricKind, value: number | undefined): number | string {
  return value === undefined ? '' : csvNumber(displayValue(metric, value));
}

export const resultsColumns = [
  'run_id',
  'sweep',
  'name',
  'config_hash',
  'seed',
  'status',
  'setting',
  'dataset',
  'ways',
  'shots',
  'model',
  'algorithm',
  'meta_iters',
  'meta_batch',
  'inner_iters',
  'inner_batch',
  'learning_rate',
  'eval_iters',
  'eval_batch',
  'metric',
  'nontransductive',
  'nontransductive_ci95',
  'transductive',
  'transductive_ci95',
  'episodes',
  'test',
  'test_ci95',
  'train_seconds',
  'eval_seconds',
  'meta_iters_per_s',
  'cpu_seconds',
  'backend',
  'backend_version',
  'threads',
  'commit',
  'data_checksum',
  'started_at',
  'ended_at',
  'error',
] as const;

/** results.csv: one row per run (accuracy in percent, MSE as is; CIs are 95% half-widths over episodes). */
export function resultsCsv(runs: StoredRun[]): string {
  const rows = runs.map((run) => {
    const config = run.meta.config as RunConfig;
    const metric = metricKindOf(config);
    const d = config.dataset;
    const mode = (m: ModeKey) => resultFromSummary(run.summary, metric, m);
    const row: Record<(typeof resultsColumns)[number], unknown> = {
      run_id: run.meta.runId,
      sweep: run.meta.sweep,
      name: run.meta.name,
      config_hash: run.meta.configHash,
      seed: run.meta.seed,
      status: run.status,
      setting: settingOf(config),
      dataset: d.name,
      ways: d.name === 'omniglot' ? d.ways : '',
      shots: 'shots' in d ? d.shots : '',
      model: config.model.name,
      algorithm: config.algorithm.name,
      ...{ meta_iters: '', meta_batch: '', inner_iters: '', inner_batch: '', learning_rate: '' },
      ...hyperparameters(config),
      eval_iters: 'eval_iters' in config.eval ? config.eval.eval_iters : '',
      eval_batch: 'eval_batch' in config.eval ? config.eval.eval_batch : '',
      metric: metric === 'accuracy' ? 'accuracy_pct' : 'mse',
      nontransductive: metricColumnValue(metric, mode('nontransductive')?.mean),
      nontransductive_ci95: metricColumnValue(metric, mode('nontransductive')?.ci95),
      transductive: metricColumnValue(metric, mode('transductive')?.mean),
      transductive_ci95: metricColumnValue(metric, mode('transductive')?.ci95),
      episodes: (mode('nontransductive') ?? mode('transductive') ?? mode('test'))?.n ?? '',
      test: metricColumnValue(metric, mode('test')?.mean),
      test_ci95: metricColumnValue(metric, mode('test')?.ci95),
      train_seconds: csvNumber(run.summary.train_seconds, 4),
      eval_seconds: csvNumber(run.summary.eval_seconds, 4),
      meta_iters_per_s: csvNumber(run.summary.meta_iters_per_s, 4),
      cpu_seconds: csvNumber(run.summary.cpu_seconds, 4),
      backend: run.meta.backend.name,
      backend_version: run.meta.backend.version,
      threads: run.meta.backend.threads,
      commit: run.meta.commit,
      data_checksum: run.meta.dataChecksum,
      started_at: iso(run.startTime),
      ended_at: iso(run.endTime),
      error: run.error ?? '',
    };
    return row;
  });
  return stringify(rows, { header: true, columns: [...resultsColumns] });
}

export const summaryColumns = [
  'sweep',
  'setting',
  'name',
  'config_hash',
  'algorithm',
  'backend',
  'seeds',
  'unfinished_runs',
  'metric',
  'nontransductive',
  'nontransductive_ci95',
  'nontransductive_seed_ci95',
  'transductive',
  'transductive_ci95',
  'transductive_seed_ci95',
  'test',
  'test_ci95',
  'test_seed_ci95',
  'episodes',
  'train_seconds',
  'eval_seconds',
  'meta_iters_per_s',
  'paper_nontransductive',
  'paper_transductive',
] as const;

/**
 * summary.csv: one row per configuration. `<mode>` and `<mode>_ci95` are the mean and 95% CI over all test
 * episodes of all seeds; `<mode>_seed_ci95` is the 95% CI of the per-seed means (empty with one seed).
 */
export function summaryCsv(summaries: ConfigSummary[]): string {
  const rows = summaries.map((s) => {
    const m = (mode: ModeKey) => s.modes[mode];
    const row: Record<(typeof summaryColumns)[number], unknown> = {
      sweep: s.sweep,
      setting: s.setting,
      name: s.name,
      config_hash: s.configHash,
      algorithm: s.config.algorithm.name,
      backend: s.backend,
      seeds: s.seeds.length,
      unfinished_runs: s.unfinished.length,
      metric: s.metric === 'accuracy' ? 'accuracy_pct' : 'mse',
      nontransductive: metricColumnValue(s.metric, m('nontransductive')?.pooled.mean),
      nontransductive_ci95: metricColumnValue(s.metric, m('nontransductive')?.pooled.ci95),
      nontransductive_seed_ci95: metricColumnValue(s.metric, m('nontransductive')?.acrossSeeds.ci95),
      transductive: metricColumnValue(s.metric, m('transductive')?.pooled.mean),
      transductive_ci95: metricColumnValue(s.metric, m('transductive')?.pooled.ci95),
      transductive_seed_ci95: metricColumnValue(s.metric, m('transductive')?.acrossSeeds.ci95),
      test: metricColumnValue(s.metric, m('test')?.pooled.mean),
      test_ci95: metricColumnValue(s.metric, m('test')?.pooled.ci95),
      test_seed_ci95: metricColumnValue(s.metric, m('test')?.acrossSeeds.ci95),
      episodes: reportModeKeys.map((k) => s.modes[k]?.pooled.n).find((n) => n !== undefined) ?? '',
      train_seconds: csvNumber(s.trainSeconds, 4),
      eval_seconds: csvNumber(s.evalSeconds, 4),
      meta_iters_per_s: csvNumber(s.metaItersPerSecond, 4),
      paper_nontransductive: s.paper?.nontransductive ?? '',
      paper_transductive: s.paper?.transductive ?? '',
    };
    return row;
  });
  return stringify(rows, { header: true, columns: [...summaryColumns] });
}
