import type { AlgorithmConfig } from './config/schema.ts';

/** How many meta-training iterations (or local-SGD steps) a run performs (0 for SGD from scratch). */
export function trainingIterations(a: AlgorithmConfig): number {
  if ('meta_iters' in a) return a.meta_iters;
  if ('train_iters' in a) return a.train_iters;
  // Local SGD: the steps each replica takes.
  if (a.name === 'local-sgd') return a.examples / (a.batch * a.replicas);
  return 0;
}
