import { tf } from '@reptile-bench/backend';
import type { Batch } from '@reptile-bench/datasets';
import {
  createOptimizer,
  modelFor,
  type Optimizer,
  type OptimizerState,
  toArrays,
  toTensors,
  trainOnBatches,
} from '@reptile-bench/models';

/**
 * One task's inner loop, as plain data so that it can run in this thread or on a replica thread: start from
 * `params`, take one optimizer step per batch, return the result.
 */
export interface TaskJob {
  /** `Model.config`: the replica rebuilds the model from it. */
  model: Record<string, unknown>;
  params: Float32Array[];
  batches: Batch[];
  optimizer: { kind: 'adam' | 'sgd'; learningRate: number };
  /**
   * Where the optimizer state lives between jobs: jobs with the same key continue one state (the key must then
   * always be run by the same thread, in order); undefined starts from a fresh state.
   */
  stateKey?: string;
  /**
   * 0 or absent: return the parameters after the last step (Reptile's φ'). n > 0: return only the change made by
   * the last n steps, φ'ₖ − φ'ₖ₋ₙ (first-order MAML's update over its tail batches).
   */
  changeOverLast?: number;
}

export interface TaskResult {
  params: Float32Array[];
  /** Training loss of each step, before the step. */
  losses: number[];
}

const optimizers = new Map<string, Optimizer>();

/** Runs a task job on the current backend. Used in this thread and by the replica module. */
export function runTaskJob(job: TaskJob): TaskResult {
  const model = modelFor(job.model);
  const kept = job.stateKey === undefined ? undefined : optimizers.get(job.stateKey);
  const optimizer =
    kept ?? createOptimizer({ optimizer: job.optimizer.kind, learningRate: job.optimizer.learningRate });
  if (job.stateKey !== undefined && kept === undefined) optimizers.set(job.stateKey, optimizer);
  try {
    const tail = job.changeOverLast ?? 0;
    if (!Number.isInteger(tail) || tail < 0 || tail > job.batches.length)
      throw new RangeError(
        `task job: changeOverLast must be an integer in [0, ${job.batches.length}] (the number of batches), got ${tail}`,
      );
    const head = trainOnBatches(
      model,
      optimizer,
      toTensors(model, job.params),
      job.batches.slice(0, job.batches.length - tail),
    );
    if (tail === 0) {
      const adapted = toArrays(head.params);
      tf.dispose(head.params);
      return { params: adapted, losses: head.losses };
    }
    const before = toArrays(head.params);
    const end = trainOnBatches(model, optimizer, head.params, job.batches.slice(job.batches.length - tail));
    const change = toArrays(end.params);
    tf.dispose(end.params);
    change.forEach((after, j) => {
      const start = before[j]!;
      for (let k = 0; k < after.length; k++) after[k] = after[k]! - start[k]!;
    });
    return { params: change, losses: [...head.losses, ...end.losses] };
  } finally {
    if (job.stateKey === undefined) optimizer.dispose();
  }
}

/** Copies of the optimizer states whose keys start with `prefix`, by key without the prefix. */
export function exportOptimizerStates(prefix: string): Record<string, OptimizerState> {
  const states: Record<string, OptimizerState> = {};
  for (const [key, optimizer] of optimizers)
    if (key.startsWith(prefix)) states[key.slice(prefix.length)] = optimizer.exportState();
  return states;
}

/**
 * Installs optimizer states under `prefix` + key (replacing any there), so that the next task job with that
 * `stateKey` continues them exactly. `optimizer` says which kind of optimizer each job runs.
 */
export function importOptimizerStates(
  prefix: string,
  states: Record<string, OptimizerState>,
  optimizer: TaskJob['optimizer'],
): void {
  for (const [key, state] of Object.entries(states)) {
    const full = `${prefix}${key}`;
    optimizers.get(full)?.dispose();
    const restored = createOptimizer({ optimizer: optimizer.kind, learningRate: optimizer.learningRate });
    restored.importState(state);
    optimizers.set(full, restored);
  }
}

/** Forgets (and frees) the optimizer states whose keys start with `prefix`. */
export function releaseOptimizerStates(prefix: string): void {
  for (const [key, optimizer] of optimizers) {
    if (key.startsWith(prefix)) {
      optimizer.dispose();
      optimizers.delete(key);
    }
  }
}
