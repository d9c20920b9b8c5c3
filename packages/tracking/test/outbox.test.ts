// Fault tests of the MLflow mirror: every scenario ends with exactly the local store's points in MLflow.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMlflowClient,
  createTracker,
  MLFLOW_TAGS,
  type MlflowClient,
  type MlflowServer,
  type RunRecord,
  type RunStore,
  startMlflowServer,
  syncOutbox,
  type Tracker,
} from '../src/index.ts';
import { startFaultProxy } from './fault-proxy.ts';
import { fixture, meta, repoRoot, runScript, tempDir } from './helpers.ts';

let scratch: { path: string; remove: () => Promise<void> };
let port: number;
let uri: string;
let mlflowDir: string;
let server: MlflowServer | undefined;
let serverStarting: Promise<MlflowServer>;
let client: MlflowClient;

beforeAll(async () => {
  scratch = await tempDir('outbox');
  port = await freePort();
  uri = `http://127.0.0.1:${port}`;
  mlflowDir = join(scratch.path, 'mlflow');
  client = createMlflowClient({ trackingUri: uri });
  // Not awaited: the first test records while the server boots and waits for it only when it needs it.
  serverStarting = startMlflowServer({ dir: mlflowDir, port });
  serverStarting.catch(() => undefined);
});
afterAll(async () => {
  server ??= await serverStarting.catch(() => undefined);
  await server?.stop();
  await scratch?.remove();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Records a run the way a sweep does: metrics every step, a tag, an artifact, a summary. */
async function recordRun(
  tracker: Tracker,
  runId: string,
  steps: number,
  during?: (step: number) => Promise<void>,
): Promise<void> {
  const writer = await tracker.startRun(meta(runId, { sweep: 'fault-sweep', tags: { suite: 'faults' } }));
  for (let step = 0; step < steps; step++) {
    writer.logMetrics({ 'train/loss': 1 / (step + 1), 'eval/accuracy': step / steps }, step);
    if (step % 100 === 99) {
      await pause(2); // a training loop yields now and then; background delivery runs then
      await during?.(step);
    }
  }
  writer.setTag('phase', 'done');
  await writer.addArtifact('report.md', `# ${runId}\n`);
  await writer.finish('FINISHED', { accuracy: 0.875 });
}

/** The server of this file, started again if an earlier test left it dead. */
async function ensureServer(): Promise<void> {
  server ??= await serverStarting;
  const healthy = await fetch(`${uri}/health`).then(
    (response) => response.ok,
    () => false,
  );
  if (!healthy) server = await startMlflowServer({ dir: mlflowDir, port });
}

async function remoteRun(runId: string) {
  const experiment = await client.getExperimentByName('fault-sweep');
  if (experiment === undefined) return undefined;
  const runs = await client.searchAllRuns({
    experimentIds: [experiment.experimentId],
    filter: `tags."${MLFLOW_TAGS.runId}" = '${runId}'`,
  });
  return runs[0];
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await pause(50);
  }
}

/** Asserts MLflow holds exactly the run's local points, params, tags, artifacts and status. */
async function expectMirrored(store: RunStore, runId: string): Promise<void> {
  const local = (await store.getRun(runId)) as RunRecord;
  const experiment = await client.getExperimentByName('fault-sweep');
  const found = await client.searchAllRuns({
    experimentIds: [experiment!.experimentId],
    filter: `tags."${MLFLOW_TAGS.runId}" = '${runId}'`,
  });
  expect(found, `one active MLflow run for ${runId}`).toHaveLength(1);
  const remote = found[0]!;
  expect(remote.info.status).toBe('FINISHED');
  expect(remote.info.endTime).toBe(local.endTime);
  expect(remote.info.runName).toBe(local.meta.name);
  expect(remote.params).toEqual({ algorithm: 'reptile', innerSteps: '5', transductive: 'false' });
  expect(remote.tags).toMatchObject({ suite: 'faults', phase: 'done', [MLFLOW_TAGS.attempt]: local.attempt });
  for (const [key, points] of Object.entries(local.metrics)) {
    const history = await client.getMetricHistory(remote.info.runId, key);
    history.sort((a, b) => a.step - b.step);
    expect(history.length, `points of ${key} in ${runId}`).toBe(points.length);
    expect(history.map(({ step, value, timestamp }) => ({ step, value, timestamp }))).toEqual(points);
  }
  expect(await client.getMetricHistory(remote.info.runId, 'summary/accuracy')).toHaveLength(1);
  const artifacts = (await client.listArtifacts(remote.info.runId)).map((a) => a.path);
  expect(artifacts.sort()).toEqual(['config.json', 'report.md']);
}

/** Events a finished run of `steps` steps stands for: params batch, points, tag, artifact, summary, status. */
const eventsOf = (steps: number) => 1 + 2 * steps + 1 + 1 + 1 + 1;

describe('mirroring runs to MLflow through the outbox', () => {
  it('keeps everything while no server answers and delivers it exactly once when one does', async () => {
    // The tracking URI points at a port where nothing listens yet; later a proxy to the real server opens there.
    const downPort = await freePort();
    const downUri = `http://127.0.0.1:${downPort}`;
    const dir = join(scratch.path, 'not-started');
    const tracker = createTracker({ dir, mlflowUri: downUri, flushIntervalMs: 20, retries: 1 });
    await recordRun(tracker, 'down-a', 1200);
    await recordRun(tracker, 'down-b', 300);
    await tracker.close();
    const waiting = await syncOutbox({ dir, mlflowUri: downUri, retries: 0 });
    expect(waiting).toMatchObject({ delivered: 0, pending: eventsOf(1200) + eventsOf(300), runs: 2 });
    expect(waiting.errors[0]).toMatch(/could not be reached/);

    await ensureServer();
    const proxy = await startFaultProxy(uri, () => 'pass', downPort);
    try {
      // `reptile-bench sync` now reaches MLflow at the same URI.
      const delivered = await runCli(['sync', '--out', dir, '--json'], { MLFLOW_TRACKING_URI: downUri });
      expect(delivered.stderr).toBe('');
      expect(delivered.code).toBe(0);
      expect(JSON.parse(delivered.stdout)).toEqual({
        delivered: eventsOf(1200) + eventsOf(300),
        pending: 0,
        runs: 2,
        errors: [],
      });
      expect(proxy.landed.get('train/loss')).toBe(1500);
    } finally {
      await proxy.close();
    }
    await expectMirrored(tracker.store, 'down-a');
    await expectMirrored(tracker.store, 'down-b');
    // Delivered is delivered: syncing again sends nothing.
    expect(await syncOutbox({ dir, mlflowUri: uri })).toEqual({
      delivered: 0,
      pending: 0,
      runs: 0,
      errors: [],
    });
    await expectMirrored(tracker.store, 'down-a');
  });

  it('survives the server being killed mid-run and restarted; the next sweep delivers the rest', async () => {
    await ensureServer();
    const dir = join(scratch.path, 'killed');
    const tracker = createTracker({ dir, mlflowUri: uri, flushIntervalMs: 10, retries: 1 });
    let killedAt = -1;
    await recordRun(tracker, 'killed-a', 2500, async (step) => {
      if (step === 999) {
        // Kill the server once the background delivery has put part of the run into MLflow.
        await waitUntil(
          async () => Number((await remoteRun('killed-a'))?.tags[MLFLOW_TAGS.syncedOffset] ?? 0) > 0,
        );
        server!.kill();
        killedAt = step;
      }
    });
    await recordRun(tracker, 'killed-b', 200);
    await tracker.close();
    expect(killedAt).toBe(999);
    const waiting = await syncOutbox({ dir, mlflowUri: uri, retries: 0 });
    // Part of killed-a reached MLflow before the kill; the rest waits.
    expect(waiting.pending).toBeGreaterThan(eventsOf(200));
    expect(waiting.pending).toBeLessThan(eventsOf(2500) + eventsOf(200));

    server = await startMlflowServer({ dir: mlflowDir, port });
    // The next sweep records its runs and syncs at its end, delivering what the previous one left behind.
    const next = createTracker({ dir, mlflowUri: uri, flushIntervalMs: 10 });
    await recordRun(next, 'next-sweep', 50);
    expect(await next.sync()).toMatchObject({ pending: 0, errors: [] });
    await next.close();
    for (const runId of ['killed-a', 'killed-b', 'next-sweep']) await expectMirrored(tracker.store, runId);
  });

  it('delivers exactly once through a proxy answering 500 and 429 for a while, even for batches that landed', async () => {
    await ensureServer();
    let failuresBefore = 6;
    let landedButFailed = 2;
    let halfLanded = 2;
    const proxy = await startFaultProxy(uri, ({ path, body }) => {
      if (failuresBefore > 0) {
        failuresBefore -= 1;
        return { status: failuresBefore % 2 === 0 ? 429 : 503, forward: false };
      }
      const metricBatch = path.startsWith('/api/2.0/mlflow/runs/log-batch') && Array.isArray(body?.metrics);
      if (metricBatch && (body!.metrics as unknown[]).length > 0) {
        if (landedButFailed > 0) {
          // MLflow applies the whole batch, the client hears a failure.
          landedButFailed -= 1;
          return { status: 500, forward: true };
        }
        if (halfLanded > 0) {
          // As if MLflow stopped between storing the metrics and the tags: the offset tag is lost.
          halfLanded -= 1;
          return {
            status: 502,
            forward: true,
            rewrite: (batch) => ({
              ...batch,
              tags: (batch.tags as Array<{ key: string }>).filter(
                (tag) => tag.key !== MLFLOW_TAGS.syncedOffset,
              ),
            }),
          };
        }
      }
      return 'pass';
    });
    const dir = join(scratch.path, 'proxied');
    const tracker = createTracker({ dir, mlflowUri: proxy.uri, flushIntervalMs: 10_000, retries: 0 });
    await recordRun(tracker, 'proxied-a', 2000);
    await tracker.close();
    const report = await syncOutbox({
      dir,
      mlflowUri: proxy.uri,
      retries: 8,
      minBackoffMs: 5,
      maxBackoffMs: 40,
    });
    expect(report).toMatchObject({ pending: 0, errors: [] });
    expect(failuresBefore + landedButFailed + halfLanded).toBe(0);
    await expectMirrored(tracker.store, 'proxied-a');
    // No point was ever sent twice to MLflow: MLflow's own duplicate filtering was never needed.
    expect(Object.fromEntries(proxy.landed)).toEqual({
      'train/loss': 2000,
      'eval/accuracy': 2000,
      'summary/accuracy': 1,
    });
    await proxy.close();
  });
});

describe('mirroring a run continued from a checkpoint', () => {
  it('keeps one MLflow run: KILLED, back to RUNNING, then FINISHED, without the superseded points', async () => {
    await ensureServer();
    const dir = join(scratch.path, 'resumed');
    const runId = 'resumed-run';
    const tracker = createTracker({ dir, mlflowUri: uri, flushIntervalMs: 20 });
    const first = await tracker.startRun(meta(runId, { sweep: 'fault-sweep', tags: { suite: 'faults' } }));
    for (let step = 0; step < 10; step++) first.logMetrics({ 'train/loss': 10 - step }, step);
    const checkpointAt = first.logPosition();
    first.logMetrics({ 'train/loss': 1000 }, 10);
    await first.finish('KILLED', {}, 'interrupted');
    await tracker.close();
    const killed = await remoteRun(runId);
    expect(killed?.info.status).toBe('KILLED');

    const again = createTracker({ dir, mlflowUri: uri, flushIntervalMs: 20 });
    const second = await again.resumeRun(runId, {
      iteration: 10,
      phase: 'train',
      commit: 'c2',
      from: checkpointAt,
    });
    await waitUntil(async () => (await remoteRun(runId))?.info.status === 'RUNNING');
    for (let step = 10; step < 20; step++) second.logMetrics({ 'train/loss': 20 - step }, step);
    second.setTag('phase', 'done');
    await second.addArtifact('report.md', `# ${runId}\n`);
    await second.finish('FINISHED', { accuracy: 0.875 });
    await again.close();

    const store = again.store;
    const local = (await store.getRun(runId)) as RunRecord;
    expect(local.metrics['train/loss']?.map((p) => p.value)).not.toContain(1000);
    const remote = await remoteRun(runId);
    expect(remote?.info.status).toBe('FINISHED');
    // The point after the checkpoint was delivered before the resume (the killed run was mirrored whole), so
    // MLflow keeps it beside its replacement; every local point is there exactly once.
    const history = await client.getMetricHistory(remote!.info.runId, 'train/loss');
    for (const point of local.metrics['train/loss'] ?? [])
      expect(
        history.filter(
          (h) => h.step === point.step && h.value === point.value && h.timestamp === point.timestamp,
        ),
      ).toHaveLength(1);
    const experiment = await client.getExperimentByName('fault-sweep');
    const all = await client.searchAllRuns({
      experimentIds: [experiment!.experimentId],
      filter: `tags."${MLFLOW_TAGS.runId}" = '${runId}'`,
    });
    expect(all).toHaveLength(1);
  });

  it('never sends what a resume superseded when it was not delivered yet', async () => {
    await ensureServer();
    const dir = join(scratch.path, 'resumed-offline');
    const runId = 'resumed-offline';
    // Recorded while MLflow is not configured, then mirrored with sync --all after the resume.
    const tracker = createTracker({ dir, mlflowUri: null });
    const first = await tracker.startRun(meta(runId, { sweep: 'fault-sweep', tags: { suite: 'faults' } }));
    for (let step = 0; step < 5; step++) first.logMetrics({ 'train/loss': 10 - step }, step);
    const checkpointAt = first.logPosition();
    first.logMetrics({ 'train/loss': 1000 }, 5);
    await first.finish('KILLED', {}, 'interrupted');
    const second = await tracker.resumeRun(runId, {
      iteration: 5,
      phase: 'train',
      commit: 'c2',
      from: checkpointAt,
    });
    for (let step = 5; step < 8; step++) second.logMetrics({ 'train/loss': 10 - step }, step);
    second.setTag('phase', 'done');
    await second.addArtifact('report.md', `# ${runId}\n`);
    await second.finish('FINISHED', { accuracy: 0.875 });
    const report = await syncOutbox({ dir, mlflowUri: uri, all: true });
    expect(report.pending).toBe(0);
    await expectMirrored(tracker.store, runId);
    const remote = await remoteRun(runId);
    const history = await client.getMetricHistory(remote!.info.runId, 'train/loss');
    expect(history.map((h) => h.value)).not.toContain(1000);
  });
});

describe('mirroring runs recorded without MLflow', () => {
  it('sync --all mirrors finished runs and a run whose process died (as KILLED)', async () => {
    await ensureServer();
    const dir = join(scratch.path, 'offline');
    await runScript(fixture('write-runs.ts'), [dir, 'offline', '2', '150', 'die']).catch((error: Error) => {
      expect(error.message).toMatch(/exited with 3/);
    });
    expect(await syncOutbox({ dir, mlflowUri: uri })).toMatchObject({ delivered: 0, runs: 0 });
    const report = await syncOutbox({ dir, mlflowUri: uri, all: true });
    expect(report).toMatchObject({ pending: 0, runs: 2, errors: [] });
    const experiment = await client.getExperimentByName('offline');
    const runs = await client.searchAllRuns({ experimentIds: [experiment!.experimentId] });
    const byId = Object.fromEntries(runs.map((run) => [run.tags[MLFLOW_TAGS.runId], run]));
    expect(byId['offline-r0']!.info.status).toBe('FINISHED');
    expect(byId['offline-r1']!.info.status).toBe('KILLED');
    expect(byId['offline-r1']!.tags[MLFLOW_TAGS.error]).toMatch(/exited before finishing/);
    for (const run of runs) {
      expect(await client.getMetricHistory(run.info.runId, 'loss')).toHaveLength(150);
      expect(await client.getMetricHistory(run.info.runId, 'accuracy')).toHaveLength(150);
    }
  });
});

/** Runs the `reptile-bench` CLI in a child process. */
function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { MLFLOW_TRACKING_URI: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, [join(repoRoot, 'packages/runner/bin/reptile-bench.mjs'), ...args], {
    cwd: repoRoot,
    env: { ...inherited, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
