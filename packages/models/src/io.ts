import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { sizeOf } from '@reptile-bench/core';
import { createModel } from './create.ts';
import { checkParams, type Model } from './model.ts';
import type { OptimizerState } from './optimizers.ts';

/** Marks our files; `version` changes whenever the layout changes in a way older readers cannot follow. */
export const modelFileFormat = 'reptile-bench/model';
export const modelFileVersion = 1;

interface StoredParam {
  name: string;
  shape: number[];
  /** sha256 of the raw bytes: catches truncated or edited files. */
  sha256: string;
  /** float32 little-endian, base64. */
  data: string;
}

let tempCounter = 0;

/** A float32 array as stored: little-endian bytes in base64 with their sha256. */
function encodeFloats(values: Float32Array): { sha256: string; data: string } {
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), data: bytes.toString('base64') };
}

function decodeFloats(
  stored: { sha256?: unknown; data?: unknown },
  length: number,
  bad: (what: string) => Error,
  where: string,
): Float32Array {
  if (typeof stored?.data !== 'string') throw bad(`${where} has no data`);
  const bytes = Buffer.from(stored.data, 'base64');
  if (bytes.length !== length * 4) throw bad(`${where} holds ${bytes.length} bytes, expected ${length * 4}`);
  if (createHash('sha256').update(bytes).digest('hex') !== stored.sha256)
    throw bad(`${where} fails its sha256 check`);
  const values = new Float32Array(length);
  new Uint8Array(values.buffer).set(bytes);
  return values;
}

/**
 * Writes the model's config, parameters and metadata as JSON, atomically (temp file + rename). `optimizerState`
 * is the inner optimizer state an adaptation may start from (see `OptimizerState`), kept beside the parameters.
 */
export async function saveModel(
  file: string,
  model: Model,
  params: Float32Array[],
  metadata: Record<string, unknown> = {},
  optimizerState?: OptimizerState,
): Promise<void> {
  checkParams(
    model,
    params.map((p, i) =>
      p.length === sizeOf(model.paramSpecs[i]?.shape ?? []) ? (model.paramSpecs[i]?.shape ?? []) : [p.length],
    ),
  );
  const stored: StoredParam[] = params.map((p, i) => {
    const spec = model.paramSpecs[i] as { name: string; shape: number[] };
    return { name: spec.name, shape: spec.shape, ...encodeFloats(p) };
  });
  const text = JSON.stringify({
    format: modelFileFormat,
    version: modelFileVersion,
    config: model.config,
    params: stored,
    metadata,
    ...(optimizerState === undefined
      ? {}
      : {
          optimizerState: {
            name: optimizerState.name,
            ...(optimizerState.steps === undefined ? {} : { steps: optimizerState.steps }),
            ...(optimizerState.shapes === undefined ? {} : { shapes: optimizerState.shapes }),
            ...(optimizerState.v === undefined ? {} : { v: encodeFloats(optimizerState.v) }),
            ...(optimizerState.m === undefined ? {} : { m: encodeFloats(optimizerState.m) }),
          },
        }),
  });
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${tempCounter++}.tmp`;
  try {
    await writeFile(temp, text);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Reads a file written by `saveModel`, checking format, version, shapes and checksums. */
export async function loadModel(file: string): Promise<{
  model: Model;
  params: Float32Array[];
  metadata: Record<string, unknown>;
  optimizerState?: OptimizerState;
}> {
  const text = await readFile(file, 'utf8');
  const bad = (what: string) =>
    new Error(`${file}: ${what}. The file is damaged or not a model saved by reptile-bench; save it again.`);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw bad(`not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (doc === null || typeof doc !== 'object' || doc.format !== modelFileFormat)
    throw bad(
      `field "format" is ${JSON.stringify((doc as { format?: unknown })?.format)}, expected "${modelFileFormat}"`,
    );
  if (doc.version !== modelFileVersion)
    throw new Error(
      `${file}: model file version ${JSON.stringify(doc.version)} is not supported; this version of reptile-bench reads version ${modelFileVersion}. ` +
        'Use the reptile-bench version that wrote it, or retrain and save again.',
    );
  if (doc.config === null || typeof doc.config !== 'object') throw bad('field "config" is missing');
  let model: Model;
  try {
    model = createModel(doc.config as Record<string, unknown>);
  } catch (error) {
    throw bad(`field "config" is invalid: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!Array.isArray(doc.params) || doc.params.length !== model.paramSpecs.length)
    throw bad(`field "params" must list ${model.paramSpecs.length} tensors for this ${model.kind}`);
  const params = (doc.params as StoredParam[]).map((stored, i) => {
    const spec = model.paramSpecs[i] as { name: string; shape: number[] };
    const where = `params[${i}] (${spec.name})`;
    if (stored?.name !== spec.name) throw bad(`${where} is named ${JSON.stringify(stored?.name)}`);
    if (!Array.isArray(stored.shape) || stored.shape.join(',') !== spec.shape.join(','))
      throw bad(`${where} has shape ${JSON.stringify(stored.shape)}, the model needs [${spec.shape}]`);
    return decodeFloats(stored, sizeOf(spec.shape), bad, where);
  });
  const metadata = doc.metadata ?? {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
    throw bad('field "metadata" must be an object');
  const result = { model, params, metadata: metadata as Record<string, unknown> };
  if (doc.optimizerState === undefined) return result;
  return { ...result, optimizerState: decodeOptimizerState(doc.optimizerState, bad) };
}

function decodeOptimizerState(raw: unknown, bad: (what: string) => Error): OptimizerState {
  const s = raw as { name?: unknown; steps?: unknown; shapes?: unknown; v?: unknown; m?: unknown } | null;
  if (s === null || typeof s !== 'object' || (s.name !== 'adam' && s.name !== 'sgd'))
    throw bad('field "optimizerState" must name an "adam" or "sgd" state');
  const state: OptimizerState = { name: s.name };
  if (s.v === undefined) return state;
  const shapes = s.shapes;
  if (!Array.isArray(shapes) || !shapes.every((d) => Array.isArray(d) && d.every((n) => Number.isInteger(n))))
    throw bad('field "optimizerState.shapes" must list integer shapes');
  if (!Number.isInteger(s.steps)) throw bad('field "optimizerState.steps" must be an integer');
  const total = (shapes as number[][]).reduce((n, d) => n + sizeOf(d), 0);
  state.steps = s.steps as number;
  state.shapes = shapes as number[][];
  state.v = decodeFloats(s.v as { data?: unknown }, total, bad, 'optimizerState.v');
  if (s.m !== undefined) state.m = decodeFloats(s.m as { data?: unknown }, total, bad, 'optimizerState.m');
  return state;
}
