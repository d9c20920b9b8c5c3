import { randomUUID } from 'node:crypto';
import {
  type BackendName,
  createReplicaPools,
  type PackedArrays,
  packArrays,
  unpackArrays,
} from '@reptile-bench/backend';
import type { OptimizerState } from '@reptile-bench/models';
import type { ReplicaJob, ReplicaResult } from './replica.ts';
import {
  exportOptimizerStates,
  importOptimizerStates,
  releaseOptimizerStates,
  runTaskJob,
  type TaskJob,
  type TaskResult,
} from './task.ts';

/** Runs the task jobs of a meta-batch, in this thread or on replica threads; results come back in job order. */
export interface TaskRunner {
  /** Prefix for the `stateKey`s of this meta-training run (unique per run, so runs never share a state). */
  readonly statePrefix: string;
  run(jobs: TaskJob[]): Promise<TaskResult[]>;
  /**
   * Moves parameters to where the runner reads them best (for replicas: one SharedArrayBuffer that every thread
   * reads in place) and returns arrays to use instead; updating those in place needs no further copy.
   */
  place(params: Float32Array[]): Float32Array[];
  /** Copies of the optimizer states carried between jobs, by `stateKey` without `statePrefix` (all, or `keys`). */
  exportStates(keys?: readonly string[]): Promise<Record<string, OptimizerState>>;
  /**
   * Installs optimizer states by key without `statePrefix` (from `exportStates`), where the jobs with those keys
   * will run: the next job with a key continues its state exactly.
   */
  importStates(states: Record<string, OptimizerState>, optimizer: TaskJob['optimizer']): Promise<void>;
  /** Frees the run's optimizer states and any threads. */
  close(): Promise<void>;
}

/** The state key of task slot `k` (see `TaskRunner`): slot k always runs on replica thread k mod workers. */
export function slotStateKey(k: number): string {
  return `slot${k}`;
}

/** Which of `workers` threads holds the state `key`: slot k's is on thread k mod workers, any other on thread 0. */
function threadOfKey(key: string, workers: number): number {
  const slot = /^slot(\d+)$/.exec(key);
  return slot ? Number(slot[1]) % workers : 0;
}

function pick(
  states: Record<string, OptimizerState>,
  keys?: readonly string[],
): Record<string, OptimizerState> {
  if (keys === undefined) return states;
  return Object.fromEntries(Object.entries(states).filter(([key]) => keys.includes(key)));
}

/** Runs every job in this thread, one after another, on the backend already selected. */
export function inThreadRunner(): TaskRunner {
  const statePrefix = `run:${randomUUID()}/`;
  return {
    statePrefix,
    async run(jobs) {
      return jobs.map((job) => runTaskJob(job));
    },
    place: (params) => params,
    async exportStates(keys) {
      return pick(exportOptimizerStates(statePrefix), keys);
    },
    async importStates(states, optimizer) {
      importOptimizerStates(statePrefix, states, optimizer);
    },
    async close() {
      releaseOptimizerStates(statePrefix);
    },
  };
}

/**
 * Runs the jobs of a meta-batch on `workers` replica threads, each with its own `backend`. Job k of a meta-batch
 * always runs on thread k mod workers, so an optimizer state carried under a slot's key stays on one thread and
 * is continued in order. Each thread is a one-worker pool: the backend's pool hands tasks to any idle worker,
 * and this pinning is what keeps carried states, and so the numbers, independent of the worker count.
 */
export async function replicaRunner(backend: BackendName, workers: number): Promise<TaskRunner> {
  const statePrefix = `run:${randomUUID()}/`;
  const module = new URL('./replica.ts', import.meta.url);
  const pools = await createReplicaPools(workers, { module, backend });
  const sharedLayout = new WeakMap<Float32Array[], PackedArrays>();
  return {
    statePrefix,
    place(params) {
      const packed = packArrays(params, { shared: true });
      const views = unpackArrays(packed);
      sharedLayout.set(views, packed);
      return views;
    },
    async run(jobs) {
      // φ is shared by every job of a meta-batch: arrays from `share` go as they are, others are packed once.
      const packed = new Map<Float32Array[], PackedArrays>();
      const share = (params: Float32Array[]) => {
        let p = sharedLayout.get(params) ?? packed.get(params);
        if (p === undefined) {
          p = packArrays(params, { shared: true });
          packed.set(params, p);
        }
        return p;
      };
      const results = await Promise.all(
        jobs.map((job, k) =>
          pools[k % workers]!.run<ReplicaResult>('adaptTask', {
            ...job,
            params: share(job.params),
          } satisfies ReplicaJob),
        ),
      );
      return results.map((r) => ({
        params: unpackArrays({ buffer: r.values.buffer, lengths: r.lengths }),
        losses: r.losses,
      }));
    },
    async exportStates(keys) {
      const parts = await Promise.all(
        pools.map((pool) => pool.run<Record<string, OptimizerState>>('exportStates', statePrefix)),
      );
      return pick(Object.assign({}, ...parts), keys);
    },
    async importStates(states, optimizer) {
      await Promise.all(
        pools.map((pool, thread) => {
          const own = Object.fromEntries(
            Object.entries(states).filter(([key]) => threadOfKey(key, workers) === thread),
          );
          return pool.run('importStates', { prefix: statePrefix, states: own, optimizer });
        }),
      );
    },
    async close() {
      await Promise.all(
        pools.map((pool) => pool.run('releaseStates', statePrefix).finally(() => pool.destroy())),
      );
    },
  };
}
