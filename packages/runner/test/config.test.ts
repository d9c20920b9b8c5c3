import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configHash } from '@reptile-bench/core';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/errors.ts';
import { hashableConfig } from '../src/config/identity.ts';
import { parseOverride } from '../src/config/overrides.ts';
import { planRunFile, planSweep } from '../src/config/sweep.ts';

function files(contents: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'runner-config-'));
  for (const [name, text] of Object.entries(contents)) writeFileSync(join(dir, name), text);
  return dir;
}

const sineBase = `
dataset: { name: sine, shots: 10, query_shots: 20 }
model: { name: mlp }
algorithm:
  meta_iters: 10
  meta_batch: 1
  inner_iters: 3
  inner_batch: 5
  learning_rate: 0.02
  optimizer: sgd
  train_iters: 10
  train_batch: 10
eval: { episodes: 5, eval_iters: 4, eval_batch: 10, optimizer: sgd, learning_rate: 0.02 }
backend: cpu
`;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => `${p.where}|${p.field}|${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('config validation', () => {
  it('names the file, line, field and allowed values of a bad enum value', () => {
    const dir = files({
      'sweep.yaml': `name: t
seeds: [0]
defaults:
  dataset: { name: omniglot, ways: 5, shots: 1, train_shots: 10, split: papr }
  model: { name: conv4 }
  algorithm: { name: reptile, meta_iters: 1, meta_batch: 1, inner_iters: 1, inner_batch: 1, learning_rate: 0.001 }
  eval: { episodes: 1, eval_iters: 1, eval_batch: 1, learning_rate: 0.001 }
runs:
  - name: a
`,
    });
    const problems = problemsOf(() => planSweep(join(dir, 'sweep.yaml')));
    expect(problems).toHaveLength(1);
    const [where, field, message] = (problems[0] as string).split('|');
    expect(where).toMatch(/sweep\.yaml:4:\d+$/);
    expect(field).toBe('dataset.split');
    expect(message).toBe('invalid value "papr"; allowed values: "paper", "official"');
  });

  it('reports unknown fields with the fields that exist, and an unknown algorithm with the allowed names', () => {
    const dir = files({
      'base.yaml': sineBase,
      'sweep.yaml': `name: t
seeds: [0]
include: [base.yaml]
runs:
  - name: typo
    algorithm: { name: reptile, meta_iter: 5 }
  - name: unknown
    algorithm: { name: reptil }
`,
    });
    const problems = problemsOf(() => planSweep(join(dir, 'sweep.yaml')));
    const typo = problems.find((p) => p.includes('meta_iter"'));
    expect(typo).toMatch(
      /sweep\.yaml:6:\d+\|algorithm\.meta_iter\|unknown field "meta_iter"; allowed fields: name, meta_iters,/,
    );
    const unknown = problems.find((p) => p.includes('reptil"'));
    expect(unknown).toContain(
      'algorithm.name|invalid value "reptil"; allowed values: reptile, fomaml, maml, sgd-scratch, sgd-pretrain',
    );
    expect(unknown).toMatch(/sweep\.yaml:8:\d+/);
  });

  it('points at the include file that set a bad value, and reports missing and mistyped fields', () => {
    const dir = files({
      'base.yaml': sineBase.replace('shots: 10,', 'shots: -3,'),
      'sweep.yaml': `name: t
seeds: [0]
include: [base.yaml]
runs:
  - algorithm: { name: reptile, learning_rate: fast }
    eval: { episodes: null }
`,
    });
    const problems = problemsOf(() => planSweep(join(dir, 'sweep.yaml')));
    expect(problems).toContainEqual(
      expect.stringMatching(/base\.yaml:2:\d+\|dataset\.shots\|must be > 0, got -3$/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/sweep\.yaml:5:\d+\|algorithm\.learning_rate\|expected a number, got "fast"$/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/sweep\.yaml:6:\d+\|eval\.episodes\|expected a number, got null$/),
    );
  });

  it('rejects a model that cannot run on the dataset, include cycles, missing includes and bad sweep fields', () => {
    const dir = files({
      'base.yaml': sineBase,
      'a.yaml': 'include: [b.yaml]\n',
      'b.yaml': 'include: [a.yaml]\n',
      'model.yaml':
        'name: t\nseeds: [0]\ninclude: [base.yaml]\nruns:\n  - { model: { name: conv4 }, algorithm: { name: reptile } }\n',
      'cycle.yaml': 'name: t\nseeds: [0]\ninclude: [a.yaml]\nruns: [{}]\n',
      'missing.yaml': 'name: t\nseeds: [0]\ninclude: [nope.yaml]\nruns: [{}]\n',
      'bad.yaml': 'name: "bad name"\nseeds: []\nrunz: []\n',
    });
    expect(problemsOf(() => planSweep(join(dir, 'model.yaml')))[0]).toContain(
      'model.name|model "conv4" cannot be trained on dataset "sine"; allowed models: mlp',
    );
    expect(problemsOf(() => planSweep(join(dir, 'cycle.yaml')))[0]).toMatch(
      /include\|include cycle: .*cycle\.yaml -> .*a\.yaml -> .*b\.yaml -> .*a\.yaml/,
    );
    expect(problemsOf(() => planSweep(join(dir, 'missing.yaml')))[0]).toMatch(
      /missing\.yaml:3:\d+\|include\|cannot include "nope\.yaml" \(.*nope\.yaml\): cannot read config: file not found/,
    );
    const bad = problemsOf(() => planSweep(join(dir, 'bad.yaml')));
    expect(bad).toContainEqual(expect.stringMatching(/^.*bad\.yaml:1:\d+\|name\|invalid value "bad name"/));
    expect(bad).toContainEqual(expect.stringMatching(/seeds\|needs at least 1 item\(s\), got \[\]/));
    expect(bad).toContainEqual(
      expect.stringMatching(
        /bad\.yaml:3:1\|\(sweep file\)\|unknown field "runz"; allowed fields: name, description, include/,
      ),
    );
    expect(bad).toContainEqual(expect.stringMatching(/runs\|required field is missing/));
  });

  it('rejects (FO)MAML configs whose held-out batches leave no examples for the inner steps', () => {
    const dir = files({
      'base.yaml': sineBase,
      'sweep.yaml': `name: t
seeds: [0]
include: [base.yaml]
runs:
  - algorithm: { name: fomaml, inner_batch: 10 }
  - algorithm: { name: maml, inner_batch: 10 }
  - algorithm: { name: maml }
`,
    });
    expect(problemsOf(() => planSweep(join(dir, 'sweep.yaml')))).toEqual([
      expect.stringMatching(
        /sweep\.yaml:5:\d+\|algorithm\.tail_batches\|fomaml holds out tail_batches × inner_batch = 10 of a training task's 10 examples, leaving none/,
      ),
      expect.stringMatching(
        /sweep\.yaml:6:\d+\|algorithm\.inner_batch\|maml holds out one inner batch = 10 of a training task's 10 examples/,
      ),
    ]);
  });

  it('reports invalid YAML with its position', () => {
    const dir = files({ 'broken.yaml': 'name: t\nseeds: [0\nruns: []\n' });
    expect(problemsOf(() => planSweep(join(dir, 'broken.yaml')))[0]).toMatch(
      /broken\.yaml:\d+:\d+\|\|invalid YAML/,
    );
  });
});

describe('expansion', () => {
  it('expands a grid as a cartesian product, times seeds, with names, ids and hashes', () => {
    const dir = files({
      'base.yaml': sineBase,
      'sweep.yaml': `name: grid
seeds: [1, 2]
include: [base.yaml]
runs:
  - grid:
      algorithm.name: [reptile, fomaml]
      algorithm.inner_iters: [3, 5, 7]
  - name: "scratch {dataset.shots}-shot"
    algorithm: { name: sgd-scratch }
`,
    });
    const plan = planSweep(join(dir, 'sweep.yaml'));
    expect(plan.runs).toHaveLength(2 * 3 * 2 + 2);
    const names = [...new Set(plan.runs.map((r) => r.name))];
    expect(names).toEqual([
      'sine/reptile inner_iters=3',
      'sine/reptile inner_iters=5',
      'sine/reptile inner_iters=7',
      'sine/fomaml inner_iters=3',
      'sine/fomaml inner_iters=5',
      'sine/fomaml inner_iters=7',
      'scratch 10-shot',
    ]);
    const fomaml7 = plan.runs.find((r) => r.name === 'sine/fomaml inner_iters=7' && r.seed === 2);
    expect(fomaml7?.config.algorithm).toMatchObject({ name: 'fomaml', inner_iters: 7, tail_batches: 1 });
    expect(fomaml7?.runId).toBe(`grid-${fomaml7?.configHash}-s2`);
    expect(fomaml7?.configHash).toBe(configHash(hashableConfig(fomaml7!.config)));
    // sgd-scratch has no hyperparameters: the shared defaults' meta_iters etc. are dropped, not errors.
    const scratch = plan.runs.find((r) => r.name === 'scratch 10-shot');
    expect(scratch?.config.algorithm).toEqual({ name: 'sgd-scratch' });
    expect(new Set(plan.runs.map((r) => r.runId)).size).toBe(plan.runs.length);
  });

  it('draws random search values from the declared distributions, the same on every expansion', () => {
    const dir = files({
      'base.yaml': sineBase,
      'sweep.yaml': `name: rnd
seeds: [0]
include: [base.yaml]
random:
  samples: 6
  seed: 3
  fields:
    algorithm.learning_rate: { log_uniform: [0.001, 0.1] }
    algorithm.inner_iters: { int: [2, 4] }
    algorithm.optimizer: { choice: [sgd, adam] }
    algorithm.meta_step: { uniform: [0.5, 1] }
runs:
  - algorithm: { name: reptile }
`,
    });
    const plan = planSweep(join(dir, 'sweep.yaml'));
    expect(plan.runs).toHaveLength(6);
    for (const run of plan.runs) {
      const a = run.config.algorithm as {
        learning_rate: number;
        inner_iters: number;
        optimizer: string;
        meta_step: number;
      };
      expect(a.learning_rate).toBeGreaterThanOrEqual(0.001);
      expect(a.learning_rate).toBeLessThanOrEqual(0.1);
      expect([2, 3, 4]).toContain(a.inner_iters);
      expect(['sgd', 'adam']).toContain(a.optimizer);
      expect(a.meta_step).toBeGreaterThanOrEqual(0.5);
      expect(a.meta_step).toBeLessThan(1);
      expect(run.name).toContain(`learning_rate=${a.learning_rate}`);
    }
    expect(new Set(plan.runs.map((r) => r.configHash)).size).toBe(6);
    expect(planSweep(join(dir, 'sweep.yaml')).runs.map((r) => r.config)).toEqual(
      plan.runs.map((r) => r.config),
    );
  });

  it('merges defaults, includes and entries in order, and lets --set override everything', () => {
    const dir = files({
      'base.yaml': sineBase,
      'more.yaml': 'include: [base.yaml]\neval: { episodes: 7 }\n',
      'sweep.yaml': `name: merge
seeds: [0]
include: [more.yaml]
defaults:
  eval: { eval_iters: 9 }
runs:
  - algorithm: { name: reptile }
    eval: { eval_batch: 3 }
`,
    });
    const [run] = planSweep(join(dir, 'sweep.yaml'), [parseOverride('algorithm.meta_iters=42')]).runs;
    expect(run?.config.eval).toMatchObject({
      episodes: 7,
      eval_iters: 9,
      eval_batch: 3,
      learning_rate: 0.02,
    });
    expect(run?.config.algorithm).toMatchObject({ meta_iters: 42 });
    expect(parseOverride('eval.modes=[transductive]')).toEqual({
      path: ['eval', 'modes'],
      value: ['transductive'],
    });
    expect(() => parseOverride('novalue')).toThrow(/expected key=value/);
  });

  it('keeps one run per config and seed, and excludes name and worker count from the hash', () => {
    const dir = files({
      'base.yaml': sineBase,
      'sweep.yaml': `name: dup
seeds: [0]
include: [base.yaml]
runs:
  - { name: first, algorithm: { name: sgd-scratch } }
  - { name: second, algorithm: { name: sgd-scratch, }, workers: 2 }
  - { name: third, algorithm: { name: sgd-scratch }, backend: wasm }
`,
    });
    const plan = planSweep(join(dir, 'sweep.yaml'));
    expect(plan.runs.map((r) => r.name)).toEqual(['first', 'third']);
    expect(plan.duplicates).toBe(1);
  });

  it('plans a single run from a run config file', () => {
    const dir = files({ 'base.yaml': sineBase });
    const plan = planRunFile(join(dir, 'base.yaml'), {
      sweep: 'base',
      seeds: [4],
      overrides: [parseOverride('algorithm.name=reptile')],
    });
    expect(plan.runs).toHaveLength(1);
    expect(plan.runs[0]).toMatchObject({ name: 'sine/reptile', seed: 4, sweep: 'base' });
    expect(plan.runs[0]?.config.dataset).toEqual({
      name: 'sine',
      shots: 10,
      train_shots: 10,
      query_shots: 20,
    });
  });
});
