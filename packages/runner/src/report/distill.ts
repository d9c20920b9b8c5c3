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
 * One row per sgd-distill configuration of the sweep whose teacher configuration is in it too: the student's
 * accuracy against its teacher's and, when the sweep has it, against sgd-pretrain with the student's own model
 * (the same small network trained on the labels alone), which is what says whether distillation helps at that size.
 */
export function distillationTable(summaries: ConfigSummary[]): Table | undefined {
  const byHash = new Map(summaries.map((s) => [`${s.sweep}\u0000${s.configHash}`, s]));
  const find = (sweep: string, config: RunConfig) =>
    byHash.get(`${sweep}\u0000${configHash(hashableConfig(config))}`);
  const rows: string[][] = [];
  for (const student of summaries) {
    const a = student.config.algorithm;
    if (a.name !== 'sgd-distill') continue;
    const teacherConfig = teacherConfigOf(student.config);
    if (teacherConfig === undefined) continue;
    const teacher = find(student.sweep, teacherConfig);
    if (teacher === undefined) continue;
    // The control: joint pre-training of the student's own architecture, on hard labels only.
    const alone = find(student.sweep, { ...teacherConfig, model: student.config.model });
    const diff = (other: ConfigSummary | undefined, mode: ModeKey) => {
      const s = student.modes[mode]?.pooled;
      const t = other?.modes[mode]?.pooled;
      return s && t ? differenceOf(s, t) : undefined;
    };
    const pct = (s: ConfigSummary | undefined, mode: ModeKey) =>
      s === undefined ? '–' : formatMeanCi(s.metric, s.modes[mode]?.pooled);
    for (const mode of ['nontransductive', 'transductive'] as const) {
      if (student.modes[mode] === undefined) continue;
      rows.push([
        student.setting,
        student.name,
        mode === 'transductive' ? 'transductive' : 'non-transductive',
        `${filtersOf(student.config)} / ${filtersOf(teacher.config)}`,
        `${parametersOf(student)} / ${parametersOf(teacher)}`,
        `T = ${a.temperature}, α = ${a.alpha}`,
        pct(student, mode),
        pct(teacher, mode),
        signedPoints(diff(teacher, mode)),
        pct(alone, mode),
        signedPoints(diff(alone, mode)),
        verdict(diff(alone, mode)),
      ]);
    }
  }
  if (rows.length === 0) return undefined;
  return {
    title:
      'Distillation: sgd-distill students against their teacher and against the same network without one',
    headers: [
      'setting',
      'student',
      'evaluation',
      'filters (student / teacher)',
      'parameters (student / teacher)',
      'distillation',
      'student %',
      'teacher (sgd-pretrain) %',
      'student − teacher (points)',
      'same network, sgd-pretrain %',
      'student − same network (points)',
      'distillation',
    ],
    rows,
  };
}

export const distillationNote =
  'Each student is trained from a fresh init on the teacher’s soft targets (α·T²·KL + (1 − α)·CE) over all ' +
  'training classes, then fine-tuned on each test episode exactly as sgd-pretrain is; the teacher is the ' +
  'sgd-pretrain run of the same seed (one run, shared with that row of the tables above). Differences are ' +
  'student − teacher with the CI of a difference of independent means, which is conservative: both are scored ' +
  'on the same test episodes. "Same network" is sgd-pretrain with the student’s architecture on the labels ' +
  'alone: distillation helps when the student beats it (the verdict), whatever its gap to the teacher. ' +
  'Parameters are those of the few-shot model.';
