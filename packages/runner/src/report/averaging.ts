// The report of single-task classification sweeps (local SGD against plain and large-batch SGD): test accuracy
// against examples processed and against training seconds, readouts at a fixed example budget and a fixed
// wall-clock budget, time to reach stated accuracies with CIs over seeds, the cost of a step, and a verdict on
// the claims that periodic averaging trains faster and more accurately than plain SGD.
import type { RunConfig } from '../config/schema.ts';
import { isClassificationRun } from '../config/schema.ts';
import { examplesKey, testAccuracyKey, validationSecondsKey } from '../records.ts';
import type { ConfigSummary } from './aggregate.ts';
import { type Chart, renderSvg } from './charts.ts';
import { formatDuration } from './format.ts';
import { markdownTable, type Table } from './markdown.ts';

/** Accuracies whose time to reach the report states, per setting (dataset-model). */
export const accuracyTargets: Record<string, number[]> = {
  'fashion-mnist-mlp': [0.85, 0.88],
  'fashion-mnist-cnn': [0.88, 0.9],
  'cifar10-mlp': [0.45, 0.5],
  'cifar10-cnn': [0.6, 0.65],
};

/** Two-sided 95% Student t quantiles by degrees of freedom (1..30); beyond, the normal 1.96. */
const t975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export interface SeedStat {
  mean: number;
  /** 95% half-width over seeds (Student t with n − 1 degrees of freedom); NaN with one value. */
  ci95: number;
  n: number;
}

/** Mean ± 95% CI (Student t) of per-seed values; undefined values are left out. */
export function seedStat(values: Array<number | undefined>): SeedStat | undefined {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length === 0) return undefined;
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  if (v.length === 1) return { mean, ci95: Number.NaN, n: 1 };
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  return { mean, ci95: ((t975[v.length - 2] ?? 1.96) * sd) / Math.sqrt(v.length), n: v.length };
}

/** One evaluation point of a run. */
export interface CurvePoint {
  examples: number;
  seconds: number;
  accuracy: number;
}

/** A run's test-accuracy curve, by evaluation step. */
export function runCurve(run: ConfigSummary['finished'][number]): CurvePoint[] {
  const examples = new Map((run.metrics[examplesKey] ?? []).map((p) => [p.step, p.value]));
  const seconds = new Map((run.metrics[validationSecondsKey] ?? []).map((p) => [p.step, p.value]));
  return (run.metrics[testAccuracyKey] ?? [])
    .map((p) => ({
      examples: examples.get(p.step) ?? Number.NaN,
      seconds: seconds.get(p.step) ?? Number.NaN,
      accuracy: p.value,
    }))
    .sort((a, b) => a.examples - b.examples);
}

/** The accuracy of the last evaluation at or before `limit` of `axis` (what the run had within that budget). */
export function accuracyWithin(curve: CurvePoint[], axis: 'examples' | 'seconds', limit: number) {
  let found: number | undefined;
  for (const p of curve) if (p[axis] <= limit * (1 + 1e-9)) found = p.accuracy;
  return found;
}

/** The first evaluation reaching `target`: when (seconds) and after how many examples; undefined if never. */
export function firstReaching(curve: CurvePoint[], target: number) {
  return curve.find((p) => p.accuracy >= target);
}

interface Variant {
  kind: 'plain SGD' | 'large-batch SGD' | 'local SGD';
  replicas: number;
  sync: number | 'end';
  batch: number;
  /** The learning rate scaled with the batch (linear rule with warm-up), as against the base rate. */
  linearLr: boolean;
}

function variantOf(config: RunConfig): Variant {
  const a = config.algorithm;
  if (a.name !== 'local-sgd') throw new Error('not a local-sgd run');
  return {
    kind: a.replicas > 1 ? 'local SGD' : 'large-batch SGD',
    replicas: a.replicas,
    sync: a.sync_every,
    batch: a.batch,
    linearLr: a.lr_scaling === 'linear',
  };
}

/** One configuration's readouts, over its seeds. */
export interface AveragingRow {
  summary: ConfigSummary;
  variant: Variant;
  final?: SeedStat;
  atExamples?: SeedStat;
  atSeconds?: SeedStat;
  /** Per target: seconds and examples to reach it (over the seeds that did) and how many seeds did. */
  reach: Array<{ target: number; seconds?: SeedStat; examples?: SeedStat; reached: number; of: number }>;
  trainSeconds?: SeedStat;
  /** CPU seconds of the run's process and its replica threads (hardly moved by other load on the machine). */
  cpuSeconds?: SeedStat;
  /** Wall milliseconds per step of all replicas together (training time / steps per replica). */
  msPerStep?: SeedStat;
  examplesPerSecond?: SeedStat;
  /** Per-seed curves, for speed-ups paired by seed. */
  curves: Map<number, CurvePoint[]>;
}

export interface AveragingSetting {
  setting: string;
  targets: number[];
  baseline?: AveragingRow;
  rows: AveragingRow[];
  /** The fixed budgets: the baseline's examples and its mean training time. */
  budget: { examples?: number; seconds?: number };
}

/** Groups classification summaries by setting and computes every readout against the plain-SGD baseline. */
export function averagingSettings(summaries: ConfigSummary[]): AveragingSetting[] {
  const bySetting = new Map<string, ConfigSummary[]>();
  for (const s of summaries.filter((s) => isClassificationRun(s.config)))
    bySetting.set(s.setting, [...(bySetting.get(s.setting) ?? []), s]);
  const out: AveragingSetting[] = [];
  for (const [setting, group] of bySetting) {
    const targets = accuracyTargets[setting] ?? [];
    const variants = group.map((s) => ({ s, v: variantOf(s.config) }));
    const singles = variants.filter(({ v }) => v.replicas === 1).sort((a, b) => a.v.batch - b.v.batch);
    const baselineSummary = singles[0]?.s;
    if (singles[0]) singles[0].v.kind = 'plain SGD';
    const examplesOf = (s: ConfigSummary) =>
      s.config.algorithm.name === 'local-sgd' ? s.config.algorithm.examples : Number.NaN;
    const budget: AveragingSetting['budget'] = {};
    if (baselineSummary) {
      budget.examples = examplesOf(baselineSummary);
      const t = seedStat(baselineSummary.finished.map((r) => r.summary.train_seconds));
      if (t) budget.seconds = t.mean;
    }
    const rows = variants.map(({ s, v }): AveragingRow => {
      const curves = new Map(s.finished.map((r) => [r.meta.seed, runCurve(r)]));
      const list = [...curves.values()];
      const a = s.config.algorithm;
      const steps = a.name === 'local-sgd' ? a.examples / (a.replicas * a.batch) : Number.NaN;
      return {
        summary: s,
        variant: v,
        curves,
        final: seedStat(s.finished.map((r) => r.summary.accuracy_test)),
        ...(budget.examples === undefined
          ? {}
          : {
              atExamples: seedStat(list.map((c) => accuracyWithin(c, 'examples', budget.examples as number))),
            }),
        ...(budget.seconds === undefined
          ? {}
          : { atSeconds: seedStat(list.map((c) => accuracyWithin(c, 'seconds', budget.seconds as number))) }),
        reach: targets.map((target) => {
          const hits = list.map((c) => firstReaching(c, target));
          return {
            target,
            seconds: seedStat(hits.map((h) => h?.seconds)),
            examples: seedStat(hits.map((h) => h?.examples)),
            reached: hits.filter((h) => h !== undefined).length,
            of: list.length,
          };
        }),
        trainSeconds: seedStat(s.finished.map((r) => r.summary.train_seconds)),
        cpuSeconds: seedStat(s.finished.map((r) => r.summary.cpu_seconds)),
        msPerStep: seedStat(s.finished.map((r) => ((r.summary.train_seconds ?? Number.NaN) * 1000) / steps)),
        examplesPerSecond: seedStat(s.finished.map((r) => r.summary.examples_per_s)),
      };
    });
    const order = { 'plain SGD': 0, 'large-batch SGD': 1, 'local SGD': 2 };
    const syncRank = (x: number | 'end') => (x === 'end' ? Number.POSITIVE_INFINITY : x);
    rows.sort(
      (x, y) =>
        order[x.variant.kind] - order[y.variant.kind] ||
        x.variant.replicas - y.variant.replicas ||
        x.variant.batch - y.variant.batch ||
        syncRank(x.variant.sync) - syncRank(y.variant.sync),
    );
    const baseline = rows.find((r) => r.summary === baselineSummary);
    out.push({ setting, targets, ...(baseline ? { baseline } : {}), rows, budget });
  }
  return out.sort((a, b) => a.setting.localeCompare(b.setting));
}

const pct = (v: number) => (v * 100).toFixed(2);
/** A target accuracy as a label: 0.88 → "88%", 0.875 → "87.5%". */
const targetLabel = (v: number) => `${Number((v * 100).toFixed(2))}%`;
function showAccuracy(s: SeedStat | undefined): string {
  if (!s) return '–';
  return Number.isFinite(s.ci95) ? `${pct(s.mean)} ± ${pct(s.ci95)}` : pct(s.mean);
}
function showSeconds(s: SeedStat | undefined): string {
  if (!s) return '–';
  return Number.isFinite(s.ci95) ? `${s.mean.toFixed(1)} ± ${s.ci95.toFixed(1)} s` : `${s.mean.toFixed(1)} s`;
}
function showNumber(s: SeedStat | undefined, digits: number): string {
  if (!s) return '–';
  return Number.isFinite(s.ci95)
    ? `${s.mean.toFixed(digits)} ± ${s.ci95.toFixed(digits)}`
    : s.mean.toFixed(digits);
}
const showSync = (v: Variant) => (v.replicas === 1 ? '–' : v.sync === 'end' ? '∞ (end)' : String(v.sync));

/** Per-seed speed-up of `row` over the baseline in time to `target` (baseline time / its time), paired by seed. */
export function speedUp(setting: AveragingSetting, row: AveragingRow, target: number): SeedStat | undefined {
  const base = setting.baseline;
  if (!base) return undefined;
  const ratios: number[] = [];
  for (const [seed, curve] of row.curves) {
    const mine = firstReaching(curve, target)?.seconds;
    const theirs = firstReaching(base.curves.get(seed) ?? [], target)?.seconds;
    if (mine !== undefined && theirs !== undefined && mine > 0) ratios.push(theirs / mine);
  }
  return seedStat(ratios);
}

/** Per-seed difference of a readout from the baseline's (same seed), as mean ± CI. */
function pairedDifference(
  setting: AveragingSetting,
  row: AveragingRow,
  readout: (curve: CurvePoint[], finalAccuracy: number | undefined) => number | undefined,
  base: AveragingRow | undefined = setting.baseline,
): SeedStat | undefined {
  if (!base) return undefined;
  const finals = (r: AveragingRow) =>
    new Map(r.summary.finished.map((x) => [x.meta.seed, x.summary.accuracy_test]));
  const mineFinal = finals(row);
  const baseFinal = finals(base);
  const diffs: number[] = [];
  for (const [seed, curve] of row.curves) {
    const mine = readout(curve, mineFinal.get(seed));
    const theirs = readout(base.curves.get(seed) ?? [], baseFinal.get(seed));
    if (mine !== undefined && theirs !== undefined) diffs.push(mine - theirs);
  }
  return seedStat(diffs);
}

export function averagingTables(setting: AveragingSetting): Table[] {
  const { budget } = setting;
  const headers = [
    'configuration',
    'method',
    'k',
    'H',
    'batch',
    'seeds',
    'final test acc. (%)',
    `acc. at ${budget.examples ?? '–'} examples`,
    `acc. at ${budget.seconds === undefined ? '–' : formatDuration(budget.seconds)}`,
    ...setting.targets.flatMap((t) => [`time to ${targetLabel(t)}`, `examples to ${targetLabel(t)}`]),
    'train time',
    'CPU time',
    'ms / step',
    'examples / s',
  ];
  const rows = setting.rows.map((r) => [
    r.summary.name,
    r.variant.kind,
    String(r.variant.replicas),
    showSync(r.variant),
    String(r.variant.batch),
    `${r.summary.seeds.length}${r.summary.unfinished.length ? ` (+${r.summary.unfinished.length} unfinished)` : ''}`,
    showAccuracy(r.final),
    showAccuracy(r.atExamples),
    showAccuracy(r.atSeconds),
    ...r.reach.flatMap((h) => [
      h.reached === 0
        ? `not reached (0/${h.of})`
        : `${showSeconds(h.seconds)}${h.reached < h.of ? ` (${h.reached}/${h.of})` : ''}`,
      h.reached === 0 ? '–' : showNumber(h.examples, 0),
    ]),
    showSeconds(r.trainSeconds),
    showSeconds(r.cpuSeconds),
    showNumber(r.msPerStep, 2),
    showNumber(r.examplesPerSecond, 0),
  ]);
  const main: Table = {
    title: `${setting.setting}: test accuracy, budgets and time to accuracy`,
    headers,
    rows,
  };
  return [main, verdictTable(setting)];
}

const lrNote = (v: Variant) => (v.linearLr ? ', linear lr' : '');
const describe = (r: AveragingRow) =>
  (r.variant.replicas === 1
    ? `batch ${r.variant.batch}`
    : `k = ${r.variant.replicas}, H = ${showSync(r.variant)}`) + lrNote(r.variant);

function significantly(s: SeedStat | undefined, above: number): string {
  if (!s) return 'unclear';
  if (!Number.isFinite(s.ci95)) return `${s.mean > above ? 'yes' : 'no'} on one seed (no CI)`;
  if (s.mean - s.ci95 > above) return 'yes';
  if (s.mean + s.ci95 < above) return 'no';
  return 'unclear';
}

/** The document's claims, one per row, answered from this setting's numbers. */
export function verdictTable(setting: AveragingSetting): Table {
  const local = setting.rows.filter((r) => r.variant.kind === 'local SGD');
  const rows: string[][] = [];
  const target = setting.targets.at(-1);
  const best = <T>(items: T[], score: (x: T) => number | undefined) =>
    items
      .map((x) => ({ x, v: score(x) }))
      .filter((e): e is { x: T; v: number } => e.v !== undefined && Number.isFinite(e.v))
      .sort((a, b) => b.v - a.v)[0];
  if (target !== undefined) {
    const speeds = local.map((r) => ({ r, s: speedUp(setting, r, target) }));
    const top = best(speeds, (e) => e.s?.mean);
    const k2 = speeds.filter((e) => e.r.variant.replicas === 2);
    const topK2 = best(k2, (e) => e.s?.mean);
    const show = (e: { r: AveragingRow; s?: SeedStat } | undefined) =>
      e?.s
        ? `${describe(e.r)}: ×${e.s.mean.toFixed(2)}${Number.isFinite(e.s.ci95) ? ` ± ${e.s.ci95.toFixed(2)}` : ''}`
        : 'no configuration reached it on every seed compared';
    rows.push([
      `faster: reaches ${targetLabel(target)} in less wall-clock time than plain SGD`,
      top?.x.s ? significantly(top.x.s, 1) : 'no',
      `best ${show(top?.x)}; at k = 2 best ${show(topK2?.x)} (speed-up = plain SGD's time / its time, paired by seed)`,
    ]);
  }
  const readouts: Array<[string, (c: CurvePoint[], f: number | undefined) => number | undefined]> = [
    [
      `more accurate with the same examples (${setting.budget.examples ?? '–'})`,
      (c) =>
        setting.budget.examples === undefined
          ? undefined
          : accuracyWithin(c, 'examples', setting.budget.examples),
    ],
    [
      `more accurate with the same wall-clock time (${setting.budget.seconds === undefined ? '–' : formatDuration(setting.budget.seconds)})`,
      (c) =>
        setting.budget.seconds === undefined
          ? undefined
          : accuracyWithin(c, 'seconds', setting.budget.seconds),
    ],
    ['more accurate at the end of its run (k× the examples: more compute)', (_c, f) => f],
  ];
  for (const [claim, readout] of readouts) {
    const diffs = local.map((r) => ({ r, d: pairedDifference(setting, r, readout) }));
    const top = best(diffs, (e) => e.d?.mean);
    rows.push([
      claim,
      top?.x.d ? significantly(top.x.d, 0) : 'unclear',
      top?.x.d
        ? `best ${describe(top.x.r)}: ${top.x.d.mean >= 0 ? '+' : ''}${pct(top.x.d.mean)}${Number.isFinite(top.x.d.ci95) ? ` ± ${pct(top.x.d.ci95)}` : ''} points over plain SGD (paired by seed)`
        : 'no comparable runs',
    ]);
  }
  // Averaging against the same compute spent on a larger batch: local SGD (k, H) vs large-batch SGD (k × batch).
  const large = setting.rows.filter((r) => r.variant.kind === 'large-batch SGD');
  const pairs = local.flatMap((r) => {
    const match = large.find(
      (l) =>
        l.variant.batch === r.variant.batch * r.variant.replicas && l.variant.linearLr === r.variant.linearLr,
    );
    const d = match ? pairedDifference(setting, r, (_c, f) => f, match) : undefined;
    return match && d ? [{ r, match, d }] : [];
  });
  const topPair = best(pairs, (p) => p.d.mean);
  rows.push([
    'averaging beats spending the same compute on a k× batch (final accuracy, same examples)',
    topPair ? significantly(topPair.x.d, 0) : 'unclear',
    topPair
      ? `best ${describe(topPair.x.r)}: ${showAccuracy(topPair.x.r.final)} vs batch ${topPair.x.match.variant.batch}: ${showAccuracy(topPair.x.match.final)}, ${topPair.x.d.mean >= 0 ? '+' : ''}${pct(topPair.x.d.mean)}${Number.isFinite(topPair.x.d.ci95) ? ` ± ${pct(topPair.x.d.ci95)}` : ''} points (paired by seed)`
      : 'no large-batch runs to compare',
  ]);
  return {
    title: `${setting.setting}: the claims, answered`,
    headers: ['claim', 'verdict', 'from these numbers'],
    rows,
  };
}

/** Test accuracy against examples processed and against training seconds: the seeds' mean at each evaluation. */
export async function averagingCharts(settings: AveragingSetting[]): Promise<Chart[]> {
  const charts: Chart[] = [];
  for (const s of settings) {
    const points = s.rows.flatMap((r) => {
      const byStep = new Map<number, { a: number[]; e: number; t: number[] }>();
      for (const curve of r.curves.values())
        for (const p of curve) {
          const entry = byStep.get(p.examples) ?? { a: [], e: p.examples, t: [] };
          entry.a.push(p.accuracy * 100);
          entry.t.push(p.seconds);
          byStep.set(p.examples, entry);
        }
      const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
      return [...byStep.values()]
        .filter((e) => e.e > 0)
        .map((e) => ({ config: r.summary.name, examples: e.e, seconds: mean(e.t), accuracy: mean(e.a) }));
    });
    if (points.length === 0) continue;
    for (const [axis, title] of [
      ['examples', 'training examples processed (all replicas)'],
      ['seconds', 'training time (s)'],
    ] as const) {
      const chartTitle = `${s.setting}: test accuracy against ${axis === 'examples' ? 'examples processed' : 'training time'}`;
      charts.push({
        kind: axis === 'examples' ? 'learning-curve' : 'accuracy-vs-time',
        setting: s.setting,
        title: chartTitle,
        svg: await renderSvg({
          title: chartTitle,
          width: 560,
          height: 280,
          data: { values: points },
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: axis, type: 'quantitative', title },
            y: {
              field: 'accuracy',
              type: 'quantitative',
              title: 'test accuracy (%)',
              scale: { zero: false },
            },
            color: {
              field: 'config',
              type: 'nominal',
              legend: { orient: 'bottom', columns: 2, labelLimit: 360, title: null },
            },
          },
        }),
      });
    }
  }
  return charts;
}

export const averagingMethodNote =
  'Each configuration trains one classifier; its averaged weights are evaluated on the whole test set at fixed ' +
  'intervals of examples processed (all replicas together). Final accuracy: pooled over the test images of all ' +
  'seeds is in summary.csv; the tables show mean ± 95% CI over seeds (Student t). The example budget is plain ' +
  "SGD's example count and the wall-clock budget its mean training time (evaluation time excluded): a readout is " +
  'the last evaluation within the budget. Replicated runs process k× the examples, so that each replica sees as ' +
  'many as plain SGD; on a machine with fewer cores than replicas their steps share the cores (k = 4 on 2 cores ' +
  'is oversubscribed and measured as such). Speed-ups and differences are paired by seed.';

/** The Markdown sections of the classification settings (tables, then how to read them). */
export function averagingMarkdown(settings: AveragingSetting[], heading = '##'): string {
  const parts: string[] = [];
  for (const s of settings) {
    for (const table of averagingTables(s))
      parts.push(`${heading} ${table.title}`, '', markdownTable(table), '');
    parts.push(costNote(s), '');
  }
  return parts.join('\n');
}

/** What a step costs and where the time goes, from the measured rates (per-step cost, averaging, efficiency). */
export function costNote(s: AveragingSetting): string {
  const base = s.baseline;
  if (!base?.msPerStep) return '';
  const lines = [
    `Cost: plain SGD takes ${base.msPerStep.mean.toFixed(2)} ms per step (batch ${base.variant.batch}).`,
  ];
  for (const k of [...new Set(s.rows.filter((r) => r.variant.replicas > 1).map((r) => r.variant.replicas))]) {
    const rows = s.rows.filter((r) => r.variant.replicas === k);
    const noSync = rows.find((r) => r.variant.sync === 'end');
    const everyStep = rows.find((r) => r.variant.sync === 1);
    const parts = rows
      .filter((r) => r.msPerStep)
      .map((r) => `H = ${showSync(r.variant)}${lrNote(r.variant)}: ${r.msPerStep!.mean.toFixed(2)} ms`);
    let text = `k = ${k}, per step of all ${k} replicas: ${parts.join(', ')}`;
    if (noSync?.msPerStep)
      text += `; without averaging a step costs ${(noSync.msPerStep.mean / base.msPerStep.mean).toFixed(2)}× plain SGD's (ideal on ${k} free cores: 1×)`;
    if (noSync?.msPerStep && everyStep?.msPerStep)
      text += `, and averaging after every step adds ${(everyStep.msPerStep.mean - noSync.msPerStep.mean).toFixed(2)} ms (the round trip to the replica threads and the float64 mean)`;
    lines.push(`${text}.`);
  }
  const target = s.targets.at(-1);
  if (target !== undefined) {
    const reach = (r: AveragingRow) => r.reach.find((h) => h.target === target)?.examples;
    const b = reach(base);
    const eff = s.rows
      .filter((r) => r.variant.replicas > 1 && reach(r) && b)
      .map((r) => `${describe(r)} ${(reach(r)!.mean / b!.mean).toFixed(2)}×`);
    if (b && eff.length > 0)
      lines.push(
        `Statistical efficiency: examples needed to reach ${targetLabel(target)}, relative to plain SGD's ${b.mean.toFixed(0)}: ${eff.join(', ')} ` +
          '(above 1: averaging needs more examples for the same accuracy). Wall-clock speed-up ≈ (steps saved by running k replicas at once) ÷ (cost of a step relative to plain SGD) ÷ (examples needed relative to plain SGD).',
      );
  }
  return lines.join(' ');
}
