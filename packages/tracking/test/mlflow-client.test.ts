import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMlflowClient,
  MlflowApiError,
  type MlflowClient,
  type MlflowServer,
  startMlflowServer,
  validateMlflowKey,
} from '../src/index.ts';
import { tempDir } from './helpers.ts';

let server: MlflowServer;
let client: MlflowClient;
let scratch: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  scratch = await tempDir('client');
  server = await startMlflowServer({ dir: join(scratch.path, 'mlflow') });
  client = createMlflowClient({ trackingUri: server.uri });
});
afterAll(async () => {
  await server?.stop();
  await scratch?.remove();
});

describe('MLflow client against a real server', () => {
  it('gets, creates and races to create experiments', async () => {
    expect(await client.getExperimentByName('client-experiments')).toBeUndefined();
    const id = await client.createExperiment('client-experiments', { owner: 'tests' });
    const found = await client.getExperimentByName('client-experiments');
    expect(found).toMatchObject({ experimentId: id, name: 'client-experiments', lifecycleStage: 'active' });
    expect(found!.tags.owner).toBe('tests');
    const raced = await Promise.all([1, 2, 3, 4, 5].map(() => client.getOrCreateExperiment('client-raced')));
    expect(new Set(raced).size).toBe(1);
    await expect(client.createExperiment('client-experiments')).rejects.toMatchObject({
      errorCode: 'RESOURCE_ALREADY_EXISTS',
      status: 400,
    });
  });

  it('logs more than one batch of metrics, params and tags and reads every point back', async () => {
    const experimentId = await client.getOrCreateExperiment('client-batches');
    const run = await client.createRun({ experimentId, runName: 'batches', tags: { origin: 'test' } });
    const t0 = 1_700_000_000_000;
    const metrics = Array.from({ length: 2500 }, (_, i) => ({
      key: i % 2 === 0 ? 'train/loss' : 'eval accuracy',
      value: Math.sin(i) * 10 ** (i % 7),
      timestamp: t0 + i,
      step: Math.floor(i / 2),
    }));
    metrics.push({ key: 'diverged', value: Number.NaN, timestamp: t0, step: 0 });
    const params = Array.from({ length: 150 }, (_, i) => ({
      key: `p.${i}`,
      value: i % 3 === 0 ? i : `v${i}`,
    }));
    const tags = Array.from({ length: 120 }, (_, i) => ({ key: `t/${i}`, value: `tag ${i}` }));
    const requests: string[] = [];
    const counting = createMlflowClient({
      trackingUri: server.uri,
      fetch: (input, init) => {
        requests.push(String(input));
        return fetch(input, init);
      },
    });
    await counting.logBatch(run.info.runId, { metrics, params, tags });
    // 2771 entities need at least 3 requests of at most 1000 (and 100 params / 100 tags each).
    expect(requests.filter((url) => url.endsWith('/runs/log-batch')).length).toBe(3);

    const loss = await client.getMetricHistory(run.info.runId, 'train/loss', { pageSize: 500 });
    const accuracy = await client.getMetricHistory(run.info.runId, 'eval accuracy');
    const sortByStep = (a: { step: number }, b: { step: number }) => a.step - b.step;
    expect(loss.sort(sortByStep)).toEqual(metrics.filter((m) => m.key === 'train/loss'));
    expect(accuracy.sort(sortByStep)).toEqual(metrics.filter((m) => m.key === 'eval accuracy'));
    expect((await client.getMetricHistory(run.info.runId, 'diverged'))[0]!.value).toBeNaN();

    const stored = await client.getRun(run.info.runId);
    expect(Object.keys(stored.params)).toHaveLength(150);
    expect(stored.params['p.3']).toBe('3');
    expect(stored.params['p.4']).toBe('v4');
    expect(stored.tags['t/119']).toBe('tag 119');
    expect(stored.tags.origin).toBe('test');
    expect(stored.info.runName).toBe('batches');

    const finished = await client.updateRun(run.info.runId, { status: 'FINISHED', endTime: t0 + 5000 });
    expect(finished).toMatchObject({ status: 'FINISHED', endTime: t0 + 5000 });
  });

  it('uploads, lists and downloads artifacts on a server with served artifacts', async () => {
    const experimentId = await client.getOrCreateExperiment('client-artifacts');
    const { info } = await client.createRun({ experimentId, runName: 'artifacts' });
    const file = join(scratch.path, 'weights.bin');
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 31) % 256);
    await writeFile(file, bytes);
    await client.uploadArtifact(info.runId, 'report.md', '# Report\n');
    await client.uploadArtifact(info.runId, 'model/weights.bin', { file });
    await client.uploadArtifact(info.runId, 'model/meta.json', new TextEncoder().encode('{"layers":4}'));
    expect(await client.listArtifacts(info.runId)).toEqual([
      { path: 'model', isDir: true },
      { path: 'report.md', isDir: false, fileSize: 9 },
    ]);
    expect(await client.listArtifacts(info.runId, 'model')).toEqual([
      { path: 'model/meta.json', isDir: false, fileSize: 12 },
      { path: 'model/weights.bin', isDir: false, fileSize: 70_000 },
    ]);
    expect(await client.downloadArtifact(info.runId, 'model/weights.bin')).toEqual(bytes);
    await expect(client.uploadArtifact(info.runId, '../escape.txt', 'x')).rejects.toThrow(
      /invalid artifact path/,
    );
  });

  it('searches runs by tag and pages through the results', async () => {
    const experimentId = await client.getOrCreateExperiment('client-search');
    const created = [];
    for (let i = 0; i < 7; i++) {
      created.push(
        (
          await client.createRun({
            experimentId,
            runName: `r${i}`,
            tags: { group: i % 2 === 0 ? 'even' : 'odd' },
          })
        ).info.runId,
      );
    }
    const first = await client.searchRuns({ experimentIds: [experimentId], maxResults: 3 });
    expect(first.runs).toHaveLength(3);
    expect(first.nextPageToken).toBeDefined();
    const all = await client.searchAllRuns({ experimentIds: [experimentId], pageSize: 3 });
    expect(all.map((r) => r.info.runId).sort()).toEqual([...created].sort());
    const even = await client.searchAllRuns({ experimentIds: [experimentId], filter: "tags.group = 'even'" });
    expect(even.map((r) => r.info.runName).sort()).toEqual(['r0', 'r2', 'r4', 'r6']);
    await client.deleteRun(created[0]!);
    const active = await client.searchAllRuns({
      experimentIds: [experimentId],
      filter: "tags.group = 'even'",
    });
    expect(active).toHaveLength(3);
    const deleted = await client.searchAllRuns({
      experimentIds: [experimentId],
      runViewType: 'DELETED_ONLY',
    });
    expect(deleted.map((r) => r.info.runId)).toEqual([created[0]]);
  });

  it("surfaces MLflow's error_code and message", async () => {
    const missing = await client.getRun('0123456789abcdef0123456789abcdef').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(MlflowApiError);
    expect(missing).toMatchObject({ status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST' });
    expect(String(missing)).toMatch(/runs\/get failed with 404 RESOURCE_DOES_NOT_EXIST: Run .* not found/);
    const experimentId = await client.getOrCreateExperiment('client-errors');
    const { info } = await client.createRun({ experimentId });
    await client.logBatch(info.runId, { params: [{ key: 'lr', value: 0.1 }] });
    await client.logBatch(info.runId, { params: [{ key: 'lr', value: 0.1 }] }); // same value: accepted
    await expect(client.logBatch(info.runId, { params: [{ key: 'lr', value: 0.2 }] })).rejects.toMatchObject({
      errorCode: 'INVALID_PARAMETER_VALUE',
      message: expect.stringMatching(/Changing param values is not allowed/),
    });
  });

  it('validates keys exactly as the server does, before sending anything', async () => {
    const experimentId = await client.getOrCreateExperiment('client-keys');
    const { info } = await client.createRun({ experimentId });
    const candidates = [
      'loss',
      'eval/accuracy',
      'with space',
      'colon:ok',
      'dash-dot.under_score',
      'ünïcödé',
      'k'.repeat(250),
      'k'.repeat(251),
      '../up',
      'a/../b',
      '/abs',
      'trailing/',
      'double//slash',
      './dot',
      '.',
      'bad|pipe',
      'semi;colon',
      'new\nline',
      'quote"s',
      '',
    ];
    for (const key of candidates) {
      let ours = true;
      try {
        validateMlflowKey('metric', key);
      } catch {
        ours = false;
      }
      // Raw request, bypassing our validation, to learn the server's verdict.
      const response = await fetch(`${server.uri}/api/2.0/mlflow/runs/log-batch`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ run_id: info.runId, metrics: [{ key, value: 1, timestamp: 1, step: 0 }] }),
      });
      await response.body?.cancel();
      expect({ key, accepted: ours }).toEqual({ key, accepted: response.ok });
    }
    let sent = 0;
    const counting = createMlflowClient({
      trackingUri: server.uri,
      fetch: (input, init) => {
        sent += 1;
        return fetch(input, init);
      },
    });
    await expect(
      counting.logBatch(info.runId, { metrics: [{ key: '../x', value: 1, timestamp: 1, step: 0 }] }),
    ).rejects.toThrow(/invalid metric key/);
    await expect(
      counting.logBatch(info.runId, { params: [{ key: 'p', value: 'x'.repeat(6001) }] }),
    ).rejects.toThrow(/6001 characters/);
    await expect(counting.setTag(info.runId, 'ok', 'x'.repeat(8001))).rejects.toThrow(/8001 characters/);
    expect(sent).toBe(0);
  });
});

describe('MLflow client retries (local HTTP server)', () => {
  /** A stand-in server answering each request with the next scripted status. */
  async function scripted(statuses: number[]) {
    const seen: number[] = [];
    const http = createServer((request, response) => {
      const status = statuses[seen.length] ?? 200;
      seen.push(status);
      request.resume();
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end(
        status === 200
          ? JSON.stringify({ experiment: { experiment_id: '7', name: 'x' } })
          : JSON.stringify({
              error_code: status === 429 ? 'REQUEST_LIMIT_EXCEEDED' : 'INTERNAL_ERROR',
              message: 'busy',
            }),
      );
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const uri = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    return { uri, seen, close: () => new Promise((resolve) => http.close(resolve)) };
  }

  it('retries 429 and 5xx with exponential backoff and full jitter, then succeeds', async () => {
    const stub = await scripted([503, 429, 500]);
    const delays: number[] = [];
    const jitter = [0.5, 1, 0.25];
    const client = createMlflowClient({
      trackingUri: stub.uri,
      minBackoffMs: 40,
      maxBackoffMs: 100,
      random: () => {
        const r = jitter[delays.length]!;
        delays.push(r);
        return r;
      },
    });
    const started = Date.now();
    expect((await client.getExperimentByName('x'))?.experimentId).toBe('7');
    expect(stub.seen).toEqual([503, 429, 500, 200]);
    // Ceilings 40, 80, 100 (capped) times the jitter draws: 20 + 80 + 25 ms of waiting at least.
    expect(Date.now() - started).toBeGreaterThanOrEqual(125);
    await stub.close();
  });

  it('gives up after the configured retries with the last MLflow error, and never retries a 4xx', async () => {
    const failing = await scripted([500, 500, 500, 500]);
    const client = createMlflowClient({ trackingUri: failing.uri, retries: 2, minBackoffMs: 1 });
    await expect(client.getExperimentByName('x')).rejects.toMatchObject({
      status: 500,
      errorCode: 'INTERNAL_ERROR',
    });
    expect(failing.seen).toHaveLength(3);
    await failing.close();
    const bad = await scripted([400]);
    const once = createMlflowClient({ trackingUri: bad.uri, minBackoffMs: 1 });
    await expect(once.getExperimentByName('x')).rejects.toMatchObject({ status: 400 });
    expect(bad.seen).toHaveLength(1);
    await bad.close();
  });

  it('says clearly when no server is listening', async () => {
    const stub = await scripted([]);
    await stub.close();
    const client = createMlflowClient({ trackingUri: stub.uri, retries: 1, minBackoffMs: 1 });
    const error = await client.getRun('abc').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 0, errorCode: 'CONNECTION_REFUSED', mayHaveApplied: false });
    expect(String(error)).toMatch(/could not be reached .*is the tracking server running\?/);
    expect(() => createMlflowClient({ trackingUri: 'file:///tmp/mlruns' })).toThrow(/only http\(s\)/);
  });
});
