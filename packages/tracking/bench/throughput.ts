// Prints how fast the store records and how fast the outbox delivers to a local MLflow server:
//   pnpm --filter @reptile-bench/tracking benchmark            (add --no-mlflow to skip the server part)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, openRunStore, type RunMeta, startMlflowServer, syncOutbox } from '../src/index.ts';

const POINTS = 100_000;
const meta = (runId: string): RunMeta => ({
  runId,
  sweep: 'benchmark',
  name: runId,
  configHash: 'h',
  seed: 0,
  commit: 'c',
  backend: { name: 'cpu', version: '0', threads: 1 },
  dataChecksum: 'd',
  config: {},
  params: { points: POINTS },
});

const dir = await mkdtemp(join(tmpdir(), 'reptile-bench-benchmark-'));
try {
  const store = openRunStore(join(dir, 'local'));
  const writer = await store.startRun(meta('local'));
  let started = process.hrtime.bigint();
  for (let step = 0; step < POINTS; step++) writer.logMetric('loss', 1 / (step + 1), step);
  const logSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  await writer.finish('FINISHED');
  started = process.hrtime.bigint();
  const record = await store.getRun('local');
  const readSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `logMetric: ${POINTS} points in ${logSeconds.toFixed(3)} s = ${Math.round(POINTS / logSeconds)} points/s`,
  );
  console.log(
    `getRun:    ${record!.metrics.loss!.length} points in ${readSeconds.toFixed(3)} s = ` +
      `${Math.round(POINTS / readSeconds)} points/s`,
  );

  if (!process.argv.includes('--no-mlflow')) {
    const server = await startMlflowServer({ dir: join(dir, 'mlflow') });
    try {
      // Recorded while MLflow is unreachable, then delivered in one sync: the outbox's own throughput.
      const tracker = createTracker({
        dir: join(dir, 'mirrored'),
        mlflowUri: 'http://127.0.0.1:9',
        retries: 0,
      });
      const mirrored = await tracker.startRun(meta('mirrored'));
      for (let step = 0; step < POINTS / 4; step++)
        mirrored.logMetrics({ loss: 1 / (step + 1), acc: step }, step);
      await mirrored.finish('FINISHED');
      await tracker.close();
      started = process.hrtime.bigint();
      const report = await syncOutbox({ dir: join(dir, 'mirrored'), mlflowUri: server.uri });
      const syncSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      console.log(
        `sync:      ${report.delivered} events to MLflow in ${syncSeconds.toFixed(2)} s = ` +
          `${Math.round(report.delivered / syncSeconds)} events/s (pending ${report.pending})`,
      );
    } finally {
      await server.stop();
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
