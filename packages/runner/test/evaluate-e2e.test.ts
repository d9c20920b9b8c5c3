import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRunStore } from '@reptile-bench/tracking';
import { describe, expect, it } from 'vitest';
import { cli, lastJson, tinySweep } from './cli-helpers.ts';

interface EvaluateJson {
  run_id: string;
  episodes: number;
  eval_seed: number | null;
  optimizer_state: 'fresh' | 'trained';
  same_data: boolean;
  results: Record<
    string,
    { mean: number; ci95: number; n: number; recorded?: { mean: number; n: number }; per_episode: number[] }
  >;
}

describe('reptile-bench evaluate, on runs of a real sweep', () => {
  it("reproduces a run's recorded numbers from its exported model, evaluates more or other episodes, and refuses what it cannot evaluate", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-evaluate-'));
    const out = join(dir, 'results');
    const swept = await cli([
      'sweep',
      tinySweep(dir, 'tiny', ['reptile', 'sgd-scratch']),
      '--out',
      out,
      '--json',
    ]);
    expect(swept.code, swept.stderr).toBe(0);
    const runs = lastJson(swept.stdout).runs;
    const reptileRun = runs.find((r) => r.metrics.meta_iters_per_s !== undefined);
    const scratchRun = runs.find((r) => r !== reptileRun);
    if (reptileRun === undefined || scratchRun === undefined) throw new Error('the sweep lacks a run');

    // By run id, on the run's own episodes: exactly the recorded numbers.
    const same = await cli(['evaluate', reptileRun.id, '--out', out, '--json']);
    expect(same.code, same.stderr).toBe(0);
    const sameJson = JSON.parse(same.stdout) as EvaluateJson;
    expect(sameJson.same_data).toBe(true);
    expect(sameJson.results.nontransductive?.mean).toBe(reptileRun.metrics.mse_nontransductive);
    expect(sameJson.results.transductive?.mean).toBe(reptileRun.metrics.mse_transductive);
    expect(sameJson.results.transductive?.recorded?.mean).toBe(reptileRun.metrics.mse_transductive);

    // By model file, more episodes: the first six are the run's, score for score (the run stored them).
    const modelFile = openRunStore(out).artifactPath(reptileRun.id, 'model.json');
    const more = await cli([
      'evaluate',
      modelFile,
      '--out',
      out,
      '--episodes',
      '12',
      '--modes',
      'transductive',
      '--json',
    ]);
    expect(more.code, more.stderr).toBe(0);
    const moreJson = JSON.parse(more.stdout) as EvaluateJson;
    expect(moreJson.results.transductive?.n).toBe(12);
    expect(moreJson.results.nontransductive).toBeUndefined();
    const stored = JSON.parse(
      readFileSync(openRunStore(out).artifactPath(reptileRun.id, 'test-episodes.json'), 'utf8'),
    ) as { transductive: number[] };
    expect(moreJson.results.transductive?.per_episode.slice(0, 6)).toEqual(stored.transductive);
    expect(moreJson.results.transductive?.per_episode.slice(6)).not.toEqual(stored.transductive);

    // Other episodes: other numbers.
    const other = await cli(['evaluate', reptileRun.id, '--out', out, '--eval-seed', '5', '--json']);
    expect(other.code, other.stderr).toBe(0);
    const otherJson = JSON.parse(other.stdout) as EvaluateJson;
    expect(otherJson.eval_seed).toBe(5);
    expect(otherJson.results.transductive?.mean).not.toBe(reptileRun.metrics.mse_transductive);

    // The readable table names both numbers.
    const table = await cli(['evaluate', reptileRun.id, '--out', out]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      /\| transductive \| \d+\.\d\d ± \d+\.\d\d \(n=6\) \| \d+\.\d\d ± \d+\.\d\d \(n=6\) \|/,
    );

    // What it cannot evaluate: a learner with no initialisation, an unknown run, a damaged file.
    const scratch = await cli(['evaluate', scratchRun.id, '--out', out]);
    expect(scratch.code).not.toBe(0);
    expect(scratch.stderr).toContain('learns no initialisation');
    const unknown = await cli(['evaluate', 'tiny-000000000000-s0', '--out', out]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('is not in the run store');
    const damaged = join(dir, 'damaged.json');
    writeFileSync(damaged, readFileSync(modelFile, 'utf8').replace(/"data":"[A-Za-z0-9+/]/, '"data":"A'));
    const bad = await cli(['evaluate', damaged, '--out', out]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(damaged);
    // A model whose parameters went NaN: scored, but the command fails and says why.
    const { loadModel, saveModel } = await import('@reptile-bench/models');
    const loaded = await loadModel(modelFile);
    const nanFile = join(dir, 'nan-model.json');
    await saveModel(
      nanFile,
      loaded.model,
      loaded.params.map((p) => p.map(() => Number.NaN)),
      loaded.metadata,
    );
    const nan = await cli(['evaluate', nanFile, '--out', out]);
    expect(nan.code).toBe(1);
    expect(nan.stderr).toContain(`evaluate: run ${reptileRun.id}'s model gives non-finite results`);
    // Plain SGD keeps no state between steps: starting episodes from meta-training's changes nothing.
    const sgdTrained = await cli([
      'evaluate',
      reptileRun.id,
      '--out',
      out,
      '--optimizer-state',
      'trained',
      '--json',
    ]);
    expect(sgdTrained.code, sgdTrained.stderr).toBe(0);
    expect((JSON.parse(sgdTrained.stdout) as EvaluateJson).results.transductive?.per_episode).toEqual(
      sameJson.results.transductive?.per_episode,
    );
    const badOption = await cli(['evaluate', reptileRun.id, '--modes', 'inductive']);
    expect(badOption.code).not.toBe(0);
    expect(badOption.stderr).toContain('--modes takes non-transductive and/or transductive, got "inductive"');
  }, 120_000);
  it("adapts from meta-training's inner Adam or from a fresh one, as asked, on the same episodes", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-evaluate-adam-'));
    const out = join(dir, 'results');
    const file = join(dir, 'adam.yaml');
    writeFileSync(
      file,
      `name: adam
seeds: [0]
defaults:
  backend: cpu
  dataset: { name: sine, shots: 5, train_shots: 10, query_shots: 10 }
  model: { name: mlp, hidden: [16, 16] }
  algorithm: { name: reptile, meta_iters: 8, meta_batch: 2, inner_iters: 3, inner_batch: 5, learning_rate: 0.01, optimizer: adam, shared_optimizer_state: true }
  eval: { episodes: 6, eval_iters: 4, eval_batch: 5, optimizer: adam, learning_rate: 0.01, every: 4, val_episodes: 2, optimizer_state: trained }
runs:
  - {}
`,
    );
    const swept = await cli(['sweep', file, '--out', out, '--json']);
    expect(swept.code, swept.stderr).toBe(0);
    const run = lastJson(swept.stdout).runs[0];
    if (run === undefined) throw new Error('the sweep lacks its run');
    const evaluated = async (extra: string[]) => {
      const r = await cli(['evaluate', run.id, '--out', out, '--json', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as EvaluateJson;
    };
    const own = await evaluated([]);
    const trained = await evaluated(['--optimizer-state', 'trained']);
    const fresh = await evaluated(['--optimizer-state', 'fresh']);
    expect(own.optimizer_state).toBe('trained');
    expect(own.results.transductive?.mean).toBe(run.metrics.mse_transductive);
    expect(trained.results.transductive?.per_episode).toEqual(own.results.transductive?.per_episode);
    expect(fresh.optimizer_state).toBe('fresh');
    // Adam's moments and step count change every update of the adaptation, so every episode scores otherwise.
    const a = fresh.results.transductive?.per_episode ?? [];
    const b = own.results.transductive?.per_episode ?? [];
    expect(a).toHaveLength(6);
    for (let i = 0; i < a.length; i++) expect(a[i]).not.toBe(b[i]);
    const table = await cli(['evaluate', run.id, '--out', out, '--optimizer-state', 'fresh']);
    expect(table.stdout).toContain('inner optimizer fresh (the run used trained)');
    // The same model saved without its inner state can only be evaluated fresh.
    const { loadModel, saveModel } = await import('@reptile-bench/models');
    const loaded = await loadModel(openRunStore(out).artifactPath(run.id, 'model.json'));
    const stateless = join(dir, 'stateless.json');
    await saveModel(stateless, loaded.model, loaded.params, loaded.metadata);
    const noState = await cli(['evaluate', stateless, '--out', out, '--optimizer-state', 'trained']);
    expect(noState.code).not.toBe(0);
    expect(noState.stderr).toContain('holds no inner optimizer state');
    const freshFromFile = await cli([
      'evaluate',
      stateless,
      '--out',
      out,
      '--optimizer-state',
      'fresh',
      '--json',
    ]);
    expect(freshFromFile.code, freshFromFile.stderr).toBe(0);
    expect((JSON.parse(freshFromFile.stdout) as EvaluateJson).results.transductive?.per_episode).toEqual(a);
    const bad = await cli(['evaluate', run.id, '--out', out, '--optimizer-state', 'warm']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--optimizer-state takes fresh or trained, got "warm"');
  }, 120_000);
});
