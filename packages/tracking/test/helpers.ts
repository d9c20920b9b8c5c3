import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunMeta } from '../src/index.ts';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const fixture = (name: string): string =>
  join(dirname(fileURLToPath(import.meta.url)), 'fixtures', name);

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `reptile-bench-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function meta(runId: string, overrides: Partial<RunMeta> = {}): RunMeta {
  return {
    runId,
    sweep: 'unit-sweep',
    name: `name of ${runId}`,
    configHash: 'abc123',
    seed: 7,
    commit: '0123456789abcdef',
    backend: { name: 'cpu', version: '4.22.0', threads: 1 },
    dataChecksum: 'sha256:feed',
    config: { algorithm: 'reptile', innerSteps: 5 },
    params: { algorithm: 'reptile', innerSteps: 5, transductive: false },
    ...overrides,
  };
}

/** Starts a TypeScript script in a child Node process (through tsx), like a sweep worker would be. */
export function spawnScript(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs a script to completion; rejects with its stderr when it exits non-zero. */
export function runScript(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const child = spawnScript(script, args, env);
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    err += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${script} exited with ${code ?? signal}: ${err}`));
    });
  });
}
