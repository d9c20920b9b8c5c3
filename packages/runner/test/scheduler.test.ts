import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '@reptile-bench/tracking';
import { describe, expect, it } from 'vitest';
import { planSweep } from '../src/config/sweep.ts';
import { estimateCost } from '../src/cost.ts';
import { acquireSweepLock } from '../src/lock.ts';
import { isFinishedResult } from '../src/scheduler.ts';
import { fixtureSweepYaml } from './fixtures.ts';

describe('sweep lock', () => {
  it('refuses a second live sweep on the same folder and takes over a dead one', async () => {
    const out = mkdtempSync(join(tmpdir(), 'runner-lock-'));
    const lock = join(out, 'sweep.lock');
    const sleeper = spawn('sleep', ['30']);
    try {
      writeFileSync(lock, JSON.stringify({ pid: sleeper.pid, host: hostname(), since: 'earlier' }));
      expect(() => acquireSweepLock(out)).toThrow(
        new RegExp(
          `another sweep \\(pid ${sleeper.pid}, since earlier\\) is running in .*; wait for it to end or pass another --out`,
        ),
      );
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((r) => sleeper.once('exit', r));
    }
    // Its owner is gone (a killed sweep): the next sweep takes the lock at once.
    const release = acquireSweepLock(out);
    expect(existsSync(lock)).toBe(true);
    release();
    expect(existsSync(lock)).toBe(false);
  });
});

describe('resume decisions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-resume-unit-'));
  writeFileSync(join(dir, 'fixture.yaml'), fixtureSweepYaml);
  const run = planSweep(join(dir, 'fixture.yaml')).runs[0]!;
  const record = (status: RunRecord['status'], o: { hash?: string; backend?: string } = {}) =>
    ({
      status,
      meta: {
        configHash: o.hash ?? run.configHash,
        seed: run.seed,
        backend: { name: o.backend ?? run.config.backend },
      },
    }) as unknown as RunRecord;

  it('reuses only a finished run of the same config hash, seed and backend', () => {
    expect(isFinishedResult(record('FINISHED'), run)).toBe(true);
    for (const status of ['RUNNING', 'FAILED', 'KILLED'] as const)
      expect(isFinishedResult(record(status), run)).toBe(false);
    expect(isFinishedResult(record('FINISHED', { hash: '000000000000' }), run)).toBe(false);
    expect(isFinishedResult(record('FINISHED', { backend: 'wasm' }), run)).toBe(false);
    expect(isFinishedResult(undefined, run)).toBe(false);
  });

  it('weighs a run by its work for the ETA: more iterations, episodes or a bigger model cost more', () => {
    const base = run.config;
    const cost = estimateCost(base).total;
    const longer = estimateCost({
      ...base,
      algorithm: { ...base.algorithm, meta_iters: 1000 } as typeof base.algorithm,
    }).total;
    const moreEpisodes = estimateCost({ ...base, eval: { ...base.eval, episodes: 1000 } }).total;
    expect(longer).toBeGreaterThan(cost);
    expect(moreEpisodes).toBeGreaterThan(cost);
    const sine = planSweep(join(dir, 'fixture.yaml')).runs.find((r) => r.config.dataset.name === 'sine')!;
    expect(estimateCost(sine.config).train).toBeLessThan(estimateCost(base).train);
  });
});
