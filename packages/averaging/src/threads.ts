import { type BackendName, createReplicaPools } from '@reptile-bench/backend';
import {
  attachData,
  detachData,
  type RoundJob,
  type RoundResult,
  type SharedImages,
  trainRound,
} from './replica.ts';

/** Runs the rounds of the replicas, in this thread or on replica threads; results come back in job order. */
export interface ReplicaThreads {
  readonly threads: number;
  attach(data: SharedImages): Promise<void>;
  run(jobs: RoundJob[]): Promise<RoundResult[]>;
  close(): Promise<void>;
}

/** Every round in this thread, one replica after another, on the backend already selected. */
export function inThread(): ReplicaThreads {
  const keys: string[] = [];
  return {
    threads: 1,
    async attach(data) {
      attachData(data);
      keys.push(data.key);
    },
    async run(jobs) {
      return jobs.map((job) => trainRound(job));
    },
    async close() {
      for (const key of keys) detachData(key);
    },
  };
}

/**
 * `workers` replica threads, each with its own `backend`; replica r's rounds run on thread r mod workers (each
 * thread is a one-worker pool, so a thread's replicas run in order). A round depends only on its job and the shared
 * state it reads, so results are the same for any number of threads.
 */
export async function replicaThreads(backend: BackendName, workers: number): Promise<ReplicaThreads> {
  const module = new URL('./replica.ts', import.meta.url);
  const pools = await createReplicaPools(workers, { module, backend });
  const keys: string[] = [];
  return {
    threads: workers,
    async attach(data) {
      await Promise.all(pools.map((pool) => pool.run('attachData', data)));
      keys.push(data.key);
    },
    run: (jobs) => Promise.all(jobs.map((job, r) => pools[r % workers]!.run<RoundResult>('trainRound', job))),
    async close() {
      await Promise.all(
        pools.map((pool) =>
          Promise.all(keys.map((key) => pool.run('detachData', key))).finally(() => pool.destroy()),
        ),
      );
    },
  };
}
