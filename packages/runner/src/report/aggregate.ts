import { type MeanWithCi, meanWithCi } from '@reptile-bench/core';
import type { RunConfig } from '../config/schema.ts';
import {
  type MetricKind,
  type ModeKey,
  metricKindOf,
  reportModeKeys,
  resultFromSummary,
  type StoredRun,
} from '../records.ts';
import { publishedResult } from './published.ts';

/**
 * Mean ± 95% CI of the union of several samples, from each sample's mean, standard deviation and size: exactly
 * what meanWithCi would give on the concatenated values (total sum of squares = within + between samples).
 */
export function poolMeanWithCi(parts: MeanWithCi[]): MeanWithCi {
  if (parts.length === 0) throw new RangeError('poolMeanWithCi: no samples');
  const n = parts.reduce((s, p) => s + p.n, 0);
  const mean = parts.reduce((s, p) => s + p.mean * p.n, 0) / n;
  if (n < 2) return { mean, ci95: Number.NaN, std: Number.NaN, n };
  let ss = 0;
  for (const p of parts) {
    const within = p.n > 1 ? (p.n - 1) * p.std ** 2 : 0;
    ss += within + p.n * (p.mean - mean) ** 2;
  }
  const std = Math.sqrt(ss / (n - 1));
  return { mean, ci95: (1.96 * std) / Math.sqrt(n), std, n };
}

export interface ModeSummary {
  /** Over every test episode of every seed. */
  pooled: MeanWithCi;
  /** Over the seeds' means: how much meta-training itself varies. NaN with one seed. */
  acrossSeeds: MeanWithCi;
}

/** One configuration of a sweep, summarised over its seeds. */
export interface ConfigSummary {
  sweep: string;
  name: string;
  configHash: string;
  config: RunConfig;
  /** "omniglot-5w1s" or "sine": runs with the same setting are compared in one table and chart. */
  setting: string;
  metric: MetricKind;
  seeds: number[];
  finished: StoredRun[];
  /** Runs of this config that did not finish (failed or killed). */
  unfinished: StoredRun[];
  modes: Partial<Record<ModeKey, ModeSummary>>;
  trainSeconds?: number;
  evalSeconds?: number;
  /** CPU seconds of the run process, training and evaluation (unlike wall time, not moved by pauses or load). */
  cpuSeconds?: number;
  metaItersPerSecond?: number;
  backend: string;
  paper?: { nontransductive: number; transductive: number };
}

export function settingOf(config: RunConfig): string {
  const d = config.dataset;
  if (d.name === 'omniglot')
    return `omniglot-${d.ways}w${d.shots}s${d.split === 'official' ? '-official' : ''}`;
  // Classification: one setting per dataset and model, so the MLP and the CNN get a table each.
  if (d.name === 'fashion-mnist' || d.name === 'cifar10') return `${d.name}-${config.model.name}`;
  return 'sine';
}

const algorithmOrder = [
  'reptile',
  'fomaml',
  'maml',
  'sgd-pretrain',
  'sgd-distill',
  'sgd-scratch',
  'local-sgd',
];

function meanOf(values: number[]): number | undefined {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length > 0 ? finite.reduce((a, b) => a + b, 0) / finite.length : undefined;
}

/** Groups a sweep's runs by config hash and summarises each group; sorted by setting, algorithm, name. */
export function summarizeConfigs(runs: StoredRun[]): ConfigSummary[] {
  const groups = new Map<string, StoredRun[]>();
  for (const run of runs) {
    const key = `${run.meta.sweep}\u0000${run.meta.configHash}`;
    const list = groups.get(key) ?? [];
    list.push(run);
    groups.set(key, list);
  }
  const summaries: ConfigSummary[] = [];
  for (const group of groups.values()) {
    group.sort((a, b) => a.meta.seed - b.meta.seed);
    const first = group[0] as StoredRun;
    const config = first.meta.config as RunConfig;
    const metric = metricKindOf(config);
    const finished = group.filter((r) => r.status === 'FINISHED');
    const modes: Partial<Record<ModeKey, ModeSummary>> = {};
    for (const mode of reportModeKeys) {
      const perSeed = finished
        .map((r) => resultFromSummary(r.summary, metric, mode))
        .filter((r): r is MeanWithCi => r !== undefined);
      if (perSeed.length === 0) continue;
      modes[mode] = { pooled: poolMeanWithCi(perSeed), acrossSeeds: meanWithCi(perSeed.map((r) => r.mean)) };
    }
    const trainSeconds = meanOf(finished.map((r) => r.summary.train_seconds ?? Number.NaN));
    const evalSeconds = meanOf(finished.map((r) => r.summary.eval_seconds ?? Number.NaN));
    const cpuSeconds = meanOf(finished.map((r) => r.summary.cpu_seconds ?? Number.NaN));
    const metaItersPerSecond = meanOf(finished.map((r) => r.summary.meta_iters_per_s ?? Number.NaN));
    const paper = publishedResult(config);
    summaries.push({
      sweep: first.meta.sweep,
      name: first.meta.name,
      configHash: first.meta.configHash,
      config,
      setting: settingOf(config),
      metric,
      seeds: finished.map((r) => r.meta.seed),
      finished,
      unfinished: group.filter((r) => r.status !== 'FINISHED'),
      modes,
      ...(trainSeconds === undefined ? {} : { trainSeconds }),
      ...(evalSeconds === undefined ? {} : { evalSeconds }),
      ...(cpuSeconds === undefined ? {} : { cpuSeconds }),
      ...(metaItersPerSecond === undefined ? {} : { metaItersPerSecond }),
      backend: `${first.meta.backend.name} ${first.meta.backend.version}`,
      ...(paper ? { paper } : {}),
    });
  }
  const rank = (s: ConfigSummary) => {
    const i = algorithmOrder.indexOf(s.config.algorithm.name);
    return i < 0 ? algorithmOrder.length : i;
  };
  return summaries.sort(
    (a, b) => a.setting.localeCompare(b.setting) || rank(a) - rank(b) || a.name.localeCompare(b.name),
  );
}

/** A metric value as shown in tables: accuracy in percent, MSE as is. */
export function displayValue(metric: MetricKind, value: number): number {
  return metric === 'accuracy' ? value * 100 : value;
}
