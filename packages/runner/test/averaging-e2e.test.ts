import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRunStore } from '@reptile-bench/tracking';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { cli, lastJson } from './cli-helpers.ts';

// Fashion-MNIST's official files come with Debian's dataset-fashion-mnist (.ci/setup.d/fashion-mnist.sh).
describe('reptile-bench sweep, end to end on Fashion-MNIST with local SGD', () => {
  it('trains plain SGD and local SGD well above chance, records the histories and writes the averaging report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'averaging-e2e-'));
    const file = join(dir, 'tiny-averaging.yaml');
    writeFileSync(
      file,
      `name: tiny-averaging
seeds: [0]
defaults:
  workers: 2
  dataset: { name: fashion-mnist, validation: 1000 }
  model: { name: mlp, hidden: [32], activation: relu }
  algorithm: { name: local-sgd, batch: 32, learning_rate: 0.05, momentum: 0.9 }
  eval: { every_examples: 4096 }
runs:
  - name: "sgd"
    algorithm: { examples: 8192 }
  - name: "local k2 H{algorithm.sync_every}"
    algorithm: { replicas: 2, examples: 16384 }
    grid:
      algorithm.sync_every: [4, end]
`,
    );
    const out = join(dir, 'results');
    const result = await cli([
      'sweep',
      file,
      '--out',
      out,
      '--workers',
      '1',
      '--json',
      '--progress',
      'lines',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const summary = lastJson(result.stdout);
    expect(summary.counts).toMatchObject({ runs: 3, finished: 3, failed: 0 });
    for (const run of summary.runs) {
      // Chance is 10%; 8,192 examples of SGD with momentum already give about 75%.
      expect(run.metrics.accuracy_test).toBeGreaterThan(0.6);
      expect(run.metrics.accuracy_test_n).toBe(10000);
    }
    const store = openRunStore(out);
    const local = (await store.listRuns({ sweep: 'tiny-averaging' })).find(
      (r) => r.meta.name === 'local k2 H4',
    );
    expect(local?.meta.backend.name).toBe('wasm');
    // Test accuracy at 0, 4096, ..., 16384 examples, with the training seconds at each point.
    expect(local?.metrics.examples?.map((p) => p.value)).toEqual([0, 4096, 8192, 12288, 16384]);
    expect(local?.metrics.test_accuracy).toHaveLength(5);
    expect(local?.metrics.val_accuracy).toHaveLength(5);
    expect(local?.metrics.val_train_seconds?.at(-1)?.value).toBeGreaterThan(0);
    const report = readFileSync(join(out, 'tiny-averaging', 'report.md'), 'utf8');
    expect(report).toMatch(/## fashion-mnist-mlp: test accuracy, budgets and time to accuracy/);
    expect(report).toMatch(/\| local k2 H4 \| local SGD \| 2 \| 4 \| 32 \| 1 \|/);
    expect(report).toMatch(/## fashion-mnist-mlp: the claims, answered/);
    const rows = parse(readFileSync(join(out, 'tiny-averaging', 'summary.csv'), 'utf8'), {
      columns: true,
    }) as Array<Record<string, string>>;
    expect(rows.map((r) => Number(r.test)).every((v) => v > 60)).toBe(true);
    expect(existsSync(join(out, 'tiny-averaging', 'report.html'))).toBe(true);
    expect(readFileSync(join(out, 'tiny-averaging', 'report.html'), 'utf8')).toMatch(
      /data-chart="accuracy-vs-time" data-setting="fashion-mnist-mlp"/,
    );
    // Three short runs: about half a minute on a quiet 2-core machine, much longer on a loaded one.
  }, 900_000);

  it('names the field and what to change in a local-sgd config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'averaging-config-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      `name: bad
seeds: [0]
runs:
  - dataset: { name: fashion-mnist }
    model: { name: conv4 }
    algorithm: { name: local-sgd, batch: 64, learning_rate: 0.1, examples: 1000 }
    eval: { every_examples: 640 }
  - dataset: { name: fashion-mnist }
    model: { name: mlp, hidden: [8], activation: relu }
    algorithm: { name: local-sgd, batch: 64, learning_rate: 0.1, examples: 1000 }
    eval: { every_examples: 640 }
  - dataset: { name: fashion-mnist }
    model: { name: mlp }
    algorithm: { name: reptile, meta_iters: 1, meta_batch: 1, inner_iters: 1, inner_batch: 1, learning_rate: 0.1 }
    eval: { every_examples: 640 }
`,
    );
    const result = await cli(['sweep', file, '--dry-run']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(
      /bad\.yaml:5:20: model\.name: model "conv4" cannot be trained on dataset "fashion-mnist"; allowed models: mlp, cnn/,
    );
    expect(result.stderr).toMatch(
      /bad\.yaml:10:76: algorithm\.examples: algorithm\.examples = 1000 is not a whole number of steps of all replicas \(replicas × batch = 1 × 64\) \(64 examples\); make it a multiple of 64/,
    );
    expect(result.stderr).toMatch(
      /algorithm\.name: dataset "fashion-mnist" is single-task classification; allowed algorithms: "local-sgd"/,
    );
  });
});
