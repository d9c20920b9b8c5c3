// Runs in replica threads (see @reptile-bench/backend's createReplicaPool): one task's inner loop per call, on the
// thread's own backend. φ arrives packed in a SharedArrayBuffer (read in place, no copy); the result leaves packed
// in one plain buffer, which the pool moves back instead of copying.
import { type PackedArrays, packArrays, unpackArrays } from '@reptile-bench/backend';
import type { OptimizerState } from '@reptile-bench/models';
import {
  exportOptimizerStates,
  importOptimizerStates,
  releaseOptimizerStates,
  runTaskJob,
  type TaskJob,
} from './task.ts';

export interface ReplicaJob extends Omit<TaskJob, 'params'> {
  params: PackedArrays;
}

export interface ReplicaResult {
  /** The result's arrays back to back, in one buffer of its own (so the pool moves it rather than copying). */
  values: Float32Array;
  lengths: number[];
  losses: number[];
}

export function adaptTask(job: ReplicaJob): ReplicaResult {
  const result = runTaskJob({ ...job, params: unpackArrays(job.params) });
  const { buffer, lengths } = packArrays(result.params, { shared: false });
  return { values: new Float32Array(buffer), lengths, losses: result.losses };
}

export function releaseStates(prefix: string): void {
  releaseOptimizerStates(prefix);
}

export function exportStates(prefix: string): Record<string, OptimizerState> {
  return exportOptimizerStates(prefix);
}

export function importStates(job: {
  prefix: string;
  states: Record<string, OptimizerState>;
  optimizer: TaskJob['optimizer'];
}): void {
  importOptimizerStates(job.prefix, job.states, job.optimizer);
}
