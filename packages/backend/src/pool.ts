import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { ReplicaTask } from './replica-worker.ts';
import { type BackendInfo, type BackendName, parseBackendName } from './select.ts';

export interface ReplicaPoolOptions {
  /** The module whose exported functions the replicas run (a file path or file: URL, usually `new URL(...)`). */
  module: string | URL;
  /** Worker threads; default: the machine's parallelism. */
  workers?: number;
  /** Backend each worker selects with initBackend; default wasm. */
  backend?: BackendName;
}

export interface ReplicaPool {
  readonly workers: number;
  /** The backend every worker runs, as a worker reports it. */
  readonly info: BackendInfo;
  /**
   * Runs the module's exported function `fn(payload)` on an idle worker and resolves with its result. The payload
   * is structured-cloned, except SharedArrayBuffers (shared) and the ArrayBuffers listed in `transfer` (moved,
   * unusable here afterwards). ArrayBuffers, and typed arrays that own their whole buffer, come back moved.
   */
  run<R = unknown>(fn: string, payload?: unknown, options?: { transfer?: ArrayBuffer[] }): Promise<R>;
  destroy(): Promise<void>;
}

// A JavaScript entry that registers tsx, so that workers (also those started from inside vitest) import TypeScript.
const workerFile = fileURLToPath(new URL('./replica-bootstrap.mjs', import.meta.url));

/**
 * Starts `workers` threads, each with its own backend, ready to run functions from `module` (e.g. Reptile's
 * per-task inner loop). Results depend only on the payload, never on which worker ran it, so a run is
 * reproducible for any worker count as long as the functions seed their randomness from the payload.
 */
export async function createReplicaPool(options: ReplicaPoolOptions): Promise<ReplicaPool> {
  const workers = options.workers ?? availableParallelism();
  if (!Number.isInteger(workers) || workers < 1)
    throw new Error(
      `createReplicaPool: workers must be a positive integer, got ${JSON.stringify(options.workers)}`,
    );
  const backend = parseBackendName(options.backend ?? 'wasm', 'createReplicaPool: backend');
  const given = String(options.module);
  const module = given.startsWith('file:') ? fileURLToPath(given) : resolve(given);
  if (!existsSync(module))
    throw new Error(`createReplicaPool: module ${given} does not exist (give a file path or a file: URL)`);
  const piscina = new Piscina({
    filename: workerFile,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: Number.POSITIVE_INFINITY,
    // The parent's flags (e.g. vitest's) are not meant for replicas.
    execArgv: [],
    workerData: { backend, module },
  });
  const run = <R>(fn: string, payload?: unknown, runOptions: { transfer?: ArrayBuffer[] } = {}): Promise<R> =>
    piscina.run({ fn, payload } satisfies ReplicaTask, {
      transferList: runOptions.transfer ?? [],
    }) as Promise<R>;
  let info: BackendInfo;
  try {
    // Every worker starts its backend as it starts; these requests return once backends are up, so the first
    // real tasks do not pay for the start (and a worker that cannot start fails here, not later).
    const infos = await Promise.all(Array.from({ length: workers }, () => run<BackendInfo>('')));
    info = infos[0] as BackendInfo;
  } catch (error) {
    await piscina.destroy();
    throw error;
  }
  return {
    workers,
    info,
    run,
    destroy: () => piscina.destroy(),
  };
}

/**
 * Starts `count` pools of one worker each, so that a caller can keep per-thread state (a replica's data, a task's
 * model) where it sends work. Either all start or none stays running.
 */
export async function createReplicaPools(
  count: number,
  options: Omit<ReplicaPoolOptions, 'workers'>,
): Promise<ReplicaPool[]> {
  const pools: ReplicaPool[] = [];
  try {
    for (let i = 0; i < count; i++) pools.push(await createReplicaPool({ ...options, workers: 1 }));
  } catch (error) {
    await Promise.all(pools.map((pool) => pool.destroy()));
    throw error;
  }
  return pools;
}
