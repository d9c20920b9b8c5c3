import { requireInteger, requireNumber, requireOptimizer } from '@reptile-bench/evaluation';

/** Reptile's settings, named after the paper's command-line flags (meta_iters, meta_batch, ...). */
export interface ReptileOptions {
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

export type CheckedReptileOptions = Required<ReptileOptions>;

/** Validates the options, naming the learner and field in errors; fills in the defaults. */
export function checkReptileOptions(options: ReptileOptions, learner: string): CheckedReptileOptions {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`${learner}: options must be an object`);
  const field = (name: string) => `${learner}: ${name}`;
  const flag = (value: unknown, name: string): boolean => {
    if (value !== undefined && typeof value !== 'boolean')
      throw new TypeError(`${field(name)} must be true or false, got ${JSON.stringify(value)}`);
    return value ?? false;
  };
  return {
    metaIterations: requireInteger(options.metaIterations, field('metaIterations'), 1),
    metaBatchSize: requireInteger(options.metaBatchSize, field('metaBatchSize'), 1),
    metaStep: requireNumber(options.metaStep, field('metaStep')),
    metaStepFinal: requireNumber(options.metaStepFinal, field('metaStepFinal')),
    innerIterations: requireInteger(options.innerIterations, field('innerIterations'), 1),
    innerBatchSize: requireInteger(options.innerBatchSize, field('innerBatchSize'), 1),
    innerOptimizer: requireOptimizer(options.innerOptimizer, field('innerOptimizer')),
    innerLearningRate: requireNumber(options.innerLearningRate, field('innerLearningRate'), true),
    resetOptimizerState: flag(options.resetOptimizerState, 'resetOptimizerState'),
    sharedOptimizerState: flag(options.sharedOptimizerState, 'sharedOptimizerState'),
    replacement: flag(options.replacement, 'replacement'),
  };
}
