import { existsSync } from 'node:fs';
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTracker, flattenParams, openRunStore, type RunRecord, type RunStore } from '../src/index.ts';
import { fixture, meta, runScript, tempDir } from './helpers.ts';

let dir: { path: string; remove: () => Promise<void> };
let store: RunStore;
beforeEach(async () => {
  dir = await tempDir('store');
  store = openRunStore(dir.path);
});
afterEach(() => dir.remove());

describe('run store', () => {
  it('records a run and reads back exactly what was written', async () => {
    const writer = await store.startRun(meta('sweep-abc123-s7', { tags: { purpose: 'unit' } }));
    writer.logMetric('loss', 2.5, 0);
    writer.logMetrics({ loss: 1.25, 'eval/accuracy': 0.5 }, 1);
    writer.logMetric('loss', Number.NaN, 2);
    writer.logMetric('grad norm', Number.POSITIVE_INFINITY, 2);
    writer.setTag('phase', 'train');
    writer.setTag('phase', 'eval');
    await writer.addArtifact('report.md', '# report\n');
    await writer.addArtifact('model/weights.bin', new Uint8Array([1, 2, 3, 250]));
    const source = join(dir.path, 'source.json');
    await writeFile(source, '{"a":1}');
    await writer.addArtifact('model/config.json', { file: source });
    await writer.finish('FINISHED', { accuracy: 0.75, spread: Number.NEGATIVE_INFINITY });

    const run = await store.getRun('sweep-abc123-s7');
    expect(run).toBeDefined();
    expect(run!.status).toBe('FINISHED');
    expect(run!.meta.params).toEqual({ algorithm: 'reptile', innerSteps: 5, transductive: false });
    expect(run!.meta.configHash).toBe('abc123');
    expect(run!.metrics.loss!.map((p) => [p.step, p.value])).toEqual([
      [0, 2.5],
      [1, 1.25],
      [2, Number.NaN],
    ]);
    expect(run!.metrics['eval/accuracy']!.map((p) => p.value)).toEqual([0.5]);
    expect(run!.metrics['grad norm']![0]!.value).toBe(Number.POSITIVE_INFINITY);
    expect(run!.summary).toEqual({ accuracy: 0.75, spread: Number.NEGATIVE_INFINITY });
    expect(run!.tags).toEqual({ purpose: 'unit', phase: 'eval' });
    expect(run!.artifacts).toEqual(['report.md', 'model/weights.bin', 'model/config.json']);
    expect(run!.endTime).toBeGreaterThanOrEqual(run!.startTime);
    for (const point of run!.metrics.loss!) {
      expect(point.timestamp).toBeGreaterThanOrEqual(run!.startTime);
      expect(point.timestamp).toBeLessThanOrEqual(run!.endTime!);
    }
    expect(await readFile(store.artifactPath('sweep-abc123-s7', 'report.md'), 'utf8')).toBe('# report\n');
    expect([...(await readFile(store.artifactPath('sweep-abc123-s7', 'model/weights.bin')))]).toEqual([
      1, 2, 3, 250,
    ]);
    expect(await readFile(store.artifactPath('sweep-abc123-s7', 'model/config.json'), 'utf8')).toBe(
      '{"a":1}',
    );
    expect(() => writer.logMetric('loss', 1, 3)).toThrow(/finished/);
  });

  it('lists runs filtered by sweep and status and returns undefined for unknown ids', async () => {
    const a = await store.startRun(meta('a-s1', { sweep: 'one' }));
    const b = await store.startRun(meta('b-s1', { sweep: 'two' }));
    const c = await store.startRun(meta('c-s1', { sweep: 'one' }));
    await a.finish('FINISHED');
    await b.finish('FAILED', {}, 'diverged: loss is NaN');
    expect((await store.listRuns()).map((r) => r.meta.runId)).toEqual(['a-s1', 'b-s1', 'c-s1']);
    expect((await store.listRuns({ sweep: 'one' })).map((r) => r.meta.runId)).toEqual(['a-s1', 'c-s1']);
    expect((await store.listRuns({ status: 'RUNNING' })).map((r) => r.meta.runId)).toEqual(['c-s1']);
    const failed = await store.listRuns({ status: 'FAILED' });
    expect(failed.map((r) => [r.meta.runId, r.error])).toEqual([['b-s1', 'diverged: loss is NaN']]);
    expect(await store.getRun('missing-s0')).toBeUndefined();
    await c.finish('KILLED');
  });

  it('starting a run id again replaces the previous attempt as a whole', async () => {
    const first = await store.startRun(meta('again-s0'));
    first.logMetric('loss', 1, 0);
    await first.addArtifact('old.txt', 'old');
    await first.finish('FAILED');
    const before = await store.getRun('again-s0');
    const second = await store.startRun(meta('again-s0'));
    second.logMetric('loss', 0.5, 0);
    await second.finish('FINISHED');
    const after = await store.getRun('again-s0');
    expect(after!.attempt).not.toBe(before!.attempt);
    expect(after!.metrics.loss!.map((p) => p.value)).toEqual([0.5]);
    expect(after!.artifacts).toEqual([]);
    expect(existsSync(store.artifactPath('again-s0', 'old.txt'))).toBe(false);
    expect(await readdir(join(dir.path, 'runs'))).toEqual(['again-s0']);
  });

  it('ignores a torn last line and names the file for a damaged line', async () => {
    const writer = await store.startRun(meta('torn-s0'));
    writer.logMetric('loss', 1, 0);
    writer.logMetric('loss', 2, 1);
    const log = join(dir.path, 'runs', 'torn-s0', 'log.jsonl');
    await appendFile(log, '{"m":"loss","s":2,"v":');
    const run = await store.getRun('torn-s0');
    expect(run!.metrics.loss!.map((p) => p.value)).toEqual([1, 2]);
    await appendFile(log, '\n{"m":"loss","s":3,"v":4,"t":1}\n');
    await expect(store.getRun('torn-s0')).rejects.toThrow(/log\.jsonl: damaged line at byte \d+/);
  });

  it('rejects unsafe run ids and artifact names without touching anything outside the store', async () => {
    const outside = await readdir(join(dir.path, '..'));
    for (const runId of [
      '../escape',
      'a/b',
      '..',
      '.hidden',
      '',
      'x'.repeat(201),
      'a..b',
      'name with space',
    ]) {
      await expect(store.startRun(meta(runId))).rejects.toThrow(/run id/);
      expect(() => store.artifactPath(runId, 'report.md')).toThrow(/run id/);
      await expect(store.getRun(runId)).rejects.toThrow(/run id/);
    }
    const writer = await store.startRun(meta('safe-s0'));
    for (const name of [
      '../escape.txt',
      '/etc/passwd',
      'a/../../b',
      '.hidden',
      'a//b',
      'a/./b',
      '',
      'C:\\x',
    ]) {
      await expect(writer.addArtifact(name, 'x')).rejects.toThrow(/artifact name/);
      expect(() => store.artifactPath('safe-s0', name)).toThrow(/artifact name/);
    }
    await writer.finish('FINISHED');
    expect(await readdir(join(dir.path, '..'))).toEqual(outside);
    expect(await readdir(join(dir.path, 'runs'))).toEqual(['safe-s0']);
    expect((await store.getRun('safe-s0'))!.artifacts).toEqual([]);
  });

  it('rejects keys MLflow would refuse when they are logged, not later', async () => {
    const writer = await store.startRun(meta('keys-s0'));
    expect(() => writer.logMetric('../loss', 1, 0)).toThrow(
      /invalid metric key "..\/loss".*normalised relative path/,
    );
    expect(() => writer.logMetric('/loss', 1, 0)).toThrow(/metric key/);
    expect(() => writer.logMetric('loss$', 1, 0)).toThrow(/only letters, digits/);
    expect(() => writer.logMetric('k'.repeat(251), 1, 0)).toThrow(
      /251 characters long; MLflow allows at most 250/,
    );
    expect(() => writer.logMetric('loss', 1, 0.5)).toThrow(/step must be an integer/);
    expect(() => writer.setTag('a//b', 'x')).toThrow(/tag key/);
    expect(() => writer.setTag('note', 'x'.repeat(8001))).toThrow(
      /8001 characters; MLflow allows at most 8000/,
    );
    expect(() => writer.logMetrics({ ok: 1, 'bad|key': 2 }, 0)).toThrow(/bad\|key/);
    writer.logMetric('k'.repeat(250), 1, 0);
    writer.logMetric('ünïcödé/loss: train-1.0', 1, 0);
    await writer.finish('FINISHED');
    const run = await store.getRun('keys-s0');
    // Nothing of a rejected call was recorded, not even the valid keys of a rejected logMetrics.
    expect(Object.keys(run!.metrics)).toEqual(['k'.repeat(250), 'ünïcödé/loss: train-1.0']);
    await expect(store.startRun(meta('p-s0', { params: { 'a/../b': 1 } }))).rejects.toThrow(/param key/);
    await expect(store.startRun(meta('p-s0', { params: { long: 'x'.repeat(6001) } }))).rejects.toThrow(
      /6001 characters; MLflow allows at most 6000/,
    );
  });

  it('keeps parallel writer processes apart and reports a run whose process died as KILLED', async () => {
    const script = fixture('write-runs.ts');
    await Promise.all([
      runScript(script, [dir.path, 'alpha', '3', '400']),
      runScript(script, [dir.path, 'beta', '3', '400']),
      runScript(script, [dir.path, 'gamma', '2', '400', 'die']).then(
        () => {
          throw new Error('the dying writer should exit with an error');
        },
        (error: Error) => expect(error.message).toMatch(/exited with 3/),
      ),
    ]);
    const runs = await store.listRuns();
    expect(runs.map((r) => r.meta.runId).sort()).toEqual([
      'alpha-r0',
      'alpha-r1',
      'alpha-r2',
      'beta-r0',
      'beta-r1',
      'beta-r2',
      'gamma-r0',
      'gamma-r1',
    ]);
    for (const run of runs) {
      expect(run.metrics.loss!.map((p) => p.step)).toEqual(Array.from({ length: 400 }, (_, i) => i));
      expect(run.metrics.accuracy).toHaveLength(400);
    }
    const killed = runs.find((r) => r.meta.runId === 'gamma-r1')!;
    expect(killed.status).toBe('KILLED');
    expect(killed.error).toMatch(/exited before finishing/);
    expect(runs.filter((r) => r.status === 'FINISHED')).toHaveLength(7);
  });

  it('keeps the store whole when several processes start the same run id at once', async () => {
    const script = fixture('write-runs.ts');
    const outcomes = await Promise.allSettled(
      [1, 2, 3, 4].map(() => runScript(script, [dir.path, 'same', '1', '50'])),
    );
    // The last attempt wins; a writer that was replaced learns it from its next artifact or finish call.
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect(String(outcome.reason)).toMatch(/superseded/);
    }
    expect(await readdir(join(dir.path, 'runs'))).toEqual(['same-r0']);
    const run = await store.getRun('same-r0');
    expect(run!.status).toBe('FINISHED');
    expect(run!.metrics.loss).toHaveLength(50);
    expect(run!.artifacts).toEqual(['report.md']);
  });

  it('tells a superseded writer instead of mixing two attempts', async () => {
    const first = await store.startRun(meta('twice-s0'));
    const second = await store.startRun(meta('twice-s0'));
    first.logMetric('loss', 9, 0);
    await expect(first.addArtifact('a.txt', 'first')).rejects.toThrow(/superseded/);
    await expect(first.finish('FINISHED')).rejects.toThrow(/superseded/);
    second.logMetric('loss', 1, 0);
    await second.finish('FINISHED');
    const run = await store.getRun('twice-s0');
    expect(run!.metrics.loss!.map((p) => p.value)).toEqual([1]);
    expect(existsSync(store.artifactPath('twice-s0', 'a.txt'))).toBe(false);
  });
});

describe('resuming a run from a checkpoint', () => {
  it('continues the attempt; what the log holds after the checkpoint is superseded; every resume is listed', async () => {
    const dir = await tempDir('resume');
    try {
      const store = openRunStore(dir.path);
      const first = await store.startRun(meta('resumed'));
      first.logMetrics({ loss: 3 }, 0);
      first.logMetrics({ loss: 2 }, 1);
      const checkpointAt = first.logPosition();
      // Written after the checkpoint by the process that then stopped: superseded on resume.
      first.logMetrics({ loss: 99 }, 2);
      first.setTag('lost', 'yes');
      await first.finish('KILLED', {}, 'interrupted (SIGINT)');
      expect((await store.getRun('resumed'))?.status).toBe('KILLED');

      const second = await store.resumeRun('resumed', {
        iteration: 2,
        phase: 'train',
        commit: 'c2',
        from: checkpointAt,
      });
      expect((await store.getRun('resumed'))?.status).toBe('RUNNING');
      second.logMetrics({ loss: 1 }, 2);
      await second.finish('FINISHED', { accuracy: 0.5 });

      const record = (await store.getRun('resumed')) as RunRecord;
      expect(record.status).toBe('FINISHED');
      expect(record.attempt).toBe((await store.getRun('resumed'))?.attempt);
      expect(record.metrics.loss?.map((p) => [p.step, p.value])).toEqual([
        [0, 3],
        [1, 2],
        [2, 1],
      ]);
      expect(record.tags.lost).toBeUndefined();
      expect(record.error).toBeUndefined();
      expect(record.resumes).toEqual([
        { time: expect.any(Number), commit: 'c2', iteration: 2, phase: 'train' },
      ]);
      await expect(
        store.resumeRun('never-started', { iteration: 0, phase: 'train', commit: 'c', from: 0 }),
      ).rejects.toThrow(/cannot resume run never-started: it is not in the store/);
    } finally {
      await dir.remove();
    }
  });
});

describe('flattenParams', () => {
  it('joins nested keys with dots and keeps values MLflow can store', () => {
    expect(
      flattenParams({
        algorithm: 'reptile',
        inner: { steps: 5, lr: 0.001, adam: { beta1: 0 } },
        layers: [64, 64],
        stages: [{ ways: 5 }, { ways: 20 }],
        transductive: false,
        note: null,
        skipped: undefined,
      }),
    ).toEqual({
      algorithm: 'reptile',
      'inner.steps': 5,
      'inner.lr': 0.001,
      'inner.adam.beta1': 0,
      layers: '[64,64]',
      'stages.0.ways': 5,
      'stages.1.ways': 20,
      transductive: false,
      note: 'null',
    });
    expect(() => flattenParams({ 'bad|key': 1 })).toThrow(/invalid param key "bad\|key"/);
    expect(() => flattenParams({ big: 'x'.repeat(7000) })).toThrow(/param "big" has a value of 7000/);
  });
});

describe('createTracker without MLflow', () => {
  it('records to the store only, and reads MLFLOW_TRACKING_URI when no URI is given', async () => {
    const previous = process.env.MLFLOW_TRACKING_URI;
    try {
      delete process.env.MLFLOW_TRACKING_URI;
      const local = createTracker({ dir: dir.path });
      expect(local.mlflowUri).toBeUndefined();
      const writer = await local.startRun(meta('local-s0'));
      writer.logMetric('loss', 1, 0);
      await writer.finish('FINISHED');
      expect(await local.sync()).toEqual({ delivered: 0, pending: 0, runs: 0, errors: [] });
      await local.close();
      expect((await local.store.getRun('local-s0'))!.metrics.loss).toHaveLength(1);
      expect(existsSync(join(dir.path, 'outbox'))).toBe(false);

      process.env.MLFLOW_TRACKING_URI = 'http://127.0.0.1:5999/';
      expect(createTracker({ dir: dir.path }).mlflowUri).toBe('http://127.0.0.1:5999');
      expect(createTracker({ dir: dir.path, mlflowUri: null }).mlflowUri).toBeUndefined();
    } finally {
      if (previous === undefined) delete process.env.MLFLOW_TRACKING_URI;
      else process.env.MLFLOW_TRACKING_URI = previous;
    }
  });
});
