import { tf } from '@reptile-bench/backend';
import { stableStringify } from '@reptile-bench/core';
import type { Batch } from '@reptile-bench/datasets';
import { createOptimizer, trainOnBatches } from '@reptile-bench/evaluation';
import { createModel, type Model, type Optimizer, toArrays, toTensors } from '@reptile-bench/models';

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
   * 'adapted': return the parameters after the last step (Reptile's φ'). 'last-step': return only the last step's
   * change, φ'ₖ − φ'ₖ₋₁ (first-order MAML's update).
   */
  output: 'adapted' | 'last-step';
}

export interface TaskResult {
  params: Float32Array[];
  /** Training loss of each step, before the step. */
  losses: number[];
}

const models = new Map<string, Model>();
const optimizers = new Map<string, Optimizer>();

function modelFor(config: Record<string, unknown>): Model {
  const key = stableStringify(config);
  let model = models.get(key);
  if (model === undefined) {
    model = createModel(config);
    models.set(key, model);
  }
  return model;
}

/** Runs a task job on the current backend. Used in this thread and by the replica module. */
export function runTaskJob(job: TaskJob): TaskResult {
  const model = modelFor(job.model);
  const kept = job.stateKey === undefined ? undefined : optimizers.get(job.stateKey);
  const optimizer =
    kept ?? createOptimizer({ optimizer: job.optimizer.kind, learningRate: job.optimizer.learningRate });
  if (job.stateKey !== undefined && kept === undefined) optimizers.set(job.stateKey, optimizer);
  try {
    let params = toTensors(model, job.params);
    const losses: number[] = [];
    const last = job.batches.length - 1;
    const head = job.output === 'last-step' ? job.batches.slice(0, last) : job.batches;
    const first = trainOnBatches(model, optimizer, params, head);
    params = first.params;
    losses.push(...first.losses);
    if (job.output === 'adapted') {
      const adapted = toArrays(params);
      tf.dispose(params);
      return { params: adapted, losses };
    }
    const before = toArrays(params);
    const tail = trainOnBatches(model, optimizer, params, job.batches.slice(last));
    losses.push(...tail.losses);
    const after = toArrays(tail.params);
    tf.dispose(tail.params);
    after.forEach((a, j) => {
      const b = before[j]!;
      for (let k = 0; k < a.length; k++) a[k] = a[k]! - b[k]!;
    });
    return { params: after, losses };
  } finally {
    if (job.stateKey === undefined) optimizer.dispose();
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
