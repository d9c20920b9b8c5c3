import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importRun, openRunStore, packRun, type RunRecord, unpackRun } from '../src/index.ts';
import { meta, tempDir } from './helpers.ts';

// A run folder packed into one buffer (a job queue's result, a checkpoint kept elsewhere) and imported into
// another store reads back exactly as it was; damaged or hostile bundles are refused, naming what is wrong.

let dir: { path: string; remove: () => Promise<void> };
beforeEach(async () => {
  dir = await tempDir('bundle');
});
afterEach(() => dir.remove());

const runId = 'sweep-abc123-s7';
const source = () => openRunStore(join(dir.path, 'worker'));
const target = () => openRunStore(join(dir.path, 'coordinator'));

describe('run bundles', () => {
  it('carry a finished run, its metrics and artifacts, into another store exactly', async () => {
    const writer = await source().startRun(meta(runId));
    writer.logMetrics({ loss: 1.5, 'eval/accuracy': 0.25 }, 0);
    writer.logMetric('loss', Number.NaN, 1);
    await writer.addArtifact('model.json', '{"w":[1,2]}\n');
    await writer.addArtifact('nested/weights.bin', new Uint8Array([0, 1, 255]));
    await writer.finish('FINISHED', { accuracy: 0.75 });

    const bytes = await packRun(source().dir, runId);
    const bundle = unpackRun(bytes, 'the test bundle');
    expect(bundle).toMatchObject({ runId, status: 'FINISHED' });
    expect([...bundle.files.keys()].sort()).toEqual([
      'artifacts/model.json',
      'artifacts/nested/weights.bin',
      'log.jsonl',
      'run.json',
    ]);
    expect(await importRun(target().dir, bundle)).toBe('imported');
    const original = await source().getRun(runId);
    expect(await target().getRun(runId)).toEqual(original);
    expect(await readFile(target().artifactPath(runId, 'nested/weights.bin'))).toEqual(
      Buffer.from([0, 1, 255]),
    );
    // Collected twice: the second import changes nothing.
    expect(await importRun(target().dir, unpackRun(bytes, 'again'))).toBe('unchanged');
    // A later attempt replaces the earlier one whole.
    const second = await source().startRun(meta(runId));
    await second.finish('FAILED', {}, 'boom');
    expect(await importRun(target().dir, unpackRun(await packRun(source().dir, runId), 'b'))).toBe(
      'imported',
    );
    expect(await target().getRun(runId)).toMatchObject({ status: 'FAILED', error: 'boom', artifacts: [] });
    expect(await target().listRuns()).toHaveLength(1);
  });

  it('carry a run in progress with its checkpoint; imported as interrupted, it resumes where the checkpoint was', async () => {
    const writer = await source().startRun(meta(runId));
    writer.logMetric('loss', 3, 0);
    const offset = writer.logPosition();
    await writeFile(source().checkpointPath(runId), 'checkpoint bytes');
    writer.logMetric('loss', 2, 1); // written after the checkpoint: superseded by the resume
    // A line being written when the snapshot is taken is not part of it.
    await appendFile(join(source().dir, 'runs', runId, 'log.jsonl'), '{"m":"loss","s":2,"v":');

    const bundle = unpackRun(await packRun(source().dir, runId, { checkpoint: true }), 'the snapshot');
    expect(bundle.status).toBe('RUNNING');
    expect(bundle.files.get('checkpoint.bin')?.toString()).toBe('checkpoint bytes');
    await importRun(target().dir, bundle, { interrupted: 'its worker was lost' });
    const lost = (await target().getRun(runId)) as RunRecord;
    expect(lost.status).toBe('KILLED');
    expect(lost.error).toBe('its worker was lost');
    expect(await readFile(target().checkpointPath(runId), 'utf8')).toBe('checkpoint bytes');

    const resumed = await target().resumeRun(runId, {
      iteration: 1,
      phase: 'train',
      commit: 'c',
      from: offset,
    });
    resumed.logMetric('loss', 1, 1);
    await resumed.finish('FINISHED', {});
    const record = (await target().getRun(runId)) as RunRecord;
    expect(record.status).toBe('FINISHED');
    expect(record.metrics.loss?.map((p) => [p.step, p.value])).toEqual([
      [0, 3],
      [1, 1],
    ]);
    expect(record.resumes).toHaveLength(1);
  });

  it('are refused when damaged or hostile, saying what is wrong', async () => {
    const writer = await source().startRun(meta(runId));
    await writer.addArtifact('model.json', 'm');
    await writer.finish('FINISHED', {});
    const bytes = await packRun(source().dir, runId);
    const raw = gunzipSync(bytes);

    expect(() => unpackRun(Buffer.from('not gzip'), 'result X')).toThrow(/^result X: it does not decompress/);
    expect(() => unpackRun(gzipSync(Buffer.from('hello')), 'result X')).toThrow(/does not start like/);
    const flipped = Buffer.from(raw);
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 0xff, flipped.length - 1);
    expect(() => unpackRun(gzipSync(flipped), 'result X')).toThrow(/artifacts\/model\.json fails its sha256/);
    expect(() => unpackRun(gzipSync(raw.subarray(0, raw.length - 1)), 'result X')).toThrow(/truncated/);

    // A header naming a file outside a run folder (a path escaping the store) is refused before anything is written.
    const escaping = raw.toString('latin1').replace('"artifacts/model.json"', '"artifacts/../xy.json"');
    expect(() => unpackRun(gzipSync(Buffer.from(escaping, 'latin1')), 'result X')).toThrow(
      /^result X: invalid artifact name "\.\.\/xy\.json"/,
    );
    const otherRun = raw.toString('latin1').replace(`"runId":"${runId}"`, '"runId":"other-abc123-s7"');
    expect(() => unpackRun(gzipSync(Buffer.from(otherRun, 'latin1')), 'result X')).toThrow(
      /run\.json belongs to run sweep-abc123-s7 .*not other-abc123-s7/,
    );
  });
});
