// The few-shot reports' paper-reproduction section: every Reptile configuration run at the paper's own budget,
// against the published number (Nichol et al. 2018, Table 1), in both evaluation modes.
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
    const mode = (m: FewShotModeKey) => s.modes[m]?.pooled;
    const episodes = mode('nontransductive')?.n ?? mode('transductive')?.n;
    const iters = 'meta_iters' in s.config.algorithm ? s.config.algorithm.meta_iters : 0;
    return [
      s.setting,
      s.name,
      `${s.seeds.length}`,
      iters.toLocaleString('en-US'),
      episodes === undefined ? '–' : episodes.toLocaleString('en-US'),
      formatMeanCi(s.metric, mode('nontransductive')),
      paper.nontransductive.toFixed(2),
      difference(mode('nontransductive'), paper.nontransductive),
      formatMeanCi(s.metric, mode('transductive')),
      paper.transductive.toFixed(2),
      difference(mode('transductive'), paper.transductive),
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
