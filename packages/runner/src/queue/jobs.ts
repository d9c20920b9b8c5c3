// What travels through the queue, and under which names. A job is one planned run: its resolved config and
// identity, never code. Its id is the run id, so enqueueing a sweep twice (a coordinator killed and started again)
// finds the jobs already there instead of adding copies. Results and checkpoints are run bundles kept under keys
// of their own beside BullMQ's, so the queue's event stream carries only small messages.
import { configHash } from '@reptile-bench/core';
import type { RunBundle } from '@reptile-bench/tracking';
import { hashableConfig, runIdFor } from '../config/identity.ts';
import { isPlainObject, Layer } from '../config/layer.ts';
import { resolveRunConfig } from '../config/resolve.ts';
import type { RunConfig } from '../config/schema.ts';
import type { PlannedRun } from '../config/sweep.ts';
import type { RunProgress } from '../execute.ts';

/** BullMQ's key prefix for every queue of the project, and the prefix of the keys kept beside them. */
export const KEY_PREFIX = 'reptile-bench';

/** One queue per backend: a worker takes the runs of the backend it has. */
export function queueNameFor(backend: string): string {
  return `runs-${backend}`;
}

/** The bundle of a run's outcome (finished, or failed on its latest attempt), until the coordinator collects it. */
export function resultKey(runId: string): string {
  return `${KEY_PREFIX}:results:${runId}`;
}

/** The latest checkpoint of a run in progress (a bundle with its checkpoint), when kept in Redis. */
export function checkpointKey(runId: string): string {
  return `${KEY_PREFIX}:checkpoints:${runId}`;
}

export const JOB_FORMAT = 1;

/** A job's data. */
export interface RunJob {
  format: number;
  run: PlannedRun;
  /** Run it again even when a finished result exists (and start an interrupted one over). */
  force: boolean;
  /** The commit of the coordinator that planned it (a worker of another commit says so). */
  commit: string;
}

/** What a job returns; the run itself is in the bundle at `resultKey(runId)`. */
export interface RunJobResult {
  status: 'FINISHED';
  runId: string;
  attempt: string;
  /** sha256 and size of the bundle stored at `resultKey(runId)`. */
  sha256: string;
  bytes: number;
  summary: Record<string, number>;
  /** Commit of the worker's code, and which worker it was. */
  commit: string;
  worker: string;
  /** Epoch milliseconds: the worker took the job, the run process started and ended, the result was stored. */
  timing: { taken: number; runStart: number; runEnd: number; stored: number };
}

/** What a job reports while it runs (BullMQ job progress). */
export type RunJobProgress =
  | { kind: 'progress'; progress: RunProgress; worker: string }
  | { kind: 'note'; text: string; worker: string };

/**
 * Checks a job's data as a worker receives it: a run the worker's own code plans the same way, with the same
 * config hash and run id. A worker of another version may resolve the config differently; it refuses the job
 * then, rather than record numbers under an id they do not belong to. Throws saying what differs.
 */
export function checkRunJob(data: unknown, jobId: string): RunJob {
  const where = `job ${jobId}`;
  if (!isPlainObject(data) || data.format !== JOB_FORMAT || !isPlainObject(data.run))
    throw new Error(
      `${where}: not a reptile-bench run job of format ${JOB_FORMAT} (enqueued by another version?); ` +
        'update this worker and the coordinator to the same commit',
    );
  const run = data.run as Partial<PlannedRun>;
  for (const field of ['runId', 'sweep', 'name', 'configHash', 'file'] as const)
    if (typeof run[field] !== 'string') throw new Error(`${where}: run.${field} must be a string`);
  if (!Number.isSafeInteger(run.seed) || (run.seed as number) < 0)
    throw new Error(`${where}: run.seed must be a non-negative integer, got ${JSON.stringify(run.seed)}`);
  if (run.runId !== jobId) throw new Error(`${where}: carries run ${run.runId}; job ids are run ids`);
  if (!isPlainObject(run.config)) throw new Error(`${where}: run.config must be a mapping`);
  const layer = new Layer();
  layer.merge([], run.config, (sub) => `${where}: run.config${sub.length ? `.${sub.join('.')}` : ''}`);
  const resolved = resolveRunConfig(layer, { where, run: String(run.name) });
  if (!resolved.config)
    throw new Error(
      `${where}: its config does not validate here:\n${resolved.problems.map((p) => `  ${p.where}: ${p.field}: ${p.message}`).join('\n')}`,
    );
  const config = { ...resolved.config, name: resolved.config.name ?? String(run.name) } as RunConfig;
  const hash = configHash(hashableConfig(config));
  const runId = runIdFor(run.sweep as string, hash, run.seed as number);
  if (hash !== run.configHash || runId !== run.runId)
    throw new Error(
      `${where}: its config hashes to ${hash} with this worker's code, but it was planned as ${run.configHash} ` +
        `(by commit ${String(data.commit)}): the worker and the coordinator resolve configs differently. ` +
        'Run the same commit on both',
    );
  return {
    format: JOB_FORMAT,
    run: {
      runId,
      sweep: run.sweep as string,
      name: run.name as string,
      configHash: hash,
      seed: run.seed as number,
      config,
      file: run.file as string,
    },
    force: data.force === true,
    commit: typeof data.commit === 'string' ? data.commit : 'unknown',
  };
}

/** Whether a stored run's header is this planned run's (same id, config hash, seed and backend). */
export function headerMatches(bundle: RunBundle, run: PlannedRun): boolean {
  const file = bundle.files.get('run.json');
  if (file === undefined) return false;
  const { meta } = JSON.parse(file.toString('utf8')) as {
    meta: { runId: string; configHash: string; seed: number; backend: { name: string } };
  };
  return (
    meta.runId === run.runId &&
    meta.configHash === run.configHash &&
    meta.seed === run.seed &&
    meta.backend.name === run.config.backend
  );
}
