import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRunStore, type RunRecord } from '@reptile-bench/tracking';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint.ts';
import { planSweep } from '../src/config/sweep.ts';
import { bin, waitFor } from './cli-helpers.ts';

// Stopping runs through the real CLI: Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops a
// run within seconds with a checkpoint and exit code 130; a second Ctrl-C exits at once; a sweep killed outright
// leaves no worker behind.

/** A sine run that would train for hours: only a signal ends it. */
function longRun(dir: string): string {
  const file = join(dir, 'long.yaml');
  writeFileSync(
    file,
    `name: long
seeds: [0]
runs:
  - backend: cpu
    dataset: { name: sine, shots: 5, train_shots: 10, query_shots: 10 }
    model: { name: mlp, hidden: [32, 32] }
    algorithm: { name: reptile, meta_iters: 10000000, meta_batch: 2, inner_iters: 3, inner_batch: 5, learning_rate: 0.01, optimizer: adam }
    eval: { episodes: 10, eval_iters: 4, eval_batch: 5, optimizer: adam, learning_rate: 0.01 }
`,
  );
  return file;
}

interface Started {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

const started: ChildProcess[] = [];

// Each CLI runs in a process group of its own, like a command typed in a terminal; whatever a failed test leaves
// running is killed with its group.
afterEach(() => {
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function start(args: string[]): Started {
  let err = '';
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  started.push(child);
  child.stderr?.on('data', (chunk) => {
    err += String(chunk);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  return { child, stderr: () => err, exit };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the run has logged its first iteration, then lets it train a little longer. */
async function training(out: string, runId: string): Promise<void> {
  const store = openRunStore(out);
  await waitFor('the run to be training', async () => {
    const run = await store.getRun(runId).catch(() => undefined);
    return (run?.metrics.train_inner_loss?.length ?? 0) >= 1 ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 1500));
}

describe('stopping a run', () => {
  it('Ctrl-C once: stops within seconds, checkpoints, records KILLED, exits 130', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signals-once-'));
    const file = longRun(dir);
    const runId = planSweep(file).runs[0]!.runId;
    const out = join(dir, 'results');
    const run = start(['run', file, '--out', out, '--progress', 'lines']);
    await training(out, runId);
    const sent = Date.now();
    process.kill(-run.child.pid!, 'SIGINT');
    const { code, at } = await run.exit;
    expect(code).toBe(130);
    expect(at - sent).toBeLessThan(10_000);
    expect(run.stderr()).toContain('SIGINT: stopping; runs in progress save a checkpoint');
    expect(run.stderr()).toContain('rerun the same command to continue from the checkpoints');
    expect(run.stderr()).not.toContain('--help');
    const store = openRunStore(out);
    const record = (await store.getRun(runId)) as RunRecord;
    expect(record.status).toBe('KILLED');
    expect(record.error).toMatch(/SIGINT/);
    const checkpoint = await loadCheckpoint(store.checkpointPath(runId));
    expect(checkpoint?.phase).toBe('train');
    expect(checkpoint?.phase === 'train' && checkpoint.training.iteration).toBeGreaterThan(0);
  });

  it('Ctrl-C twice: exits at once, without waiting for the step in progress', async () => {
    // Conv4 steps on the pure-JS cpu backend take seconds: a clean stop waits for the step, the second Ctrl-C not.
    const dir = mkdtempSync(join(tmpdir(), 'signals-twice-'));
    const file = join(dir, 'slow.yaml');
    writeFileSync(
      file,
      `name: slow
seeds: [0]
runs:
  - backend: cpu
    dataset: { name: omniglot, ways: 5, shots: 1, train_shots: 10 }
    model: { name: conv4 }
    algorithm: { name: reptile, meta_iters: 1000, meta_batch: 1, inner_iters: 1, inner_batch: 10, learning_rate: 0.001 }
    eval: { episodes: 10, eval_iters: 1, eval_batch: 5, learning_rate: 0.001 }
`,
    );
    const runId = planSweep(file).runs[0]!.runId;
    const out = join(dir, 'results');
    const run = start(['run', file, '--out', out, '--progress', 'lines']);
    await training(out, runId);
    process.kill(-run.child.pid!, 'SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    const sent = Date.now();
    process.kill(-run.child.pid!, 'SIGINT');
    const { code, at } = await run.exit;
    expect(code).toBe(130);
    expect(at - sent).toBeLessThan(1_500);
    expect(run.stderr()).toMatch(/again: (stopping|exiting) now/);
  });

  it('SIGTERM to the sweep: the run checkpoints and the sweep exits 143', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signals-term-'));
    const file = longRun(dir);
    const runId = planSweep(file).runs[0]!.runId;
    const out = join(dir, 'results');
    const run = start(['sweep', file, '--out', out, '--progress', 'lines']);
    await training(out, runId);
    run.child.kill('SIGTERM');
    const { code } = await run.exit;
    expect(code).toBe(143);
    expect((await openRunStore(out).getRun(runId))?.status).toBe('KILLED');
    expect((await loadCheckpoint(openRunStore(out).checkpointPath(runId)))?.phase).toBe('train');
  });

  it('the sweep killed outright (SIGKILL): its worker stops by itself within seconds, checkpointed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signals-orphan-'));
    const file = longRun(dir);
    const runId = planSweep(file).runs[0]!.runId;
    const out = join(dir, 'results');
    const run = start(['sweep', file, '--out', out, '--progress', 'lines']);
    await training(out, runId);
    const store = openRunStore(out);
    const header = JSON.parse(
      (await import('node:fs')).readFileSync(join(out, 'runs', runId, 'run.json'), 'utf8'),
    ) as { writer: { pid: number } };
    const worker = header.writer.pid;
    expect(worker).not.toBe(run.child.pid);
    expect(alive(worker)).toBe(true);
    run.child.kill('SIGKILL');
    await run.exit;
    await waitFor('the worker to exit', async () => (alive(worker) ? undefined : true), 5_000);
    const record = (await store.getRun(runId)) as RunRecord;
    expect(record.status).toBe('KILLED');
    expect(record.error).toMatch(/went away/);
    expect((await loadCheckpoint(store.checkpointPath(runId)))?.phase).toBe('train');
  });
});

describe('runs that blow up', () => {
  it('a NaN loss fails the run with the iteration and the cause; it is never reused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signals-nan-'));
    const file = longRun(dir);
    const out = join(dir, 'results');
    const args = ['run', file, '--out', out, '--progress', 'lines', '--set', 'algorithm.meta_iters=20'];
    // (max_loss out of the way, so that the loss grows until it is no longer a number)
    const huge = [
      ...args,
      ...[
        '--set',
        'algorithm.optimizer=sgd',
        '--set',
        'algorithm.learning_rate=1e6',
        '--set',
        'max_loss=1e300',
      ],
    ];
    for (let attempt = 0; attempt < 2; attempt++) {
      const run = start(huge);
      const { code } = await run.exit;
      expect(code).toBe(1);
      expect(run.stderr()).toMatch(
        /FAILED .*training diverged at iteration \d+: (train_)?(inner_loss|parameter \d+\[\d+\]) = (NaN|-?Infinity)\. The usual cause is a learning rate or meta-step too large/,
      );
      expect(run.stderr()).not.toContain('reused');
    }
    const [record] = await openRunStore(out).listRuns();
    expect(record?.status).toBe('FAILED');
    expect(record?.error).toMatch(/diverged/);
  });

  it('a finite loss above max_loss fails the run too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signals-bound-'));
    const file = longRun(dir);
    const out = join(dir, 'results');
    const run = start([
      'run',
      file,
      '--out',
      out,
      '--progress',
      'lines',
      '--set',
      'algorithm.meta_iters=20',
      '--set',
      'max_loss=1e-6',
    ]);
    const { code } = await run.exit;
    expect(code).toBe(1);
    expect(run.stderr()).toMatch(
      /diverged at iteration 0: inner_loss = [0-9.e+-]+\. It is above the bound max_loss = 0\.000001/,
    );
  });
});
