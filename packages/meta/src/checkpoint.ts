import type { OptimizerState } from '@reptile-bench/models';

/** Everything a training loop needs to continue exactly where it stopped (random draws derive from the iteration). */
export interface TrainingState {
  /** Iterations completed. */
  iteration: number;
  /** The parameters being trained: φ for meta-learners, the joint classifier for pretraining. */
  params: Float32Array[];
  /** Every optimizer state, by slot ('slot0', 'shared', 'pretrain', ...). */
  optimizers: Record<string, OptimizerState>;
}

/**
 * How a training loop saves and resumes. The loop saves after an iteration when `due` says so, and before it
 * stops for an aborted signal; a resumed loop continues from `resume` and gives bit-identical results.
 */
export interface CheckpointHooks {
  /** The state to continue from, as saved before (absent: start from the beginning). */
  resume?: TrainingState;
  /** Whether to save now, after `iteration` iterations (e.g. because a few minutes have passed). */
  due(iteration: number): boolean;
  save(state: TrainingState): Promise<void>;
}

/** Training blew up: a non-finite (or too large) loss or a non-finite parameter. Never retried or reused. */
export class DivergenceError extends Error {
  constructor(
    readonly iteration: number,
    readonly metric: string,
    readonly value: number,
    hint: string,
  ) {
    super(`training diverged at iteration ${iteration}: ${metric} = ${value}. ${hint}`);
    this.name = 'DivergenceError';
  }
}
