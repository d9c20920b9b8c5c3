import { requireFlag, requireInteger, requireNumber, requireOneOf } from '@reptile-bench/core';

/**
 * The settings every Reptile-style meta-learner shares (Reptile, first-order MAML, MAML), named after the paper's
 * command-line flags (meta_iters, meta_batch, ...).
 */
export interface MetaLearningOptions {
  metaIterations: number;
  /** Tasks per meta-iteration: 1 is serial Reptile, k > 1 batched Reptile. */
  metaBatchSize: number;
  /** ε at the first meta-iteration ... */
  metaStep: number;
  /** ... annealed linearly to this value at the end. */
  metaStepFinal: number;
  innerIterations: number;
  innerBatchSize: number;
  /** Adam runs with β1 = 0, as in the paper. */
  innerOptimizer: 'adam' | 'sgd';
  innerLearningRate: number;
  /**
   * Start every task's inner loop from a fresh optimizer state. Default false: the state is carried from task to
   * task, as in the paper's code (see `sharedOptimizerState` for which tasks share one state).
   */
  resetOptimizerState?: boolean;
  /**
   * Carry one optimizer state across all tasks in order, exactly as the paper's code does. The tasks of a
   * meta-batch then depend on each other and run one after another in this thread, whatever `workers` says.
   * Default false: task slot k of every meta-batch carries its own state, so the tasks of a meta-batch are
   * independent, run in parallel on replicas, and give identical numbers for any number of workers. With
   * `metaBatchSize` 1 both are the same.
   */
  sharedOptimizerState?: boolean;
  /** Inner mini-batches drawn independently (true) or dealt from shuffled passes over the task (false, default). */
  replacement?: boolean;
}

export type CheckedMetaLearningOptions = Required<MetaLearningOptions>;

/** Validates the options, naming the learner and field in errors; fills in the defaults. */
export function checkMetaLearningOptions(
  options: MetaLearningOptions,
  learner: string,
): CheckedMetaLearningOptions {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`${learner}: options must be an object`);
  const field = (name: string) => `${learner}: ${name}`;
  return {
    metaIterations: requireInteger(options.metaIterations, field('metaIterations'), 1),
    metaBatchSize: requireInteger(options.metaBatchSize, field('metaBatchSize'), 1),
    metaStep: requireNumber(options.metaStep, field('metaStep')),
    metaStepFinal: requireNumber(options.metaStepFinal, field('metaStepFinal')),
    innerIterations: requireInteger(options.innerIterations, field('innerIterations'), 1),
    innerBatchSize: requireInteger(options.innerBatchSize, field('innerBatchSize'), 1),
    innerOptimizer: requireOneOf(options.innerOptimizer, field('innerOptimizer'), ['adam', 'sgd']),
    innerLearningRate: requireNumber(options.innerLearningRate, field('innerLearningRate'), true),
    resetOptimizerState: requireFlag(options.resetOptimizerState, field('resetOptimizerState')),
    sharedOptimizerState: requireFlag(options.sharedOptimizerState, field('sharedOptimizerState')),
    replacement: requireFlag(options.replacement, field('replacement')),
  };
}
