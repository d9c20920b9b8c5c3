// Reports of text sweeps (the distillation experiment): each configuration's test accuracy, size and speed, the
// students' gaps to their teacher at each label share, and a verdict on the claims the experiment tests.
import { configHash, type MeanWithCi, meanWithCi, stableStringify } from '@reptile-bench/core';
import { stringify } from 'csv-stringify/sync';
import { hashableConfig } from '../config/identity.ts';
import { isTextRun, type RunConfig, type TextRunConfig } from '../config/schema.ts';
import { teacherConfigOf } from '../config/teacher.ts';
import type { StoredRun } from '../records.ts';
import { poolMeanWithCi } from './aggregate.ts';
import { csvNumber, formatDuration } from './format.ts';
import { escapeHtml, htmlPage, htmlTable } from './html.ts';
import { failedRunsTable, markdownTable, provenance, type ReportContext, type Table } from './markdown.ts';

/** Whether a stored run is a text run. */
export function isTextRecord(run: StoredRun): boolean {
  return isTextRun(run.meta.config as RunConfig);
}

export type TextRole = 'teacher' | 'student' | 'distilled';

export interface TextConfigSummary {
  name: string;
  configHash: string;
  config: TextRunConfig;
  role: TextRole;
  /** The teacher config's hash, for distilled students. */
  teacherHash?: string;
  finished: StoredRun[];
  unfinished: StoredRun[];
  /** Test accuracy over every test sentence of every seed, and the spread of the seeds' accuracies. */
  test?: { pooled: MeanWithCi; acrossSeeds: MeanWithCi };
  validation?: MeanWithCi;
  bySeed: Map<number, { test: number; validation: number }>;
  parameters?: number;
  msPerSentence?: number;
  batchedMsPerSentence?: number;
  trainSeconds?: number;
  teacherLabelAccuracy?: number;
}

const meanOf = (values: Array<number | undefined>): number | undefined => {
  const finite = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  return finite.length > 0 ? finite.reduce((a, b) => a + b, 0) / finite.length : undefined;
};

function resultOf(summary: Record<string, number>, key: string): MeanWithCi | undefined {
  const mean = summary[key];
  const n = summary[`${key}_n`];
  if (mean === undefined || n === undefined) return undefined;
  return { mean, ci95: summary[`${key}_ci95`] ?? Number.NaN, std: summary[`${key}_std`] ?? Number.NaN, n };
}

/** Groups the text runs by config; the teachers are the configs some distilled student of the sweep names. */
export function summarizeTextConfigs(runs: StoredRun[]): TextConfigSummary[] {
  const groups = new Map<string, StoredRun[]>();
  for (const run of runs) groups.set(run.meta.configHash, [...(groups.get(run.meta.configHash) ?? []), run]);
  const teacherOf = new Map<string, string>();
  for (const [hash, group] of groups) {
    const teacher = teacherConfigOf((group[0] as StoredRun).meta.config as RunConfig);
    if (teacher) teacherOf.set(hash, configHash(hashableConfig(teacher)));
  }
  const teachers = new Set(teacherOf.values());
  const summaries: TextConfigSummary[] = [];
  for (const [hash, group] of groups) {
    group.sort((a, b) => a.meta.seed - b.meta.seed);
    const config = (group[0] as StoredRun).meta.config as TextRunConfig;
    const finished = group.filter((r) => r.status === 'FINISHED');
    const tests = finished.flatMap((r) => resultOf(r.summary, 'accuracy_test') ?? []);
    const validations = finished.flatMap((r) => resultOf(r.summary, 'accuracy_validation') ?? []);
    const bySeed = new Map<number, { test: number; validation: number }>();
    for (const r of finished) {
      const test = r.summary.accuracy_test;
      const validation = r.summary.accuracy_validation;
      if (test !== undefined && validation !== undefined) bySeed.set(r.meta.seed, { test, validation });
    }
    const role: TextRole =
      config.algorithm.name === 'sgd-distill' ? 'distilled' : teachers.has(hash) ? 'teacher' : 'student';
    const teacherHash = teacherOf.get(hash);
    const parameters = meanOf(finished.map((r) => r.summary.parameters));
    const msPerSentence = meanOf(finished.map((r) => r.summary.inference_ms_per_sentence));
    const batchedMsPerSentence = meanOf(finished.map((r) => r.summary.inference_batched_ms_per_sentence));
    const trainSeconds = meanOf(finished.map((r) => r.summary.train_seconds));
    const teacherLabelAccuracy = meanOf(finished.map((r) => r.summary.teacher_label_accuracy));
    summaries.push({
      name: (group[0] as StoredRun).meta.name,
      configHash: hash,
      config,
      role,
      ...(teacherHash ? { teacherHash } : {}),
      finished,
      unfinished: group.filter((r) => r.status !== 'FINISHED'),
      ...(tests.length > 0
        ? { test: { pooled: poolMeanWithCi(tests), acrossSeeds: meanWithCi(tests.map((t) => t.mean)) } }
        : {}),
      ...(validations.length > 0 ? { validation: poolMeanWithCi(validations) } : {}),
      bySeed,
      ...(parameters === undefined ? {} : { parameters }),
      ...(msPerSentence === undefined ? {} : { msPerSentence }),
      ...(batchedMsPerSentence === undefined ? {} : { batchedMsPerSentence }),
      ...(trainSeconds === undefined ? {} : { trainSeconds }),
      ...(teacherLabelAccuracy === undefined ? {} : { teacherLabelAccuracy }),
    });
  }
  const order: Record<TextRole, number> = { teacher: 0, student: 1, distilled: 2 };
  return summaries.sort(
    (a, b) =>
      order[a.role] - order[b.role] ||
      b.config.algorithm.label_fraction - a.config.algorithm.label_fraction ||
      a.name.localeCompare(b.name),
  );
}

/** What a labels-only student shares with a distilled one it is compared with. */
function studentKey(s: TextConfigSummary): string {
  const { dataset, model, backend, algorithm } = s.config;
  return stableStringify({ dataset, model, backend, labels: algorithm.label_fraction });
}

/** Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (then the normal's 1.96). */
const t975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** Mean ± t-based 95% CI of paired per-seed differences (NaN CI with fewer than 2 seeds). */
export function pairedDifference(a: Map<number, number>, b: Map<number, number>): MeanWithCi | undefined {
  const diffs = [...a.keys()].filter((s) => b.has(s)).map((s) => (a.get(s) as number) - (b.get(s) as number));
  if (diffs.length === 0) return undefined;
  const base = meanWithCi(diffs);
  if (diffs.length < 2) return base;
  const t = t975[diffs.length - 2] ?? 1.96;
  return { ...base, ci95: (t * base.std) / Math.sqrt(diffs.length) };
}

const pct = (v: number | undefined, digits = 1) =>
  v === undefined || !Number.isFinite(v) ? '–' : (100 * v).toFixed(digits);
const pctCi = (r: MeanWithCi | undefined) =>
  r === undefined ? '–' : Number.isFinite(r.ci95) ? `${pct(r.mean)} ± ${pct(r.ci95)}` : pct(r.mean);
const signed = (r: MeanWithCi | undefined) =>
  r === undefined
    ? '–'
    : `${r.mean >= 0 ? '+' : '−'}${pct(Math.abs(r.mean))}${Number.isFinite(r.ci95) ? ` ± ${pct(r.ci95)}` : ''}`;
const ms = (v: number | undefined) => (v === undefined ? '–' : v < 1 ? v.toFixed(3) : v.toFixed(2));
const count = (v: number | undefined) => (v === undefined ? '–' : Math.round(v).toLocaleString('en-US'));

function describeModel(config: TextRunConfig): string {
  const m = config.model;
  if (m.name !== 'lstm') return m.name;
  return `${m.bidirectional ? 'BiLSTM' : 'LSTM'} ${m.hidden} (embedding ${m.embedding}${m.pool === 'max' ? ', max-pooled' : ''})`;
}

function settingsOf(s: TextConfigSummary): string {
  const a = s.config.algorithm;
  return a.name === 'sgd-distill' ? `T = ${a.temperature}, α = ${a.alpha}` : 'hard labels';
}

/** Each configuration: role, model, size, label share, test and validation accuracy, speed. */
export function configurationTable(summaries: TextConfigSummary[]): Table {
  // Without teachers (e.g. a sweep choosing one) every run is plain supervised training: no roles to name.
  const roles = summaries.some((s) => s.role !== 'student');
  return {
    title: 'Configurations',
    headers: [
      'configuration',
      'role',
      'model',
      'parameters',
      'labels used',
      'training targets',
      'seeds',
      'test accuracy %',
      'seed-to-seed CI',
      'validation %',
      'ms / sentence',
      'ms / sentence (batches of 64)',
      'train time',
    ],
    rows: summaries.map((s) => [
      s.name,
      s.role === 'distilled'
        ? 'student, distilled'
        : s.role === 'student'
          ? roles
            ? 'student, labels only'
            : 'labels only'
          : 'teacher',
      describeModel(s.config),
      count(s.parameters),
      `${Math.round(100 * s.config.algorithm.label_fraction)}%`,
      settingsOf(s),
      `${s.finished.length}${s.unfinished.length ? ` (+${s.unfinished.length} unfinished)` : ''}`,
      pctCi(s.test?.pooled),
      s.test && Number.isFinite(s.test.acrossSeeds.ci95) ? `± ${pct(s.test.acrossSeeds.ci95)}` : '–',
      pct(s.validation?.mean),
      ms(s.msPerSentence),
      ms(s.batchedMsPerSentence),
      formatDuration(s.trainSeconds),
    ]),
  };
}

const testsOf = (s: TextConfigSummary) => new Map([...s.bySeed].map(([seed, v]) => [seed, v.test]));

export interface FractionComparison {
  fraction: number;
  teacher: TextConfigSummary;
  student?: TextConfigSummary;
  /** The distilled configuration with the best mean validation accuracy at this label share. */
  distilled?: TextConfigSummary;
  studentGap?: MeanWithCi;
  distilledGap?: MeanWithCi;
  distilledOverStudent?: MeanWithCi;
}

/**
 * Per teacher and label share: the labels-only student, the distilled student whose settings (T, α) did best on
 * the validation sentences (chosen without looking at the test sentences), and their paired per-seed gaps.
 */
export function compareByFraction(summaries: TextConfigSummary[]): FractionComparison[] {
  const out: FractionComparison[] = [];
  for (const teacher of summaries.filter((s) => s.role === 'teacher')) {
    const distilled = summaries.filter((s) => s.role === 'distilled' && s.teacherHash === teacher.configHash);
    // The labels-only students of the same data and model as the distilled ones.
    const keys = new Set(distilled.map(studentKey));
    const students = summaries.filter((s) => s.role === 'student' && keys.has(studentKey(s)));
    const fractions = [...new Set(distilled.map((d) => d.config.algorithm.label_fraction))].sort(
      (a, b) => b - a,
    );
    for (const fraction of fractions) {
      const candidates = distilled.filter(
        (d) => d.config.algorithm.label_fraction === fraction && d.bySeed.size > 0,
      );
      const validationOf = (d: TextConfigSummary) =>
        meanOf([...d.bySeed.values()].map((v) => v.validation)) ?? Number.NEGATIVE_INFINITY;
      const best = [...candidates].sort((a, b) => validationOf(b) - validationOf(a))[0];
      const student = students.find((s) => s.config.algorithm.label_fraction === fraction);
      const teacherTests = testsOf(teacher);
      const studentGap = student ? pairedDifference(testsOf(student), teacherTests) : undefined;
      const distilledGap = best ? pairedDifference(testsOf(best), teacherTests) : undefined;
      const distilledOverStudent =
        best && student ? pairedDifference(testsOf(best), testsOf(student)) : undefined;
      out.push({
        fraction,
        teacher,
        ...(student ? { student } : {}),
        ...(best ? { distilled: best } : {}),
        ...(studentGap ? { studentGap } : {}),
        ...(distilledGap ? { distilledGap } : {}),
        ...(distilledOverStudent ? { distilledOverStudent } : {}),
      });
    }
  }
  return out;
}

export function gapTable(comparisons: FractionComparison[]): Table {
  return {
    title: 'Students against the teacher, by share of labels',
    headers: [
      'labels used',
      'teacher %',
      'student, labels only %',
      'its gap to the teacher',
      'distilled student % (T, α chosen on validation)',
      'its gap to the teacher',
      'distillation − labels only',
    ],
    rows: comparisons.map((c) => [
      `${Math.round(100 * c.fraction)}%`,
      pctCi(c.teacher.test?.acrossSeeds),
      pctCi(c.student?.test?.acrossSeeds),
      signed(c.studentGap),
      c.distilled ? `${pctCi(c.distilled.test?.acrossSeeds)} (${settingsOf(c.distilled)})` : '–',
      signed(c.distilledGap),
      signed(c.distilledOverStudent),
    ]),
  };
}

/** "matches" when the CI of the gap covers 0, else above/below by the gap. */
function verdictOf(gap: MeanWithCi | undefined, what: [string, string, string]): string {
  if (gap === undefined || !Number.isFinite(gap.ci95)) return 'not measured (needs 2+ seeds of both)';
  if (gap.mean - gap.ci95 > 0) return `${what[0]} (${signed(gap)} points)`;
  if (gap.mean + gap.ci95 < 0) return `${what[2]} (${signed(gap)} points)`;
  return `${what[1]} (${signed(gap)} points, the CI covers 0)`;
}

export function verdictTable(summaries: TextConfigSummary[], comparisons: FractionComparison[]): Table {
  const rows: string[][] = [];
  const teacher = summaries.find((s) => s.role === 'teacher');
  const student = summaries.find((s) => s.role !== 'teacher');
  if (teacher && student && teacher.parameters && student.parameters) {
    const size = teacher.parameters / student.parameters;
    const speed =
      teacher.msPerSentence && student.msPerSentence
        ? teacher.msPerSentence / student.msPerSentence
        : undefined;
    rows.push([
      'The student is a small model and the teacher a large one',
      `${describeModel(student.config)}: ${count(student.parameters)} parameters, ${ms(student.msPerSentence)} ms a sentence; ${describeModel(teacher.config)}: ${count(teacher.parameters)}, ${ms(teacher.msPerSentence)} ms`,
      `yes: ${size.toFixed(1)}× fewer parameters${speed ? `, ${speed.toFixed(1)}× faster per sentence` : ''}`,
    ]);
  }
  if (teacher?.test)
    rows.push([
      'The teacher is a good classifier (simple models reach ~80–85% on this data)',
      `test accuracy ${pctCi(teacher.test.acrossSeeds)} % over ${teacher.finished.length} seed(s)`,
      teacher.test.acrossSeeds.mean >= 0.8 ? 'yes (≥ 80%)' : 'no (< 80%)',
    ]);
  const full = comparisons.find((c) => c.fraction === 1);
  if (full)
    rows.push([
      'A student trained to mimic the teacher reaches its performance (all labels)',
      `distilled ${pctCi(full.distilled?.test?.acrossSeeds)} % against ${pctCi(full.teacher.test?.acrossSeeds)} %`,
      verdictOf(full.distilledGap, ['yes, above the teacher', 'yes, within the CI', 'no, below the teacher']),
    ]);
  const little = [...comparisons].filter((c) => c.fraction < 1).sort((a, b) => a.fraction - b.fraction)[0];
  if (little)
    rows.push([
      `… with little data (${Math.round(100 * little.fraction)}% of the labels; the teacher, trained on all of them, labels the rest)`,
      `distilled ${pctCi(little.distilled?.test?.acrossSeeds)} % against ${pctCi(little.teacher.test?.acrossSeeds)} %`,
      verdictOf(little.distilledGap, [
        'yes, above the teacher',
        'yes, within the CI',
        'no, below the teacher',
      ]),
    ]);
  for (const c of comparisons)
    rows.push([
      `Mimicking the teacher beats training the student on its own labels (${Math.round(100 * c.fraction)}% of them)`,
      `distilled ${pctCi(c.distilled?.test?.acrossSeeds)} % against labels only ${pctCi(c.student?.test?.acrossSeeds)} %`,
      verdictOf(c.distilledOverStudent, ['yes', 'no significant difference', 'no, worse']),
    ]);
  return { title: "The document's claims", headers: ['claim', 'measured', 'verdict'], rows };
}

export const textMethodNote =
  'Test accuracy: mean ± 95% CI over every test sentence of every seed (each seed splits the data afresh); the ' +
  'seed-to-seed CI and the gaps are over the seeds (paired: a student and its teacher share each seed’s split), ' +
  'with Student’s t. Among the distilled settings (T, α) of a label share, the one with the best validation ' +
  'accuracy is compared, so the test sentences choose nothing. Times are CPU milliseconds of one thread on the ' +
  'wasm backend (the median over single sentences, and per sentence in batches of 64); they depend on the machine.';

export function textReportTables(runs: StoredRun[]): { summaries: TextConfigSummary[]; tables: Table[] } {
  const summaries = summarizeTextConfigs(runs);
  const comparisons = compareByFraction(summaries);
  const tables = [verdictTable(summaries, comparisons), gapTable(comparisons), configurationTable(summaries)];
  const failed = failedRunsTable(runs);
  return { summaries, tables: failed ? [...tables, failed] : tables };
}

export function textReportMarkdown(context: ReportContext, tables: Table[]): string {
  const parts = [`# Sweep \`${context.sweep}\``, ''];
  if (context.description) parts.push(context.description, '');
  parts.push(
    `Runs up to ${context.generatedAt.toISOString()} — ${provenance(context)}.`,
    '',
    textMethodNote,
    '',
  );
  for (const table of tables) parts.push(`## ${table.title}`, '', markdownTable(table), '');
  parts.push('Per-run rows: `results.csv`; per-configuration rows: `summary.csv`.');
  return `${parts.join('\n')}\n`;
}

export const textResultsColumns = [
  'run_id',
  'sweep',
  'name',
  'config_hash',
  'seed',
  'status',
  'algorithm',
  'model',
  'embedding',
  'hidden',
  'bidirectional',
  'pool',
  'parameters',
  'label_fraction',
  'temperature',
  'alpha',
  'token_dropout',
  'train_iters',
  'train_batch',
  'learning_rate',
  'test_accuracy_pct',
  'test_ci95',
  'validation_accuracy_pct',
  'teacher_label_accuracy_pct',
  'inference_ms_per_sentence',
  'inference_batched_ms_per_sentence',
  'train_seconds',
  'cpu_seconds',
  'backend',
  'backend_version',
  'commit',
  'data_checksum',
  'error',
] as const;

/** results.csv of a text sweep: one row per run. */
export function textResultsCsv(runs: StoredRun[]): string {
  const rows = runs.map((run) => {
    const config = run.meta.config as TextRunConfig;
    const a = config.algorithm;
    const m = config.model;
    const s = run.summary;
    const lstm = m.name === 'lstm' ? m : undefined;
    const row: Record<(typeof textResultsColumns)[number], unknown> = {
      run_id: run.meta.runId,
      sweep: run.meta.sweep,
      name: run.meta.name,
      config_hash: run.meta.configHash,
      seed: run.meta.seed,
      status: run.status,
      algorithm: a.name,
      model: m.name,
      embedding: lstm?.embedding ?? '',
      hidden: lstm?.hidden ?? '',
      bidirectional: lstm?.bidirectional ?? '',
      pool: lstm?.pool ?? '',
      parameters: s.parameters ?? '',
      label_fraction: a.label_fraction,
      temperature: a.name === 'sgd-distill' ? a.temperature : '',
      alpha: a.name === 'sgd-distill' ? a.alpha : '',
      token_dropout: a.token_dropout,
      train_iters: a.train_iters,
      train_batch: a.train_batch,
      learning_rate: a.learning_rate,
      test_accuracy_pct: csvNumber(s.accuracy_test === undefined ? undefined : 100 * s.accuracy_test),
      test_ci95: csvNumber(s.accuracy_test_ci95 === undefined ? undefined : 100 * s.accuracy_test_ci95),
      validation_accuracy_pct: csvNumber(
        s.accuracy_validation === undefined ? undefined : 100 * s.accuracy_validation,
      ),
      teacher_label_accuracy_pct: csvNumber(
        s.teacher_label_accuracy === undefined ? undefined : 100 * s.teacher_label_accuracy,
      ),
      inference_ms_per_sentence: csvNumber(s.inference_ms_per_sentence, 4),
      inference_batched_ms_per_sentence: csvNumber(s.inference_batched_ms_per_sentence, 4),
      train_seconds: csvNumber(s.train_seconds, 4),
      cpu_seconds: csvNumber(s.cpu_seconds, 4),
      backend: run.meta.backend.name,
      backend_version: run.meta.backend.version,
      commit: run.meta.commit,
      data_checksum: run.meta.dataChecksum,
      error: run.error ?? '',
    };
    return row;
  });
  return stringify(rows, { header: true, columns: [...textResultsColumns] });
}

/** summary.csv of a text sweep: one row per configuration (accuracy in percent). */
export function textSummaryCsv(summaries: TextConfigSummary[]): string {
  const rows = summaries.map((s) => ({
    name: s.name,
    config_hash: s.configHash,
    role: s.role,
    teacher_config_hash: s.teacherHash ?? '',
    model: describeModel(s.config),
    parameters: s.parameters ?? '',
    label_fraction: s.config.algorithm.label_fraction,
    targets: settingsOf(s),
    seeds: s.finished.length,
    unfinished_runs: s.unfinished.length,
    test_accuracy_pct: csvNumber(s.test ? 100 * s.test.pooled.mean : undefined),
    test_ci95: csvNumber(s.test ? 100 * s.test.pooled.ci95 : undefined),
    test_seed_ci95: csvNumber(s.test ? 100 * s.test.acrossSeeds.ci95 : undefined),
    validation_accuracy_pct: csvNumber(s.validation ? 100 * s.validation.mean : undefined),
    inference_ms_per_sentence: csvNumber(s.msPerSentence, 4),
    inference_batched_ms_per_sentence: csvNumber(s.batchedMsPerSentence, 4),
    train_seconds: csvNumber(s.trainSeconds, 4),
  }));
  return stringify(rows, {
    header: true,
    columns: [
      'name',
      'config_hash',
      'role',
      'teacher_config_hash',
      'model',
      'parameters',
      'label_fraction',
      'targets',
      'seeds',
      'unfinished_runs',
      'test_accuracy_pct',
      'test_ci95',
      'test_seed_ci95',
      'validation_accuracy_pct',
      'inference_ms_per_sentence',
      'inference_batched_ms_per_sentence',
      'train_seconds',
    ],
  });
}

/** report.html of a text sweep: the same tables as report.md, as one self-contained page. */
export function textReportHtml(context: ReportContext, tables: Table[]): string {
  const sections = tables.map(
    (t) => `<section>\n<h2>${escapeHtml(t.title)}</h2>\n${htmlTable(t)}\n</section>`,
  );
  return htmlPage(context, textMethodNote, sections);
}
