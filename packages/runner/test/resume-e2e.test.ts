import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@reptile-bench/core';
import { openRunStore, type RunRecord } from '@reptile-bench/tracking';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint } from '../src/checkpoint.ts';
import { planSweep } from '../src/config/sweep.ts';
import { recordedNumbers } from '../src/records.ts';
import { bin, type CliResult, lastJson } from './cli-helpers.ts';

// A run killed outright (SIGKILL, no cleanup) in the middle of meta-training and again in the middle of its final
// evaluation, then continued by plain reruns of the same sweep, ends bit-identical to a run never interrupted.
// The kill comes from inside the run process (REPTILE_BENCH_CRASH_AT), at exactly the iteration or episode asked.

function sweepCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, 'sweep', ...args, '--progress', 'lines', '--json'],
      { maxBuffer: 1 << 24, env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const sineRun = `
  dataset: { name: sine, shots: 5, train_shots: 10, query_shots: 10 }
  model: { name: mlp, hidden: [16, 16] }
  algorithm: { name: reptile, meta_iters: 24, meta_batch: 3, inner_iters: 3, inner_batch: 5, learning_rate: 0.01, optimizer: adam }
  eval: { episodes: 30, eval_iters: 5, eval_batch: 5, optimizer: adam, learning_rate: 0.01, every: 5, val_episodes: 3 }`;

// Real Omniglot archives, the paper's preprocessing and evaluation semantics, a small Conv4 and few iterations.
const omniglotRun = `
  dataset: { name: omniglot, ways: 3, shots: 1, train_shots: 4, resize: nearest, ink: 0 }
  model: { name: conv4, filters: 8 }
  algorithm: { name: reptile, meta_iters: 16, meta_batch: 2, inner_iters: 2, inner_batch: 6, learning_rate: 0.001, optimizer: adam, shared_optimizer_state: true }
  eval: { episodes: 24, eval_iters: 4, eval_batch: 3, optimizer: adam, learning_rate: 0.001, optimizer_state: trained, every: 8, val_episodes: 2 }`;

// The real sentiment sentences: a small LSTM classifier with word dropout (its own random stream to resume).
const textRun = `
  dataset: { name: sentiment }
  model: { name: lstm, embedding: 16, hidden: 16 }
  algorithm: { name: supervised, train_iters: 40, train_batch: 32, learning_rate: 0.005, token_dropout: 0.25 }
  eval: { every: 10, timing_sentences: 5 }`;

function sweepFile(dir: string, name: string, run: string, workers = 1): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
seeds: [0]
defaults:
  backend: wasm
  workers: ${workers}
  checkpoint: { every_iterations: 3, every_seconds: 0.05 }
runs:
  - ${run.trim().replace(/\n {2}/g, '\n    ')}
`,
  );
  return file;
}

async function expectResumesExactly(
  name: string,
  run: string,
  crashes: string[],
  workers = 1,
  artifacts = ['model.json', 'test-episodes.json'],
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `resume-${name}-`));
  const file = sweepFile(dir, name, run, workers);
  const [planned] = planSweep(file).runs;
  const runId = planned!.runId;

  const reference = await sweepCli([file, '--out', join(dir, 'reference')]);
  expect(reference.code, reference.stderr).toBe(0);

  const out = join(dir, 'interrupted');
  const store = openRunStore(out);
  for (const crash of crashes) {
    const killed = await sweepCli([file, '--out', out], { REPTILE_BENCH_CRASH_AT: crash });
    expect(killed.code).not.toBe(0);
    expect(lastJson(killed.stdout).runs[0]?.status).toBe('KILLED');
    const record = (await store.getRun(runId)) as RunRecord;
    expect(record.status).toBe('KILLED');
    // The last good checkpoint is there and readable, of the phase the kill hit.
    const checkpoint = await loadCheckpoint(store.checkpointPath(runId));
    expect(checkpoint?.phase).toBe(crash.split(':')[0]);
  }
  const resumed = await sweepCli([file, '--out', out]);
  expect(resumed.code, resumed.stderr).toBe(0);
  expect(resumed.stderr).toContain(`${runId}: resuming from its checkpoint at`);

  const a = (await openRunStore(join(dir, 'reference')).getRun(runId)) as RunRecord;
  const b = (await store.getRun(runId)) as RunRecord;
  expect(recordedNumbers(b)).toEqual(recordedNumbers(a));
  expect(b.resumes.map((r) => r.phase)).toEqual(crashes.slice(0, crashes.length).map((c) => c.split(':')[0]));
  expect(b.attempt).toBe((await store.getRun(runId))?.attempt);
  for (const artifact of artifacts)
    expect(readFileSync(store.artifactPath(runId, artifact))).toEqual(
      readFileSync(openRunStore(join(dir, 'reference')).artifactPath(runId, artifact)),
    );
  // A finished run keeps no checkpoint.
  expect(await loadCheckpoint(store.checkpointPath(runId))).toBeUndefined();
}

describe('a run killed mid-training and mid-evaluation resumes bit-identically', () => {
  it('sine waves (MLP, per-slot Adam states)', async () => {
    await expectResumesExactly('sine', sineRun, ['train:11', 'eval:13']);
  });

  it('a text classifier (LSTM on the sentiment sentences, word dropout)', async () => {
    await expectResumesExactly('text', textRun, ['train:13', 'train:27'], 1, [
      'model.json',
      'test-predictions.json',
    ]);
  });

  it('sine waves on 2 replica threads', async () => {
    await expectResumesExactly('sine2', sineRun, ['train:7', 'train:17', 'eval:4'], 2);
  });

  it('Omniglot (Conv4, nearest resize, paper polarity, one shared Adam carried into evaluation)', async () => {
    await expectResumesExactly('omniglot', omniglotRun, ['train:9', 'eval:10']);
  });
});

describe('kills at random points', () => {
  it('never leave an unreadable checkpoint or a second record, and the run still ends the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resume-random-'));
    const file = sweepFile(dir, 'random', sineRun);
    const runId = planSweep(file).runs[0]!.runId;
    const reference = await sweepCli([file, '--out', join(dir, 'reference')]);
    expect(reference.code, reference.stderr).toBe(0);
    const out = join(dir, 'interrupted');
    const store = openRunStore(out);
    const rng = createRng(Date.now() % 100000);
    // Points only move forward: each attempt resumes from the last checkpoint, then dies again a little later.
    let iteration = 0;
    let episode = 0;
    for (let k = 0; k < 6; k++) {
      if (k < 4) iteration += 1 + rng.int(5);
      else episode += 1 + rng.int(10);
      const crash = k < 4 ? `train:${iteration}` : `eval:${episode}`;
      await sweepCli([file, '--out', out], { REPTILE_BENCH_CRASH_AT: crash });
      expect((await store.listRuns()).map((r) => r.meta.runId)).toEqual([runId]);
      // (A kill before the first checkpoint leaves none: the next attempt starts over.)
      if (existsSync(store.checkpointPath(runId))) {
        const bytes = readFileSync(store.checkpointPath(runId));
        expect(() => decodeCheckpoint(bytes, 'checkpoint')).not.toThrow();
      }
    }
    const finished = await sweepCli([file, '--out', out]);
    expect(finished.code, finished.stderr).toBe(0);
    const a = (await openRunStore(join(dir, 'reference')).getRun(runId)) as RunRecord;
    const b = (await store.getRun(runId)) as RunRecord;
    expect(recordedNumbers(b)).toEqual(recordedNumbers(a));
  });
});

describe('checkpoints that do not belong to the run', () => {
  it('one of another config is refused, saying why, and left in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resume-refuse-'));
    const file = sweepFile(dir, 'refuse', sineRun);
    const other = sweepFile(dir, 'other', sineRun.replace('meta_iters: 24', 'meta_iters: 25'));
    const runId = planSweep(file).runs[0]!.runId;
    const otherId = planSweep(other).runs[0]!.runId;
    const out = join(dir, 'results');
    const store = openRunStore(out);
    await sweepCli([file, '--out', out], { REPTILE_BENCH_CRASH_AT: 'train:8' });
    await sweepCli([other, '--out', out], { REPTILE_BENCH_CRASH_AT: 'train:8' });
    // The other config's checkpoint put in this run's folder (as a copied folder or a hash collision would).
    copyFileSync(store.checkpointPath(otherId), store.checkpointPath(runId));
    const refused = await sweepCli([file, '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /checkpoint\.bin was written by another run: run id other-[0-9a-f]{12}-s0 .*config hash [0-9a-f]{12} \(this run: [0-9a-f]{12}\).*refused; delete the file \(or rerun with --force\)/,
    );
    expect((await store.getRun(runId))?.status).toBe('KILLED');
    expect((await loadCheckpoint(store.checkpointPath(runId)))?.runId).toBe(otherId);
  });

  it('one written by another commit resumes with a warning, and the run records that commit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resume-commit-'));
    const file = sweepFile(dir, 'commit', sineRun);
    const runId = planSweep(file).runs[0]!.runId;
    const out = join(dir, 'results');
    const store = openRunStore(out);
    await sweepCli([file, '--out', out], { REPTILE_BENCH_CRASH_AT: 'train:8' });
    const path = store.checkpointPath(runId);
    const checkpoint = decodeCheckpoint(readFileSync(path), path);
    writeFileSync(
      path,
      encodeCheckpoint({ ...checkpoint, commit: '0123456789abcdef0123456789abcdef01234567' }),
    );
    const resumed = await sweepCli([file, '--out', out]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(
      /warning: .*its checkpoint was written by commit 0123456789abcdef0123456789abcdef01234567, this is /,
    );
    const record = (await store.getRun(runId)) as RunRecord;
    expect(record.status).toBe('FINISHED');
    expect(record.resumes).toHaveLength(1);
    expect(record.resumes[0]).toMatchObject({
      phase: 'train',
      iteration: checkpoint.phase === 'train' ? checkpoint.training.iteration : -1,
      commit: record.meta.commit,
    });
  });

  it('--force starts the run over instead of resuming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'resume-force-'));
    const file = sweepFile(dir, 'force', sineRun);
    const runId = planSweep(file).runs[0]!.runId;
    const out = join(dir, 'results');
    await sweepCli([file, '--out', out], { REPTILE_BENCH_CRASH_AT: 'train:8' });
    const before = (await openRunStore(out).getRun(runId)) as RunRecord;
    const again = await sweepCli([file, '--out', out, '--force']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('resuming');
    const after = (await openRunStore(out).getRun(runId)) as RunRecord;
    expect(after.attempt).not.toBe(before.attempt);
    expect(after.resumes).toEqual([]);
  });
});
