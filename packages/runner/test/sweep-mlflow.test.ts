import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMlflowClient, type MlflowServer, startMlflowServer } from '@reptile-bench/tracking';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSweep } from '../src/config/sweep.ts';

const bin = fileURLToPath(new URL('../bin/reptile-bench.mjs', import.meta.url));
let server: MlflowServer;

beforeAll(async () => {
  // A real MLflow server on 127.0.0.1 (the tracking package makes its pinned virtualenv if needed).
  server = await startMlflowServer({ dir: mkdtempSync(join(tmpdir(), 'runner-mlflow-')) });
});
afterAll(async () => {
  await server?.stop();
});

describe('a sweep with MLFLOW_TRACKING_URI set', () => {
  it('mirrors each run to MLflow: experiment per sweep, params, metric histories, summary and the model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-mlflow-sweep-'));
    const file = join(dir, 'mirrored.yaml');
    writeFileSync(
      file,
      `name: mirrored
seeds: [3]
runs:
  - backend: cpu
    dataset: { name: sine, shots: 5, train_shots: 10, query_shots: 10 }
    model: { name: mlp, hidden: [16, 16] }
    algorithm: { name: reptile, meta_iters: 6, meta_batch: 1, inner_iters: 2, inner_batch: 5, learning_rate: 0.02, optimizer: sgd }
    eval: { episodes: 6, eval_iters: 4, eval_batch: 5, optimizer: sgd, learning_rate: 0.02, every: 2, val_episodes: 2 }
`,
    );
    const [planned] = planSweep(file).runs;
    const code = await new Promise<number>((resolve) => {
      execFile(
        process.execPath,
        [bin, 'sweep', file, '--out', join(dir, 'results'), '--progress', 'none'],
        { env: { ...process.env, MLFLOW_TRACKING_URI: server.uri } },
        (error) => resolve(error ? Number((error as { code?: number }).code ?? 1) : 0),
      );
    });
    expect(code).toBe(0);

    const client = createMlflowClient({ trackingUri: server.uri });
    const experiment = await client.getExperimentByName('mirrored');
    expect(experiment).toBeDefined();
    const runs = await client.searchAllRuns({ experimentIds: [experiment!.experimentId] });
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.info.status).toBe('FINISHED');
    expect(run.info.runName).toBe('sine/reptile');
    expect(run.params).toMatchObject({ 'algorithm.name': 'reptile', 'algorithm.meta_iters': '6', seed: '3' });
    const history = await client.getMetricHistory(run.info.runId, 'val_mse');
    expect(history.map((p) => p.step).sort((a, b) => a - b)).toEqual([0, 2, 4, 6]);
    const innerLoss = await client.getMetricHistory(run.info.runId, 'train_inner_loss');
    expect(innerLoss).toHaveLength(6);
    expect(run.metrics.map((m) => m.key)).toContainEqual(expect.stringMatching(/mse_transductive$/));
    const artifacts = await client.listArtifacts(run.info.runId);
    expect(artifacts.map((a) => a.path)).toContain('model.json');
    expect(planned?.runId).toMatch(/^mirrored-[0-9a-f]{12}-s3$/);
  });
});
