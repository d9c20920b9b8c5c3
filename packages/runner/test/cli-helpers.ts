import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The real CLI in a child process, and tiny sine-wave sweeps for it, shared by the end-to-end tests.

export const bin = fileURLToPath(new URL('../bin/reptile-bench.mjs', import.meta.url));

/**
 * Tiny sine-wave runs: a few meta-iterations and episodes, enough to exercise every stage for real. `iterations`
 * lengthens training (a few seconds at 3000) for tests that must catch a run in the middle.
 */
export function tinySweep(dir: string, name: string, algorithms: string[], iterations = 6): string {
  const file = join(dir, `${name}.yaml`);
  const every = iterations === 6 ? 3 : Math.ceil(iterations / 2);
  writeFileSync(
    file,
    `name: ${name}
seeds: [0]
defaults:
  backend: cpu
  dataset: { name: sine, shots: 5, train_shots: 10, query_shots: 10 }
  model: { name: mlp, hidden: [16, 16] }
  algorithm: { meta_iters: ${iterations}, meta_batch: 1, inner_iters: 2, inner_batch: 5, learning_rate: 0.02, optimizer: sgd, train_iters: ${iterations}, train_batch: 10 }
  eval: { episodes: 6, eval_iters: 4, eval_batch: 5, optimizer: sgd, learning_rate: 0.02, every: ${every}, val_episodes: 2 }
runs:
  - grid:
      algorithm.name: [${algorithms.join(', ')}]
`,
  );
  return file;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export function lastJson(stdout: string): {
  ok: boolean;
  counts: Record<string, number>;
  runs: Array<{
    id: string;
    config_hash: string;
    status: string;
    reused: boolean;
    metrics: Record<string, number>;
    error?: string;
  }>;
} {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string);
}

/** Polls `check` every 50 ms until it returns a value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 120_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
