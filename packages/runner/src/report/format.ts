import type { MeanWithCi } from '@reptile-bench/core';
import type { MetricKind } from '../records.ts';
import { displayValue } from './aggregate.ts';

export function metricLabel(metric: MetricKind): string {
  return metric === 'accuracy' ? 'accuracy (%)' : 'MSE';
}

export function formatNumber(metric: MetricKind, value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const v = displayValue(metric, value);
  return metric === 'accuracy' ? v.toFixed(2) : v.toPrecision(3);
}

/** "97.12 ± 0.41" (accuracy in percent) or "0.123 ± 0.011" (MSE); the CI is left out when undefined. */
export function formatMeanCi(metric: MetricKind, value: MeanWithCi | undefined): string {
  if (!value) return '–';
  const mean = formatNumber(metric, value.mean);
  return Number.isFinite(value.ci95) ? `${mean} ± ${formatNumber(metric, value.ci95)}` : mean;
}

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '–';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m ${Math.round(seconds - m * 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatRate(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** Rounds for CSV output: enough digits to compare runs, without float noise. */
export function csvNumber(value: number | undefined, digits = 6): number | string {
  if (value === undefined || !Number.isFinite(value)) return '';
  return Number(value.toPrecision(digits));
}
