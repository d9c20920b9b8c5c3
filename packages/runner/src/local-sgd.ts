// The bridge between a local-sgd run config and the averaging package's options.
import type { LocalSgdOptions } from '@reptile-bench/averaging/plan';
import type { AlgorithmConfig, TestEvalConfig } from './config/schema.ts';

export function localSgdOptionsOf(
  a: Extract<AlgorithmConfig, { name: 'local-sgd' }>,
  e: TestEvalConfig,
): LocalSgdOptions {
  return {
    replicas: a.replicas,
    syncEvery: a.sync_every,
    batchSize: a.batch,
    learningRate: a.learning_rate,
    lrScaling: a.lr_scaling,
    ...(a.lr_base_batch === undefined ? {} : { lrBaseBatch: a.lr_base_batch }),
    momentum: a.momentum,
    momentumSync: a.momentum_sync,
    warmupExamples: a.warmup_examples,
    lrDecayExamples: a.lr_decay_examples,
    lrDecayFactor: a.lr_decay_factor,
    examples: a.examples,
    evalEvery: e.every_examples,
  };
}
