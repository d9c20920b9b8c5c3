import type { AlgorithmConfig } from './config/schema.ts';

/** How many meta-training iterations a run performs (0 for SGD from scratch), for progress and rates. */
export function trainingIterations(a: AlgorithmConfig): number {
  if ('meta_iters' in a) return a.meta_iters;
  if ('train_iters' in a) return a.train_iters;
  return 0;
}
