import { planLocalSgd } from '@reptile-bench/averaging/plan';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { RunConfig, TestEvalConfig } from '../config/schema.ts';
import { localSgdOptionsOf } from '../local-sgd.ts';
import { validationKey, validationSecondsKey } from '../records.ts';
import { type ConfigSummary, displayValue } from './aggregate.ts';
import { metricLabel } from './format.ts';

export interface Chart {
  kind: 'learning-curve' | 'accuracy-vs-time' | 'final';
  setting: string;
  title: string;
  svg: string;
}

interface CurvePoint {
  config: string;
  iteration: number;
  /** Training examples processed by this iteration: a common x axis for meta-learners and joint training. */
  examples: number;
  seconds: number;
  value: number;
}

/** Examples one training iteration processes: a meta-batch of inner loops, or one joint-training batch. */
export function examplesPerIteration(config: RunConfig): number {
  const a = config.algorithm;
  if ('meta_iters' in a) return a.meta_batch * a.inner_iters * a.inner_batch;
  if ('train_iters' in a) return a.train_batch;
  if (a.name === 'local-sgd') {
    const plan = planLocalSgd(localSgdOptionsOf(a, config.eval as TestEvalConfig));
    return plan.chunk * plan.examplesPerStep;
  }
  return 0;
}

/** Each configuration's validation curve, averaged over its seeds at each logged meta-iteration. */
export function learningCurves(summaries: ConfigSummary[]): CurvePoint[] {
  const points: CurvePoint[] = [];
  for (const s of summaries) {
    const byStep = new Map<number, { value: number[]; seconds: number[] }>();
    for (const run of s.finished) {
      const seconds = new Map((run.metrics[validationSecondsKey] ?? []).map((p) => [p.step, p.value]));
      for (const p of run.metrics[validationKey(s.metric)] ?? []) {
        const entry = byStep.get(p.step) ?? { value: [], seconds: [] };
        entry.value.push(p.value);
        const t = seconds.get(p.step);
        if (t !== undefined) entry.seconds.push(t);
        byStep.set(p.step, entry);
      }
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    for (const [iteration, e] of [...byStep].sort((a, b) => a[0] - b[0])) {
      points.push({
        config: s.name,
        iteration,
        examples: iteration * examplesPerIteration(s.config),
        seconds: e.seconds.length > 0 ? mean(e.seconds) : Number.NaN,
        value: displayValue(s.metric, mean(e.value)),
      });
    }
  }
  return points;
}

/** Renders a Vega-Lite spec to an SVG string in Node: no browser, no canvas (text is measured by estimate). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const width = 560;
const height = 260;
const legend = { orient: 'bottom', columns: 2, labelLimit: 360, title: null } as const;

/** Learning curves, accuracy against training time, and final results with CIs: one set per setting. */
export async function settingCharts(summaries: ConfigSummary[]): Promise<Chart[]> {
  const bySetting = new Map<string, ConfigSummary[]>();
  for (const s of summaries) bySetting.set(s.setting, [...(bySetting.get(s.setting) ?? []), s]);
  const charts: Chart[] = [];
  for (const [setting, group] of bySetting) {
    const metric = (group[0] as ConfigSummary).metric;
    const yTitle = `validation ${metricLabel(metric)}`;
    const curves = learningCurves(group);
    if (curves.length > 0) {
      const title = `${setting}: learning curves`;
      charts.push({
        kind: 'learning-curve',
        setting,
        title,
        svg: await renderSvg({
          title,
          width,
          height,
          data: { values: curves },
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'examples', type: 'quantitative', title: 'training examples processed' },
            y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: false } },
            color: { field: 'config', type: 'nominal', legend },
          },
        }),
      });
      const timed = curves.filter((p) => Number.isFinite(p.seconds));
      if (timed.length > 0) {
        const timeTitle = `${setting}: ${metric === 'accuracy' ? 'accuracy' : 'error'} against training time`;
        charts.push({
          kind: 'accuracy-vs-time',
          setting,
          title: timeTitle,
          svg: await renderSvg({
            title: timeTitle,
            width,
            height,
            data: { values: timed },
            mark: { type: 'line', point: true },
            encoding: {
              x: { field: 'seconds', type: 'quantitative', title: 'training time (s)' },
              y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: false } },
              color: { field: 'config', type: 'nominal', legend },
            },
          }),
        });
      }
    }
    const finals = group.flatMap((s) =>
      (['nontransductive', 'transductive'] as const).flatMap((mode) => {
        const m = s.modes[mode]?.pooled;
        if (!m) return [];
        const ci = Number.isFinite(m.ci95) ? m.ci95 : 0;
        const label = mode === 'nontransductive' ? 'non-transductive' : 'transductive';
        const rows = [
          {
            config: s.name,
            mode: label,
            mean: displayValue(metric, m.mean),
            lo: displayValue(metric, m.mean - ci),
            hi: displayValue(metric, m.mean + ci),
          },
        ];
        // The paper's number as a point of its own beside ours (no interval: the paper gives none).
        const published = s.paper?.[mode];
        if (published !== undefined)
          rows.push({
            config: s.name,
            mode: `paper, ${label}`,
            mean: published,
            lo: published,
            hi: published,
          });
        return rows;
      }),
    );
    if (finals.length > 0) {
      const title = `${setting}: test ${metricLabel(metric)}, mean ± 95% CI`;
      charts.push({
        kind: 'final',
        setting,
        title,
        svg: await renderSvg({
          title,
          width,
          data: { values: finals },
          encoding: {
            y: { field: 'config', type: 'nominal', title: null, axis: { labelLimit: 260 } },
            yOffset: { field: 'mode' },
            color: {
              field: 'mode',
              type: 'nominal',
              legend: { orient: 'bottom', title: null, labelLimit: 240 },
            },
          },
          layer: [
            {
              mark: { type: 'rule', strokeWidth: 2 },
              encoding: {
                x: { field: 'lo', type: 'quantitative', title: metricLabel(metric), scale: { zero: false } },
                x2: { field: 'hi' },
              },
            },
            {
              mark: { type: 'point', filled: true, size: 50 },
              encoding: { x: { field: 'mean', type: 'quantitative' } },
            },
          ],
        }),
      });
    }
  }
  return charts;
}
