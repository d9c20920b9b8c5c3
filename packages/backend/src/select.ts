import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { registerTrainingKernels } from './kernels/register.ts';
import { prepareSimdKernels, simdUsesFma } from './kernels/simd/runtime.ts';
import { selectTensorflow } from './tensorflow.ts';

export type BackendName = 'wasm' | 'cpu' | 'tensorflow';
export const backendNames: readonly BackendName[] = ['wasm', 'cpu', 'tensorflow'];

/** What every run records about the compute it ran on. */
export interface BackendInfo {
  name: BackendName;
  /** tfjs-core version plus the backend package's version (and, for tensorflow, the TensorFlow C library's). */
  version: string;
  /** Threads one backend instance computes with (per worker when replicas are used). */
  threads: number;
  simd?: boolean;
  /** wasm: whether the matrix products use fused multiply-adds (relaxed SIMD). */
  fma?: boolean;
  note?: string;
}

// Backends register themselves when loaded. require, not import: an ESM import would first scan each bundle
// for its export names, which costs more than loading it.
const require = createRequire(import.meta.url);
require('@tensorflow/tfjs-backend-cpu');
const wasmBackend =
  require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');

const defaultBackend: BackendName = 'wasm';
let current: { name: BackendName; info: Promise<BackendInfo>; settled: boolean } | undefined;

/** Parses a user-supplied backend name, with an error that lists the valid ones. */
export function parseBackendName(value: unknown, where = 'backend'): BackendName {
  if (typeof value === 'string' && (backendNames as readonly string[]).includes(value))
    return value as BackendName;
  throw new Error(
    `${where}: unknown backend ${JSON.stringify(value)}; use one of ${backendNames.join(', ')}`,
  );
}

/**
 * Selects and initialises a backend (default `wasm`) and registers the project's training kernels for it.
 * Idempotent: calling it again with the same name returns the same info; switching names re-selects.
 */
export function initBackend(name: BackendName = defaultBackend): Promise<BackendInfo> {
  parseBackendName(name);
  // Reuse a selection in progress, or a finished one still active (tf.setBackend elsewhere may have switched).
  if (current?.name === name && (!current.settled || tf.getBackend() === name)) return current.info;
  const info = selectBackend(name);
  const selection = { name, info, settled: false };
  current = selection;
  info.then(
    () => {
      selection.settled = true;
    },
    () => {
      if (current === selection) current = undefined;
    },
  );
  return info;
}

async function selectBackend(name: BackendName): Promise<BackendInfo> {
  const coreVersion = tf.version_core;
  registerTrainingKernels();
  if (name === 'tensorflow') return selectTensorflow(coreVersion);
  if (name === 'wasm') await prepareSimdKernels();
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name}: tfjs could not initialise it`);
  await tf.ready();
  if (name === 'cpu') {
    // The cpu backend greets its first tensor under Node with advice to install tfjs-node; this project chooses
    // backends explicitly, so the banner is noise in every log.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    return {
      name,
      version: `tfjs-core ${coreVersion}, tfjs-backend-cpu ${coreVersion}`,
      threads: 1,
      note: 'pure JavaScript reference kernels: slow, for checking results',
    };
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return {
    name,
    version: `tfjs-core ${coreVersion}, tfjs-backend-wasm ${wasmBackend.version_wasm}`,
    // Under Node the wasm backend runs the single-threaded build; parallelism comes from worker replicas.
    threads: Math.max(1, wasmBackend.getThreadsCount()),
    simd: simd === true,
    fma: simdUsesFma(),
    note: 'training kernels (convolutions, matrix products, batch norm, Adam) are @reptile-bench/backend SIMD code',
  };
}

/** The info of the backend selected by the last successful `initBackend`, if any. */
export async function currentBackendInfo(): Promise<BackendInfo | undefined> {
  return current?.info;
}
