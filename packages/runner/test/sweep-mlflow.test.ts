import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createMlflowClient,
  type MlflowServer,
  openRunStore,
  startMlflowServer,
} from '@reptile-bench/tracking';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planSweep } from '../src/config/sweep.ts';
import { chromiumFlags, chromiumPath } from './chromium.ts';

const bin = fileURLToPath(new URL('../bin/reptile-bench.mjs', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
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

    // A normal training run to MLflow's own tools: what its clients set, and the model as a logged model.
    expect(run.tags).toMatchObject({
      'mlflow.source.type': 'LOCAL',
      'mlflow.source.name': expect.stringContaining('mirrored.yaml'),
      'mlflow.user': expect.any(String),
      'mlflow.source.git.commit': expect.stringMatching(/^[0-9a-f]{40}/),
    });
    expect(experiment!.tags).toMatchObject({ 'mlflow.experimentKind': 'custom_model_development' });
    const models = await client.searchLoggedModels(experiment!.experimentId);
    expect(models).toHaveLength(1);
    expect(models[0]).toMatchObject({
      name: 'model',
      sourceRunId: run.info.runId,
      status: 'LOGGED_MODEL_READY',
    });

    // The official Python client reads the same: the run's source, and its logged model with the model file.
    const python = join(repoRoot, '.venv', 'bin', 'python');
    const seen = await new Promise<string>((resolve, reject) => {
      execFile(
        python,
        [
          '-c',
          `import json, mlflow
c = mlflow.MlflowClient("${server.uri}")
run = c.get_run("${run.info.runId}")
models = c.search_logged_models(experiment_ids=[run.info.experiment_id])
path = mlflow.artifacts.download_artifacts(artifact_uri=models[0].artifact_location + "/model.json", tracking_uri="${server.uri}")
print(json.dumps({"source_type": run.data.tags.get("mlflow.source.type"), "models": [m.name for m in models], "model_run": models[0].source_run_id, "status": str(models[0].status), "model_file": open(path).read()}))`,
        ],
        (error, stdout, stderr) => (error ? reject(new Error(stderr || String(error))) : resolve(stdout)),
      );
    });
    expect(JSON.parse(seen.trim().split('\n').at(-1)!)).toEqual({
      source_type: 'LOCAL',
      models: ['model'],
      model_run: run.info.runId,
      status: 'READY',
      model_file: readFileSync(
        openRunStore(join(dir, 'results')).artifactPath(planned!.runId, 'model.json'),
        'utf8',
      ),
    });

    // And MLflow's UI, in headless Chromium: the run page lists its logged model and its source.
    const browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: chromiumFlags,
    });
    try {
      const page = await browser.newPage();
      await page.goto(
        `${server.uri}/#/experiments/${experiment!.experimentId}/runs/${run.info.runId}?workflowType=machine_learning`,
      );
      // (the UI lists a run's logged models once it has loaded them, as "Logged models (n)")
      await page
        .getByText(/Logged models \(1\)/)
        .first()
        .waitFor({ timeout: 120_000 });
      const text = await page.locator('body').innerText();
      expect(text).toContain('Source');
      expect(text).toContain('mirrored.yaml');
    } finally {
      await browser.close();
    }
  }, 300_000);
});
