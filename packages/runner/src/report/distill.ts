// The few-shot reports' distillation section: each sgd-distill configuration against its teacher, the sgd-pretrain
// configuration it was distilled from (whose few-shot accuracy is the baseline distillation has to beat).
import { configHash, type MeanWithCi } from '@reptile-bench/core';
import { hashableConfig } from '../config/identity.ts';
import type { RunConfig } from '../config/schema.ts';
import { teacherConfigOf } from '../config/teacher.ts';
import type { ModeKey } from '../records.ts';
import type { ConfigSummary } from './aggregate.ts';
import { formatMeanCi } from './format.ts';
import type { Table } from './markdown.ts';

/** Student − teacher with the CI of a difference of independent means, √(ci_s² + ci_t²) (conservative). */
export function differenceOf(student: MeanWithCi, teacher: MeanWithCi): MeanWithCi {
  const ci95 = Math.sqrt(student.ci95 ** 2 + teacher.ci95 ** 2);
  return { mean: student.mean - teacher.mean, ci95, std: Number.NaN, n: Math.min(student.n, teacher.n) };
}

function signedPoints(d: MeanWithCi | undefined): string {
  if (d === undefined) return '–';
  const v = 100 * d.mean;
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)} ± ${(100 * d.ci95).toFixed(2)}`;
}

function verdict(d: MeanWithCi | undefined): string {
  if (d === undefined || !Number.isFinite(d.ci95)) return '–';
  if (d.mean - d.ci95 > 0) return 'helps';
  if (d.mean + d.ci95 < 0) return 'hurts';
  return 'no significant difference';
}

const filtersOf = (config: RunConfig) => (config.model.name === 'conv4' ? String(config.model.filters) : '–');

function parametersOf(s: ConfigSummary): string {
  const values = s.finished.map((r) => r.summary.parameters).filter((v): v is number => v !== undefined);
  return values.length > 0 ? Math.round(values[0] as number).toLocaleString('en-US') : '–';
}

/**
 * One row per sgd-distill configuration of the sweep whose teacher configuration is in it too: both accuracies
 * per evaluation mode, the difference with its CI and whether distillation helps, by student size.
 */
export function distillationTable(summaries: ConfigSummary[]): Table | undefined {
  const byHash = new Map(summaries.map((s) => [`${s.sweep}\u0000${s.configHash}`, s]));
  const rows: string[][] = [];
  for (const student of summaries) {
    const a = student.config.algorithm;
    if (a.name !== 'sgd-distill') continue;
    const teacherConfig = teacherConfigOf(student.config);
    if (teacherConfig === undefined) continue;
    const teacher = byHash.get(`${student.sweep}\u0000${configHash(hashableConfig(teacherConfig))}`);
    if (teacher === undefined) continue;
    const diff = (mode: ModeKey) => {
      const s = student.modes[mode]?.pooled;
      const t = teacher.modes[mode]?.pooled;
      return s && t ? differenceOf(s, t) : undefined;
    };
    rows.push([
      student.setting,
      student.name,
      `${filtersOf(student.config)} / ${filtersOf(teacher.config)}`,
      `${parametersOf(student)} / ${parametersOf(teacher)}`,
      `T = ${a.temperature}, α = ${a.alpha}`,
      `${formatMeanCi(student.metric, student.modes.nontransductive?.pooled)} / ${formatMeanCi(teacher.metric, teacher.modes.nontransductive?.pooled)}`,
      signedPoints(diff('nontransductive')),
      `${formatMeanCi(student.metric, student.modes.transductive?.pooled)} / ${formatMeanCi(teacher.metric, teacher.modes.transductive?.pooled)}`,
      signedPoints(diff('transductive')),
      verdict(diff('nontransductive')),
    ]);
  }
  if (rows.length === 0) return undefined;
  return {
    title: 'Distillation: sgd-distill students against their sgd-pretrain teachers',
    headers: [
      'setting',
      'student',
      'filters (student / teacher)',
      'parameters (student / teacher)',
      'distillation',
      'non-transductive % (student / teacher)',
      'difference (points)',
      'transductive % (student / teacher)',
      'difference (points)',
      'distillation (non-transductive)',
    ],
    rows,
  };
}

export const distillationNote =
  'Each student is trained from a fresh init on the teacher’s soft targets (α·T²·KL + (1 − α)·CE) over all ' +
  'training classes, then fine-tuned on each test episode exactly as sgd-pretrain is; the teacher is the ' +
  'sgd-pretrain run of the same seed (one run, shared with that row of the tables above). Differences are ' +
  'student − teacher with the CI of a difference of independent means, which is conservative: both are scored ' +
  'on the same test episodes. Parameters are those of the few-shot model.';
