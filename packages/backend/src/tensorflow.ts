// The `tensorflow` backend: @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, found by the usual module
// resolution (a `pnpm add`) or in the install that scripts/tfjs-node.mjs makes outside node_modules.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { registerTensorflowKernels } from './kernels/tensorflow.ts';
import type { BackendInfo } from './select.ts';

const require = createRequire(import.meta.url);

const packages = [
  { name: '@tensorflow/tfjs-node-gpu', variant: 'gpu' },
  { name: '@tensorflow/tfjs-node', variant: 'cpu' },
] as const;

/**
 * Where scripts/tfjs-node.mjs installs (one folder per variant, cpu and gpu): $REPTILE_BENCH_TFJS_NODE_DIR, or
 * .cache/tfjs-node in the repository.
 */
export function localTfjsNodeDir(): string {
  return resolve(
    process.env.REPTILE_BENCH_TFJS_NODE_DIR ??
      join(fileURLToPath(new URL('../../..', import.meta.url)), '.cache', 'tfjs-node'),
  );
}

interface Candidate {
  name: string;
  /** The package's folder, or undefined where only the usual resolution can find it. */
  dir: string;
  where: string;
}

function candidates(): Candidate[] {
  const local = localTfjsNodeDir();
  const found: Candidate[] = [];
  for (const { name, variant } of packages) {
    try {
      found.push({
        name,
        dir: resolve(require.resolve(`${name}/package.json`), '..'),
        where: 'node_modules',
      });
    } catch {
      // not installed the usual way
    }
    const dir = join(local, variant, 'node_modules', ...name.split('/'));
    if (existsSync(join(dir, 'package.json'))) found.push({ name, dir, where: dir });
  }
  return found;
}

/** The reason the last `node scripts/tfjs-node.mjs` gave for not installing, if it wrote one. */
function setupReason(): string | undefined {
  for (const { variant } of packages) {
    const file = join(localTfjsNodeDir(), variant, 'unavailable.txt');
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  }
  return undefined;
}

interface NodeBackend {
  binding?: { TF_Version?: string; isUsingGpuDevice?: () => boolean };
  isUsingGpuDevice?: boolean;
}

/** TensorFlow's intra-op threads: TF_NUM_INTRAOP_THREADS when set (TensorFlow reads it), else one per core. */
function intraOpThreads(): number {
  const value = Number(process.env.TF_NUM_INTRAOP_THREADS);
  return Number.isInteger(value) && value > 0 ? value : availableParallelism();
}

/** Loads tfjs-node (GPU build first), selects its backend and registers the project's kernels for it. */
export async function selectTensorflow(coreVersion: string): Promise<BackendInfo> {
  const failures: string[] = [];
  let loaded: Candidate | undefined;
  // Read by the TensorFlow library when it loads, so only where this thread's environment is the process's (the
  // main thread; a worker's process.env is its own copy). Informational log lines (CPU features) on every start
  // are dropped, warnings stay. oneDNN's kernels are off unless asked for: in eager mode, op by op, they made a
  // Conv4 training step 15-60 % slower here (scripts/bench-step.ts tensorflow, alternating runs).
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  process.env.TF_ENABLE_ONEDNN_OPTS ??= '0';
  for (const candidate of candidates()) {
    const version = JSON.parse(readFileSync(join(candidate.dir, 'package.json'), 'utf8')).version;
    if (version !== coreVersion) {
      failures.push(
        `${candidate.name} ${version} in ${candidate.dir} does not match tfjs-core ${coreVersion} (install ${candidate.name}@${coreVersion})`,
      );
      continue;
    }
    try {
      require(candidate.dir);
      loaded = candidate;
      break;
    } catch (error) {
      failures.push(
        `${candidate.name} in ${candidate.dir}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  if (loaded === undefined) {
    const detail = failures.length > 0 ? ` Loading failed: ${failures.join('; ')}.` : '';
    const reason = setupReason();
    throw new Error(
      `backend tensorflow needs @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA), and neither is installed.${detail} ` +
        `In this repository \`node scripts/tfjs-node.mjs\` installs tfjs-node ${coreVersion} with the TensorFlow C library of a pinned PyPI wheel ` +
        `into ${join(localTfjsNodeDir(), 'cpu')} (--gpu: tfjs-node-gpu)${reason === undefined ? '' : `; its last attempt said: ${reason}`}. ` +
        `Where the TensorFlow CDN is reachable, \`pnpm add -w @tensorflow/tfjs-node@${coreVersion}\` works too. ` +
        'It is not bundled because its install script downloads the TensorFlow C library from a CDN, which fails offline ' +
        'and on restricted networks; the default wasm backend needs no download.',
    );
  }
  if (tf.findBackend('tensorflow') === null) {
    throw new Error(
      `backend tensorflow: ${loaded.name} (${loaded.where}) loaded but registered no 'tensorflow' backend with this tfjs-core (${coreVersion}); ` +
        `it probably uses another copy of @tensorflow/tfjs-core. Install ${loaded.name}@${coreVersion} so both share one.`,
    );
  }
  if (!(await tf.setBackend('tensorflow')))
    throw new Error(`backend tensorflow: ${loaded.name} (${loaded.where}) failed to initialise`);
  await tf.ready();
  registerTensorflowKernels();
  const backend = tf.backend() as unknown as NodeBackend;
  const tensorflowVersion = backend.binding?.TF_Version ?? 'unknown';
  const gpu = backend.isUsingGpuDevice === true;
  return {
    name: 'tensorflow',
    version: `tfjs-core ${coreVersion}, ${loaded.name} ${coreVersion}, TensorFlow ${tensorflowVersion} (${gpu ? 'GPU' : 'CPU'})`,
    threads: intraOpThreads(),
    note:
      `native TensorFlow C library (${loaded.where}), oneDNN ` +
      `${process.env.TF_ENABLE_ONEDNN_OPTS === '1' ? 'on' : 'off'}; threads is its intra-op thread count ` +
      '(TF_NUM_INTRAOP_THREADS, default one per core)',
  };
}
