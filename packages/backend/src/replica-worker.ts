// Entry point of every replica thread: selects the backend once, then runs exported functions of the pool's
// module on request. Loaded by piscina through tsx's ESM loader (see pool.ts).
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { type BackendName, initBackend } from './select.ts';

interface WorkerConfig {
  backend: BackendName;
  module: string;
}

export interface ReplicaTask {
  fn: string;
  payload: unknown;
}

const config = Piscina.workerData as WorkerConfig;
const ready = initBackend(config.backend);
let exports: Promise<Record<string, unknown>> | undefined;

/**
 * Plain (non-shared) ArrayBuffers in a result, and those of typed arrays that own their whole buffer: moved to the
 * caller instead of copied.
 */
function transferables(value: unknown, found = new Set<ArrayBuffer>(), depth = 0): Set<ArrayBuffer> {
  if (depth > 4 || value === null || typeof value !== 'object') return found;
  if (value instanceof ArrayBuffer) {
    found.add(value);
    return found;
  }
  if (ArrayBuffer.isView(value)) {
    const buffer = value.buffer;
    // Only a view that owns its whole buffer: a view into a larger one (e.g. the wasm heap) must not be moved.
    if (buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === buffer.byteLength)
      found.add(buffer);
    return found;
  }
  for (const item of Array.isArray(value) ? value : Object.values(value))
    transferables(item, found, depth + 1);
  return found;
}

export default async function runReplicaTask({ fn, payload }: ReplicaTask): Promise<unknown> {
  const info = await ready;
  if (fn === '') return info;
  exports ??= import(pathToFileURL(config.module).href) as Promise<Record<string, unknown>>;
  const loaded = await exports;
  const task = loaded[fn];
  if (typeof task !== 'function') {
    const names = Object.keys(loaded).filter((k) => typeof loaded[k] === 'function');
    throw new Error(
      `replica module ${config.module} exports no function "${fn}" (it exports: ${names.join(', ') || 'none'})`,
    );
  }
  const result = await task(payload);
  const transfer = [...transferables(result)];
  if (transfer.length === 0) return result;
  // A transferable wrapper marked movable: piscina sends the value with these buffers moved.
  return Piscina.move({ [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: result } as never);
}
