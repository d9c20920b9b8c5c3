import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng, type MeanWithCi, meanWithCi } from '@reptile-bench/core';
import { openRunStore } from '@reptile-bench/tracking';
import { fewShotConfig } from '../src/config/schema.ts';
import { planSweep, type SweepPlan } from '../src/config/sweep.ts';
import {
  metricKindOf,
  modeKeys,
  summaryFromResult,
  validationKey,
  validationSecondsKey,
} from '../src/records.ts';

/** A small suite: Reptile and SGD from scratch on Omniglot 5-way 1-shot, Reptile on sine waves; three seeds. */
export const fixtureSweepYaml = `name: fixture
description: Fixture sweep for report and check tests.
seeds: [0, 1, 2]
defaults:
  backend: cpu
runs:
  - name: omniglot-5w1s/reptile
    dataset: { name: omniglot, ways: 5, shots: 1, train_shots: 10 }
    model: { name: conv4 }
    algorithm: { name: reptile, meta_iters: 100, meta_batch: 5, inner_iters: 5, inner_batch: 10, learning_rate: 0.001 }
    eval: { episodes: 200, eval_iters: 50, eval_batch: 5, learning_rate: 0.001, every: 25, val_episodes: 10 }
  - name: omniglot-5w1s/sgd-scratch
    dataset: { name: omniglot, ways: 5, shots: 1, train_shots: 10 }
    model: { name: conv4 }
    algorithm: { name: sgd-scratch }
    eval: { episodes: 200, eval_iters: 50, eval_batch: 5, learning_rate: 0.001 }
  - name: sine/reptile
    dataset: { name: sine, shots: 10 }
    model: { name: mlp }
    algorithm: { name: reptile, meta_iters: 100, meta_batch: 1, inner_iters: 5, inner_batch: 10, learning_rate: 0.02, optimizer: sgd }
    eval: { episodes: 200, eval_iters: 32, eval_batch: 10, learning_rate: 0.02, optimizer: sgd, every: 50 }
`;

/** Per-episode outcomes a fixture run "measured": accuracy hits (0/1) or squared errors, per mode. */
export type EpisodeValues = Record<'nontransductive' | 'transductive', number[]>;

/** Deterministic synthetic episode values for a configuration and seed. `shift` lowers accuracy / raises MSE. */
export function fixtureEpisodes(name: string, seed: number, episodes: number, shift = 0): EpisodeValues {
  const rng = createRng(`${name}/${seed}`);
  const base: Record<string, [number, number]> = {
    'omniglot-5w1s/reptile': [0.9, 0.95],
    'omniglot-5w1s/sgd-scratch': [0.5, 0.55],
  };
  if (name.startsWith('sine')) {
    const draw = (scale: number) =>
      Array.from({ length: episodes }, () => scale * (0.2 + rng.float()) * (1 + shift));
    return { nontransductive: draw(0.3), transductive: draw(0.3) };
  }
  const [nt, t] = base[name] ?? [0.6, 0.6];
  const draw = (p: number) =>
    Array.from({ length: episodes }, () => (rng.float() < p - shift + seed * 0.01 ? 1 : 0));
  return { nontransductive: draw(nt), transductive: draw(t) };
}

export interface Fixture {
  dir: string;
  sweepFile: string;
  plan: SweepPlan;
  episodes: Map<string, EpisodeValues>;
}

/**
 * Writes the fixture sweep's runs into a real run store, as finished runs with summaries computed from the
 * synthetic episode values, learning curves, and (optionally) one failed run.
 */
export async function writeFixtureStore(
  o: { shift?: number; failOne?: boolean; dir?: string } = {},
): Promise<Fixture> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'runner-fixture-'));
  const sweepFile = join(dir, 'fixture.yaml');
  writeFileSync(sweepFile, fixtureSweepYaml);
  const plan = planSweep(sweepFile);
  const store = openRunStore(dir);
  const episodes = new Map<string, EpisodeValues>();
  for (const run of plan.runs) {
    const writer = await store.startRun({
      runId: run.runId,
      sweep: run.sweep,
      name: run.name,
      configHash: run.configHash,
      seed: run.seed,
      commit: 'fixture0000',
      backend: { name: run.config.backend, version: 'tfjs-core 4.22.0', threads: 1 },
      dataChecksum: 'f'.repeat(64),
      config: run.config,
      params: { seed: run.seed },
    });
    if (o.failOne && run.name === 'sine/reptile' && run.seed === 2) {
      await writer.finish('FAILED', {}, 'Error: fixture failure\n    at somewhere');
      continue;
    }
    const metric = metricKindOf(run.config);
    const evalConfig = fewShotConfig(run.config).eval;
    const values = fixtureEpisodes(run.name, run.seed, evalConfig.episodes, o.shift ?? 0);
    episodes.set(run.runId, values);
    const results: Partial<Record<'nontransductive' | 'transductive', MeanWithCi>> = {};
    for (const mode of modeKeys) results[mode] = meanWithCi(values[mode]);
    if (evalConfig.every > 0) {
      for (let step = evalConfig.every; step <= 100; step += evalConfig.every) {
        const progress = step / 100;
        const value = metric === 'accuracy' ? 0.2 + 0.7 * progress : 2 - 1.5 * progress;
        writer.logMetrics({ [validationKey(metric)]: value, [validationSecondsKey]: step * 0.5 }, step);
      }
    }
    await writer.finish('FINISHED', {
      ...summaryFromResult(metric, results),
      train_seconds: 50 + run.seed,
      eval_seconds: 10,
      meta_iters_per_s: 2,
    });
  }
  return { dir, sweepFile, plan, episodes };
}
