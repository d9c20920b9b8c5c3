// A run's checkpoint: one file holding a JSON header and the float32 arrays it refers to, written atomically
// (temp file, fsync, rename), so a kill at any instant leaves either the previous checkpoint or the new one.
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import type { EpisodeScores } from '@reptile-bench/evaluation';
import type { TrainingState } from '@reptile-bench/meta';
import type { OptimizerState } from '@reptile-bench/models';
import writeFileAtomic from 'write-file-atomic';

const MAGIC = 'reptile-bench/checkpoint\n';
const VERSION = 1;

/** Seconds of work a run has done so far, carried across resumes. */
export interface ElapsedSeconds {
  train: number;
  /** Learning-curve evaluations during training. */
  validation: number;
  /** The final evaluation. */
  eval: number;
  cpu: number;
}

/** Who wrote a checkpoint, so that a resume can tell whether it belongs to the run. */
export interface CheckpointOwner {
  runId: string;
  configHash: string;
  seed: number;
  backend: string;
  commit: string;
}

/** Where a run stands: training in progress, or training done and the final evaluation in progress. */
export type RunProgressState =
  | { phase: 'train'; training: TrainingState }
  | {
      phase: 'eval';
      /** The trained initialisation (empty for a learner without one) and its inner optimizer state. */
      trained: { params: Float32Array[]; innerState?: OptimizerState };
      /** Test episodes already scored, by index. */
      episodes: Array<[number, EpisodeScores]>;
    };

/** What a run saves. */
export type RunCheckpoint = CheckpointOwner & {
  /** When it was written (ms since the epoch). */
  time: number;
  /** Bytes of the run's log when it was written: what the log holds after this is superseded on resume. */
  logOffset: number;
  elapsed: ElapsedSeconds;
} & RunProgressState;

/** Float32Arrays leave the JSON as `{ "$f32": i }`, the index of their bytes in the file's payload. */
function split(value: unknown, arrays: Float32Array[]): unknown {
  if (value instanceof Float32Array) {
    arrays.push(value);
    return { $f32: arrays.length - 1 };
  }
  if (Array.isArray(value)) return value.map((v) => split(v, arrays));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, split(v, arrays)]));
  return value;
}

function join(value: unknown, arrays: Float32Array[]): unknown {
  if (Array.isArray(value)) return value.map((v) => join(v, arrays));
  if (value !== null && typeof value === 'object') {
    const ref = (value as { $f32?: unknown }).$f32;
    if (typeof ref === 'number') {
      const array = arrays[ref];
      if (array === undefined) throw new Error(`refers to array ${ref}, which the file does not hold`);
      return array;
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, join(v, arrays)]));
  }
  return value;
}

/** The file's bytes: magic, header length (uint32 LE), header JSON, padding to 4 bytes, then every array. */
export function encodeCheckpoint(checkpoint: RunCheckpoint): Buffer {
  const arrays: Float32Array[] = [];
  const body = split(checkpoint, arrays);
  const lengths = arrays.map((a) => a.length);
  const payload = Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
  const sha256 = createHash('sha256').update(payload).digest('hex');
  const header = Buffer.from(JSON.stringify({ version: VERSION, lengths, sha256, body }));
  const magic = Buffer.from(MAGIC);
  const prefix = magic.length + 4 + header.length;
  const padding = (4 - (prefix % 4)) % 4;
  const size = Buffer.alloc(4);
  size.writeUInt32LE(header.length + padding);
  return Buffer.concat([magic, size, header, Buffer.alloc(padding, 0x20), payload]);
}

/** Parses a checkpoint file's bytes; throws naming `file` and what is wrong when they are not one. */
export function decodeCheckpoint(bytes: Buffer, file: string): RunCheckpoint {
  const bad = (what: string) =>
    new Error(`${file}: ${what}; it is not a readable checkpoint. Delete it to start the run over.`);
  const magic = Buffer.from(MAGIC);
  if (bytes.length < magic.length + 4 || !bytes.subarray(0, magic.length).equals(magic))
    throw bad('the file does not start like a reptile-bench checkpoint');
  const headerLength = bytes.readUInt32LE(magic.length);
  const start = magic.length + 4;
  if (start + headerLength > bytes.length) throw bad('the file is truncated (header)');
  let header: { version?: unknown; lengths?: unknown; sha256?: unknown; body?: unknown };
  try {
    header = JSON.parse(bytes.toString('utf8', start, start + headerLength));
  } catch {
    throw bad('its header is not valid JSON');
  }
  if (header.version !== VERSION)
    throw bad(`checkpoint version ${JSON.stringify(header.version)} is not ${VERSION}`);
  const lengths = header.lengths;
  if (!Array.isArray(lengths) || !lengths.every((n) => Number.isInteger(n) && n >= 0))
    throw bad('its header lists no array lengths');
  const payload = bytes.subarray(start + headerLength);
  const total = (lengths as number[]).reduce((a, b) => a + b, 0) * 4;
  if (payload.length !== total)
    throw bad(`its payload holds ${payload.length} bytes, the header expects ${total}`);
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256)
    throw bad('its payload fails its sha256 check');
  const copy = new Uint8Array(payload);
  const arrays: Float32Array[] = [];
  let offset = 0;
  for (const n of lengths as number[]) {
    arrays.push(new Float32Array(copy.buffer, copy.byteOffset + offset, n));
    offset += n * 4;
  }
  try {
    return join(header.body, arrays) as RunCheckpoint;
  } catch (error) {
    throw bad(`its header ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Writes the checkpoint atomically: the file at `path` is always the previous complete one or this one. */
export async function saveCheckpoint(path: string, checkpoint: RunCheckpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(checkpoint), { fsync: true });
}

/** The checkpoint at `path`, or undefined when there is none. */
export async function loadCheckpoint(path: string): Promise<RunCheckpoint | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return decodeCheckpoint(bytes, path);
}

export async function removeCheckpoint(path: string): Promise<void> {
  await rm(path, { force: true });
}

/**
 * Why a checkpoint may not be continued by `run`, or undefined when it may. Another commit is not a reason:
 * the resume is recorded with its commit instead.
 */
export function refusalOf(
  checkpoint: RunCheckpoint,
  run: Omit<CheckpointOwner, 'commit'>,
  file: string,
): string | undefined {
  const differences: string[] = [];
  if (checkpoint.runId !== run.runId) differences.push(`run id ${checkpoint.runId} (this run: ${run.runId})`);
  if (checkpoint.configHash !== run.configHash)
    differences.push(`config hash ${checkpoint.configHash} (this run: ${run.configHash})`);
  if (checkpoint.seed !== run.seed) differences.push(`seed ${checkpoint.seed} (this run: ${run.seed})`);
  if (checkpoint.backend !== run.backend)
    differences.push(`backend ${checkpoint.backend} (this run: ${run.backend})`);
  if (differences.length === 0) return undefined;
  return (
    `${file} was written by another run: ${differences.join(', ')}. Continuing it would mix two configs, ` +
    'so it is refused; delete the file (or rerun with --force) to start this run over'
  );
}
