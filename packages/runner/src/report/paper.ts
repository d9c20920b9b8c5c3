// The few-shot reports' paper-reproduction section: every Reptile configuration run at the paper's own budget,
// against the published number (Nichol et al. 2018, Table 1), in both evaluation modes, and joint pretraining of
// the same settings beside it at whatever budgets it was run.
import type { MeanWithCi } from '@reptile-bench/core';
import type { FewShotModeKey } from '../records.ts';
import type { ConfigSummary } from './aggregate.ts';
import { formatDuration, formatMeanCi } from './format.ts';
import type { Table } from './markdown.ts';
import { paperMetaIters } from './published.ts';

function difference(ours: MeanWithCi | undefined, paper: number): string {
  if (ours === undefined || !Number.isFinite(ours.mean)) return '–';
  const d = 100 * ours.mean - paper;
  return `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(2)}`;
}

const modes: FewShotModeKey[] = ['nontransductive', 'transductive'];

/** Per mode: ours (mean ± CI), optionally the reference itself, and ours minus the reference (in points). */
function comparedCells(
  s: ConfigSummary,
  reference: (mode: FewShotModeKey) => number | undefined,
  showReference: boolean,
): string[] {
  return modes.flatMap((m) => {
    const ours = s.modes[m]?.pooled;
    const ref = reference(m);
    return [
      formatMeanCi(s.metric, ours),
      ...(showReference ? [ref === undefined ? '–' : ref.toFixed(2)] : []),
      ref === undefined ? '–' : difference(ours, ref),
    ];
  });
}

function testEpisodes(s: ConfigSummary): string {
  const n = s.modes.nontransductive?.pooled.n ?? s.modes.transductive?.pooled.n;
  return n === undefined ? '–' : n.toLocaleString('en-US');
}

/** Reptile configurations with a published number, meta-trained for at least the paper's meta-iterations. */
export function paperScale(summaries: ConfigSummary[]): ConfigSummary[] {
  return summaries.filter((s) => {
    const { algorithm, dataset } = s.config;
    return (
      s.paper !== undefined &&
      s.finished.length > 0 &&
      dataset.name === 'omniglot' &&
      'meta_iters' in algorithm &&
      algorithm.meta_iters >= paperMetaIters(dataset.ways)
    );
  });
}

export function paperReproductionTable(summaries: ConfigSummary[]): Table | undefined {
  const rows = paperScale(summaries).map((s) => {
    const paper = s.paper as { nontransductive: number; transductive: number };
    const iters = 'meta_iters' in s.config.algorithm ? s.config.algorithm.meta_iters : 0;
    return [
      s.setting,
      s.name,
      `${s.seeds.length}`,
      iters.toLocaleString('en-US'),
      testEpisodes(s),
      ...comparedCells(s, (m) => paper[m], true),
      formatDuration(s.trainSeconds),
      formatDuration(s.evalSeconds),
      formatDuration(s.cpuSeconds),
    ];
  });
  if (rows.length === 0) return undefined;
  return {
    title: 'Paper reproduction',
    headers: [
      'setting',
      'configuration',
      'seeds',
      'meta-iterations',
      'test episodes',
      'ours, non-transductive (%)',
      'paper',
      'difference (points)',
      'ours, transductive (%)',
      'paper',
      'difference (points)',
      'training, wall-clock',
      'evaluation, wall-clock',
      'CPU time, all of it',
    ],
    rows,
  };
}

export const paperReproductionNote =
  "Reptile at the paper's own budget (100k meta-iterations for 5-way, 200k for 20-way) against its published " +
  'accuracy (Nichol, Achiam & Schulman 2018, Table 1). Ours: mean ± 95% CI over all test episodes of all seeds. ' +
  'Wall-clock times are as recorded and include any time the run was stopped or shared its core; the CPU time ' +
  'of the run process (training and evaluation) is the measure of its work.';

/** Examples one Reptile meta-iteration trains on: meta-batch × inner iterations × inner batch. */
function examplesPerMetaIter(config: ConfigSummary['config']): number | undefined {
  const a = config.algorithm;
  return 'meta_batch' in a && 'inner_iters' in a && 'inner_batch' in a
    ? a.meta_batch * a.inner_iters * a.inner_batch
    : undefined;
}

/**
 * Joint pretraining (sgd-pretrain) of each setting in the paper-reproduction table, at the budgets it was run,
 * with its budget also given as the Reptile meta-iterations that see as many examples.
 */
export function pretrainingBesideTable(summaries: ConfigSummary[]): Table | undefined {
  const reptile = new Map(paperScale(summaries).map((s) => [s.setting, s]));
  const rows = summaries
    .filter(
      (s) => s.config.algorithm.name === 'sgd-pretrain' && s.finished.length > 0 && reptile.has(s.setting),
    )
    .map((s) => {
      const a = s.config.algorithm as { train_iters: number; train_batch: number };
      const examples = a.train_iters * a.train_batch;
      const paperScaleRun = reptile.get(s.setting) as ConfigSummary;
      const perMetaIter = examplesPerMetaIter(paperScaleRun.config);
      const reptileMean = (m: FewShotModeKey) => {
        const pooled = paperScaleRun.modes[m]?.pooled;
        return pooled === undefined ? undefined : 100 * pooled.mean;
      };
      return [
        s.setting,
        s.name,
        `${s.seeds.length}`,
        a.train_iters.toLocaleString('en-US'),
        examples.toLocaleString('en-US'),
        perMetaIter === undefined ? '–' : Math.round(examples / perMetaIter).toLocaleString('en-US'),
        testEpisodes(s),
        ...comparedCells(s, reptileMean, false),
        formatDuration(s.cpuSeconds),
      ];
    });
  if (rows.length === 0) return undefined;
  return {
    title: 'Joint pretraining beside it',
    headers: [
      'setting',
      'configuration',
      'seeds',
      'training iterations',
      'training examples',
      'as Reptile meta-iterations',
      'test episodes',
      'non-transductive (%)',
      'against Reptile above (points)',
      'transductive (%)',
      'against Reptile above (points)',
      'CPU time, all of it',
    ],
    rows,
  };
}

export const pretrainingBesideNote =
  'Joint pretraining (one classifier over all training classes, then fine-tuning on each test episode like ' +
  "Reptile's evaluation) of the same settings, at the budgets where it was run (see its configuration for the " +
  'preprocessing). "As Reptile meta-iterations" is the number of meta-iterations that train on as many ' +
  'examples. The fine-tuning starts from a fresh Adam, as joint training carries no inner optimizer state.';
