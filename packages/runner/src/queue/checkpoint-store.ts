// Where a queue worker keeps each run's latest checkpoint beyond its own machine, so that another worker can
// continue a run whose machine was lost: in Redis beside the queue (the default: nothing else to set up), in a
// folder every worker mounts (NFS, a bucket mount), or nowhere (a lost run then starts over elsewhere).
// What is kept is a run bundle with the checkpoint: the checkpoint alone cannot be continued without the run's
// log up to it.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import writeFileAtomic from 'write-file-atomic';
import { checkpointKey } from './jobs.ts';

export interface CheckpointStore {
  /** Says where checkpoints go, for messages. */
  readonly description: string;
  save(runId: string, bundle: Buffer): Promise<void>;
  load(runId: string): Promise<Buffer | undefined>;
  remove(runId: string): Promise<void>;
}

export type CheckpointStoreSpec = { kind: 'redis' } | { kind: 'none' } | { kind: 'dir'; dir: string };

/** Parses `--checkpoints redis|none|<folder>`. */
export function parseCheckpointStore(value: string): CheckpointStoreSpec {
  if (value === 'redis') return { kind: 'redis' };
  if (value === 'none') return { kind: 'none' };
  return { kind: 'dir', dir: resolve(value) };
}

/** Keeps checkpoints in Redis (a few MB per run in progress: the model, its optimizer state and the run's log). */
export function redisCheckpointStore(client: Redis, display: string): CheckpointStore {
  return {
    description: `Redis at ${display}`,
    async save(runId, bundle) {
      await client.set(checkpointKey(runId), bundle);
    },
    async load(runId) {
      return (await client.getBuffer(checkpointKey(runId))) ?? undefined;
    },
    async remove(runId) {
      await client.del(checkpointKey(runId));
    },
  };
}

/** Keeps checkpoints as `<dir>/<run id>.bundle`, each written atomically. */
export function dirCheckpointStore(dir: string): CheckpointStore {
  const file = (runId: string) => join(dir, `${runId}.bundle`);
  return {
    description: `folder ${dir}`,
    async save(runId, bundle) {
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(file(runId), bundle, { fsync: true });
    },
    async load(runId) {
      try {
        return await readFile(file(runId));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async remove(runId) {
      await rm(file(runId), { force: true });
    },
  };
}

export const noCheckpointStore: CheckpointStore = {
  description: 'nowhere (a run whose worker is lost starts over)',
  save: async () => {},
  load: async () => undefined,
  remove: async () => {},
};
