import type { RunConfig } from '../config/schema.ts';

/**
 * Reptile's published Omniglot accuracies in percent (Nichol, Achiam & Schulman 2018, "On First-Order
 * Meta-Learning Algorithms", Table 1: non-transductive / transductive), keyed by ways and shots.
 */
const reptileOmniglot: Record<string, { nontransductive: number; transductive: number }> = {
  '5w1s': { nontransductive: 95.39, transductive: 97.68 },
  '5w5s': { nontransductive: 98.9, transductive: 99.48 },
  '20w1s': { nontransductive: 88.14, transductive: 89.43 },
  '20w5s': { nontransductive: 96.65, transductive: 97.12 },
};

/** The paper's meta-training budget for an Omniglot setting: 100k meta-iterations for 5-way, 200k for 20-way. */
export function paperMetaIters(ways: number): number {
  return ways >= 20 ? 200_000 : 100_000;
}

/** The paper's number for this configuration's setting, when the paper reports one (Reptile on Omniglot). */
export function publishedResult(
  config: RunConfig,
): { nontransductive: number; transductive: number } | undefined {
  const d = config.dataset;
  if (config.algorithm.name !== 'reptile' || d.name !== 'omniglot' || d.split !== 'paper') return undefined;
  return reptileOmniglot[`${d.ways}w${d.shots}s`];
}
