// The embedded run store: `<dir>/runs/<runId>/` holds `run.json` (meta, attempt, start time, writer), the
// append-only `log.jsonl` (metrics, tags, artifacts, end) and `artifacts/`. Every file is either written
// atomically (temp + rename) or only ever appended to in whole lines, so a crash at any moment leaves a
// readable run. Runs are independent folders, so parallel writers of different runs never share a file.
import { randomUUID } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import {
  SUMMARY_PREFIX,
  validateArtifactName,
  validateMetricValue,
  validateMlflowKey,
  validateParamValue,
  validateRunId,
  validateStep,
  validateTagValue,
} from './names.ts';
import { decodeValue, encodeEvent, encodeValue, type LogEvent, liveEntries, readLog } from './run-log.ts';
import type { MetricPoint, RunMeta, RunRecord, RunResume, RunStatus, RunStore, RunWriter } from './types.ts';

export const RUNS_FOLDER = 'runs';
export const LOG_FILE = 'log.jsonl';
export const RUN_FILE = 'run.json';
export const ARTIFACTS_FOLDER = 'artifacts';
export const CHECKPOINT_FILE = 'checkpoint.bin';

/** Contents of `run.json`. */
export interface RunHeader {
  format: 1;
  meta: RunMeta;
  attempt: string;
  startTime: number;
  /** Who writes the run, so a reader can tell a live run from one whose process died. */
  writer: { host: string; pid: number; thread: number };
}

export function runsDir(storeDir: string): string {
  return join(storeDir, RUNS_FOLDER);
}

export function runDir(storeDir: string, runId: string): string {
  return join(runsDir(storeDir), validateRunId(runId));
}

export function runLogPath(storeDir: string, runId: string): string {
  return join(runDir(storeDir, runId), LOG_FILE);
}

export function openRunStore(dir: string): RunStore {
  const storeDir = resolve(dir);
  return {
    dir: storeDir,
    startRun: (meta) => startRun(storeDir, meta),
    resumeRun: (runId, resume) => resumeRun(storeDir, runId, resume),
    getRun: (runId) => readRun(storeDir, runId),
    listRuns: (filter) => listRuns(storeDir, filter),
    artifactPath: (runId, name) =>
      join(runDir(storeDir, runId), ARTIFACTS_FOLDER, validateArtifactName(name)),
    checkpointPath: (runId) => join(runDir(storeDir, runId), CHECKPOINT_FILE),
  };
}

function validateMeta(meta: RunMeta): void {
  if (meta === null || typeof meta !== 'object') throw new Error('run meta must be an object');
  validateRunId(meta.runId);
  for (const field of ['sweep', 'name', 'configHash', 'commit', 'dataChecksum'] as const) {
    if (typeof meta[field] !== 'string') {
      throw new Error(`run ${meta.runId}: meta.${field} must be a string, got ${typeof meta[field]}`);
    }
  }
  if (meta.sweep.length === 0 || meta.sweep.length > 500) {
    throw new Error(
      `run ${meta.runId}: meta.sweep must be 1 to 500 characters (it names the MLflow experiment)`,
    );
  }
  if (!Number.isSafeInteger(meta.seed)) throw new Error(`run ${meta.runId}: meta.seed must be an integer`);
  const backend = meta.backend as Partial<RunMeta['backend']> | undefined;
  if (
    typeof backend?.name !== 'string' ||
    typeof backend.version !== 'string' ||
    typeof backend.threads !== 'number'
  ) {
    throw new Error(
      `run ${meta.runId}: meta.backend must be { name: string, version: string, threads: number }`,
    );
  }
  for (const [key, value] of Object.entries(meta.params ?? {})) {
    validateMlflowKey('param', key);
    validateParamValue(key, value);
  }
  for (const [key, value] of Object.entries(meta.tags ?? {})) {
    validateMlflowKey('tag', key);
    validateTagValue(key, value);
  }
}

async function startRun(storeDir: string, meta: RunMeta): Promise<RunWriter> {
  validateMeta(meta);
  const parent = runsDir(storeDir);
  await mkdir(parent, { recursive: true });
  const header: RunHeader = {
    format: 1,
    meta: { ...meta, params: { ...meta.params }, tags: { ...(meta.tags ?? {}) } },
    attempt: randomUUID(),
    startTime: Date.now(),
    writer: { host: hostname(), pid: process.pid, thread: threadId },
  };
  // The new attempt is assembled beside the store's runs and moved into place with one rename, so readers
  // see either the previous attempt or the complete new one.
  const staging = join(parent, `.staging-${meta.runId}-${header.attempt}`);
  await mkdir(staging);
  await writeFileAtomic(join(staging, RUN_FILE), `${JSON.stringify(header, null, 2)}\n`);
  await writeFileAtomic(join(staging, LOG_FILE), '');
  await swapInRunFolder(storeDir, meta.runId, staging);
  return createWriter(storeDir, header);
}

/**
 * Moves a complete run folder assembled in `staging` (a folder inside runs/ whose name starts with '.') into
 * place as run `runId`, replacing any attempt there, under the run's file lock: readers see the old folder or
 * the new one, never a mix.
 */
export async function swapInRunFolder(storeDir: string, runId: string, staging: string): Promise<void> {
  const parent = runsDir(storeDir);
  const target = runDir(storeDir, runId);
  const release = await lockfile.lock(join(parent, `.${runId}`), {
    realpath: false,
    stale: 30_000,
    retries: { retries: 50, minTimeout: 20, maxTimeout: 500 },
  });
  try {
    try {
      await rename(staging, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      const trash = join(parent, `.trash-${runId}-${randomUUID()}`);
      await rename(target, trash);
      await rename(staging, target);
      await rm(trash, { recursive: true, force: true });
    }
  } finally {
    await release();
  }
}

/**
 * Continues the stored attempt: the header names this process as the writer (so the run no longer reads as
 * KILLED), and a resume event supersedes the log after `resume.from`.
 */
async function resumeRun(
  storeDir: string,
  runId: string,
  resume: Omit<RunResume, 'time'> & { from: number },
): Promise<RunWriter> {
  const header = await readRunHeader(storeDir, runId);
  if (header === undefined) throw new Error(`cannot resume run ${runId}: it is not in the store ${storeDir}`);
  if (!Number.isSafeInteger(resume.from) || resume.from < 0)
    throw new Error(`cannot resume run ${runId}: log offset ${resume.from} is not a byte offset`);
  const resumed: RunHeader = { ...header, writer: { host: hostname(), pid: process.pid, thread: threadId } };
  await writeFileAtomic(join(runDir(storeDir, runId), RUN_FILE), `${JSON.stringify(resumed, null, 2)}\n`);
  const writer = createWriter(storeDir, resumed);
  writer.append([
    {
      resume: { iteration: resume.iteration, phase: resume.phase, commit: resume.commit, from: resume.from },
      t: Date.now(),
    },
  ]);
  return writer;
}

function createWriter(storeDir: string, header: RunHeader): RunWriter & { append(events: LogEvent[]): void } {
  const { runId } = header.meta;
  const dir = runDir(storeDir, runId);
  let fd: number | undefined = openSync(join(dir, LOG_FILE), 'a');

  const append = (events: LogEvent[]): void => {
    if (fd === undefined) throw new Error(`run ${runId} is finished; start a new run to record more`);
    // One write per call: lines of one call land together, and a crash can only tear the last one.
    writeSync(fd, events.map(encodeEvent).join(''));
  };
  // Two writers of one run id is a caller's mistake; the store stays whole (the later attempt replaces the
  // earlier) and the superseded writer is told so instead of writing into the newer attempt's folder.
  const assertCurrentAttempt = async (): Promise<void> => {
    const current = await readRunHeader(storeDir, runId).catch(() => undefined);
    if (current?.attempt !== header.attempt) {
      throw new Error(
        `run ${runId} was started again by another writer; this attempt (${header.attempt}) is superseded`,
      );
    }
  };
  const metricEvent = (key: string, value: number, step: number, t: number): LogEvent => {
    validateMlflowKey('metric', key);
    return { m: key, s: validateStep(key, step), v: encodeValue(validateMetricValue(key, value)), t };
  };

  return {
    runId,
    append,
    logPosition() {
      if (fd === undefined) throw new Error(`run ${runId} is finished`);
      return fstatSync(fd).size;
    },
    logMetric(key, value, step) {
      append([metricEvent(key, value, step, Date.now())]);
    },
    logMetrics(values, step) {
      const t = Date.now();
      append(Object.entries(values).map(([key, value]) => metricEvent(key, value, step, t)));
    },
    setTag(key, value) {
      validateMlflowKey('tag', key);
      append([{ tag: key, value: validateTagValue(key, value), t: Date.now() }]);
    },
    async addArtifact(name, content) {
      if (fd === undefined)
        throw new Error(`run ${runId} is finished; artifacts must be added before finish()`);
      const path = join(dir, ARTIFACTS_FOLDER, validateArtifactName(name));
      await assertCurrentAttempt();
      try {
        await mkdir(dirname(path), { recursive: true });
        await storeArtifact(path, content);
      } catch (error) {
        await assertCurrentAttempt();
        throw new Error(`run ${runId}: cannot store artifact ${name}: ${String(error)}`);
      }
      append([{ artifact: name, t: Date.now() }]);
    },
    async finish(status, summary = {}, error) {
      if (!['FINISHED', 'FAILED', 'KILLED'].includes(status)) {
        throw new Error(
          `run ${runId}: finish status must be FINISHED, FAILED or KILLED, got ${String(status)}`,
        );
      }
      for (const [key, value] of Object.entries(summary)) {
        validateMlflowKey('metric', `${SUMMARY_PREFIX}${key}`);
        validateMetricValue(key, value);
      }
      if (fd === undefined) throw new Error(`run ${runId} is already finished`);
      const closing = fd;
      fd = undefined;
      try {
        await assertCurrentAttempt();
        const event: LogEvent = { end: status, t: Date.now() };
        if (Object.keys(summary).length > 0) {
          event.summary = Object.fromEntries(
            Object.entries(summary).map(([key, value]) => [key, encodeValue(value)]),
          );
        }
        if (error !== undefined) event.error = String(error);
        writeSync(closing, encodeEvent(event));
        fsyncSync(closing);
      } finally {
        closeSync(closing);
      }
    },
  };
}

async function storeArtifact(path: string, content: string | Uint8Array | { file: string }): Promise<void> {
  if (typeof content === 'string' || content instanceof Uint8Array) {
    const bytes =
      typeof content === 'string'
        ? content
        : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    await writeFileAtomic(path, bytes);
    return;
  }
  const temp = `${path}.tmp-${randomUUID()}`;
  try {
    await copyFile(content.file, temp);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

export async function readRunHeader(storeDir: string, runId: string): Promise<RunHeader | undefined> {
  const file = join(runDir(storeDir, runId), RUN_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as RunHeader;
  } catch {
    throw new Error(`${file} is not valid JSON; remove the run folder and run it again`);
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A run without an end event whose writing process is gone was killed (only decidable on the same host). */
export function writerIsGone(header: RunHeader): boolean {
  return header.writer.host === hostname() && !processIsAlive(header.writer.pid);
}

async function readRun(storeDir: string, runId: string): Promise<RunRecord | undefined> {
  const header = await readRunHeader(storeDir, runId);
  if (header === undefined) return undefined;
  const all = await readLog(runLogPath(storeDir, runId));
  const entries = liveEntries(all);
  const metrics: Record<string, MetricPoint[]> = {};
  const tags: Record<string, string> = { ...(header.meta.tags ?? {}) };
  const artifacts: string[] = [];
  const record: RunRecord = {
    meta: header.meta,
    status: 'RUNNING',
    startTime: header.startTime,
    summary: {},
    metrics,
    artifacts,
    tags,
    attempt: header.attempt,
    resumes: all.flatMap(({ event }) =>
      'resume' in event
        ? [
            {
              time: event.t,
              commit: event.resume.commit,
              iteration: event.resume.iteration,
              phase: event.resume.phase,
            },
          ]
        : [],
    ),
  };
  let lastTime = header.startTime;
  for (const { event } of entries) {
    lastTime = Math.max(lastTime, event.t);
    if ('m' in event) {
      const history = metrics[event.m] ?? [];
      metrics[event.m] = history;
      history.push({ step: event.s, value: decodeValue(event.v), timestamp: event.t });
    } else if ('tag' in event) {
      tags[event.tag] = event.value;
    } else if ('artifact' in event) {
      if (!artifacts.includes(event.artifact)) artifacts.push(event.artifact);
    } else if ('end' in event) {
      record.status = event.end;
      record.endTime = event.t;
      for (const [key, value] of Object.entries(event.summary ?? {}))
        record.summary[key] = decodeValue(value);
      if (event.error !== undefined) record.error = event.error;
    }
  }
  if (record.status === 'RUNNING' && writerIsGone(header)) {
    record.status = 'KILLED';
    record.endTime = lastTime;
    record.error = `the process that wrote this run (pid ${header.writer.pid}) exited before finishing it`;
  }
  return record;
}

/** Ids of the runs in the store (folders being assembled or removed are skipped). */
export async function listRunIds(storeDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(runsDir(storeDir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names.filter((name) => !name.startsWith('.')).sort();
}

async function listRuns(
  storeDir: string,
  filter: { sweep?: string; status?: RunStatus } = {},
): Promise<RunRecord[]> {
  const records = await Promise.all((await listRunIds(storeDir)).map((id) => readRun(storeDir, id)));
  return records
    .filter((record): record is RunRecord => record !== undefined)
    .filter((record) => filter.sweep === undefined || record.meta.sweep === filter.sweep)
    .filter((record) => filter.status === undefined || record.status === filter.status)
    .sort((a, b) => a.startTime - b.startTime || a.meta.runId.localeCompare(b.meta.runId));
}
