import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configHash } from '@reptile-bench/core';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/errors.ts';
import { hashableConfig } from '../src/config/identity.ts';
import { planSweep } from '../src/config/sweep.ts';
import { teacherArtifact, teacherConfigOf } from '../src/config/teacher.ts';

function sweepFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'runner-distill-'));
  const file = join(dir, 'sweep.yaml');
  writeFileSync(file, text);
  return file;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => `${p.where}|${p.field}|${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

const omniglot = `
defaults:
  dataset: { name: omniglot, ways: 5, shots: 1, train_shots: 10 }
  model: { name: conv4, filters: 64 }
  algorithm: { meta_iters: 5, meta_batch: 5, inner_iters: 5, inner_batch: 10, learning_rate: 0.001, train_iters: 20, train_batch: 50 }
  eval: { episodes: 10, eval_iters: 5, eval_batch: 5, learning_rate: 0.001 }
`;

describe('distillation runs and their teacher runs in a plan', () => {
  it("reuse the sweep's own sgd-pretrain run as the teacher of students of either size", () => {
    const plan = planSweep(
      sweepFile(`name: t
seeds: [0, 1]
${omniglot}
runs:
  - algorithm: { name: sgd-pretrain }
  - name: "distilled {model.filters}"
    algorithm: { name: sgd-distill, temperature: 4, alpha: 0.9, teacher: { model: { filters: 64 } } }
    grid: { model.filters: [64, 32] }
`),
    );
    // 2 seeds × (teacher + two students): the teacher is not planned twice
    expect(plan.runs).toHaveLength(6);
    const teachers = plan.runs.filter((r) => r.config.algorithm.name === 'sgd-pretrain');
    for (const student of plan.runs.filter((r) => r.config.algorithm.name === 'sgd-distill')) {
      const teacher = teachers.find((t) => t.seed === student.seed);
      expect(student.teacher?.runId).toBe(teacher?.runId);
      expect(student.teacher?.config.model).toEqual({ name: 'conv4', filters: 64 });
    }
    const small = plan.runs.find((r) => r.name === 'distilled 32');
    expect(small?.config.model).toEqual({ name: 'conv4', filters: 32 });
    expect(teacherArtifact(teachers[0]?.config as never)).toBe('classifier.json');
  });

  it('plan a teacher run of their own when the sweep has none, and a new one when its settings change', () => {
    const plan = planSweep(
      sweepFile(`name: t
seeds: [3]
${omniglot}
runs:
  - algorithm: { name: sgd-distill }
  - algorithm: { name: sgd-distill, teacher: { train_iters: 40 } }
`),
    );
    expect(plan.runs.map((r) => r.name)).toEqual([
      'omniglot-5w1s/sgd-pretrain conv4 64 filters (teacher)',
      'omniglot-5w1s/sgd-distill',
      'omniglot-5w1s/sgd-pretrain conv4 64 filters (teacher)',
      'omniglot-5w1s/sgd-distill',
    ]);
    const [t1, s1, t2, s2] = plan.runs;
    expect(s1?.teacher?.runId).toBe(t1?.runId);
    expect(s2?.teacher?.runId).toBe(t2?.runId);
    expect(t1?.runId).not.toBe(t2?.runId);
    expect(t2?.config.algorithm).toEqual({
      name: 'sgd-pretrain',
      train_iters: 40,
      train_batch: 50,
      learning_rate: 0.001,
      optimizer: 'adam',
    });
    // the teacher's id is the one its config would have as a run of its own
    expect(t1?.runId).toBe(
      `t-${configHash(hashableConfig(teacherConfigOf(s1?.config as never) as never))}-s3`,
    );
    expect(t1?.seed).toBe(3);
  });

  it('derive a text teacher trained on every label, with the teacher model and iterations', () => {
    const plan = planSweep(
      sweepFile(`name: t
seeds: [0]
defaults:
  dataset: { name: sentiment }
  model: { name: lstm, embedding: 16, hidden: 16 }
  algorithm: { train_iters: 30, train_batch: 16, learning_rate: 0.01, token_dropout: 0.2 }
runs:
  - name: teacher
    model: { bidirectional: true, pool: max }
    algorithm: { name: supervised, train_iters: 50 }
  - name: student
    algorithm: { name: sgd-distill, label_fraction: 0.1, teacher: { model: { bidirectional: true, pool: max }, train_iters: 50 } }
`),
    );
    expect(plan.runs.map((r) => r.name)).toEqual(['teacher', 'student']);
    const [teacher, student] = plan.runs;
    expect(student?.teacher?.runId).toBe(teacher?.runId);
    expect(teacher?.config.algorithm).toMatchObject({
      name: 'supervised',
      label_fraction: 1,
      token_dropout: 0.2,
      train_iters: 50,
    });
    expect(teacher?.config.eval).toEqual({ every: 0, timing_sentences: 200 });
    expect(teacherArtifact(teacher?.config as never)).toBe('model.json');
  });
});

describe('validation of distillation and text settings', () => {
  it('names the line of a bad teacher model field, T, α, and text-only settings on Omniglot', () => {
    const problems = problemsOf(() =>
      planSweep(
        sweepFile(`name: t
seeds: [0]
${omniglot}
runs:
  - algorithm:
      name: sgd-distill
      temperature: 0
      alpha: 1.5
      label_fraction: 0.5
      teacher: { model: { filters: -3, widht: 2 } }
`),
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/sweep\.yaml:13:\d+\|algorithm\.temperature\|must be > 0, got 0$/),
        expect.stringMatching(/sweep\.yaml:14:\d+\|algorithm\.alpha\|must be <= 1, got 1\.5$/),
      ]),
    );
    const more = problemsOf(() =>
      planSweep(
        sweepFile(`name: t
seeds: [0]
${omniglot}
runs:
  - algorithm:
      name: sgd-distill
      label_fraction: 0.5
      teacher: { model: { filters: -3, widht: 2 } }
`),
      ),
    );
    expect(more).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /sweep\.yaml:13:\d+\|algorithm\.label_fraction\|label_fraction applies to text datasets only \(omniglot has every training label and no tokens\)/,
        ),
        expect.stringMatching(/sweep\.yaml:14:\d+\|algorithm\.teacher\.model\.filters\|must be > 0, got -3$/),
        expect.stringMatching(
          /sweep\.yaml:14:\d+\|algorithm\.teacher\.model\.widht\|unknown field "widht"; allowed fields: name, filters$/,
        ),
      ]),
    );
  });

  it('keeps algorithms, models and eval settings to the datasets they belong to', () => {
    const problems = problemsOf(() =>
      planSweep(
        sweepFile(`name: t
seeds: [0]
runs:
  - name: supervised on omniglot
    dataset: { name: omniglot, ways: 5, shots: 1, train_shots: 10 }
    model: { name: conv4 }
    algorithm: { name: supervised, train_iters: 5, train_batch: 5, learning_rate: 0.01 }
    eval: { episodes: 1, eval_iters: 1, eval_batch: 1, learning_rate: 0.001 }
  - name: reptile on text
    dataset: { name: sentiment }
    model: { name: lstm }
    algorithm: { name: reptile, meta_iters: 1, meta_batch: 1, inner_iters: 1, inner_batch: 1, learning_rate: 0.01 }
  - name: text with few-shot eval
    dataset: { name: sentiment }
    model: { name: lstm }
    algorithm: { name: supervised, train_iters: 5, train_batch: 5, learning_rate: 0.01 }
    eval: { episodes: 5 }
  - name: conv4 on text
    dataset: { name: sentiment }
    model: { name: conv4 }
    algorithm: { name: supervised, train_iters: 5, train_batch: 5, learning_rate: 0.01 }
  - name: a teacher of another kind
    dataset: { name: sentiment }
    model: { name: lstm }
    algorithm: { name: sgd-distill, train_iters: 5, train_batch: 5, learning_rate: 0.01, teacher: { model: { name: conv4 } } }
`),
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /sweep\.yaml:7:\d+\|algorithm\.name\|algorithm "supervised" does not train on dataset "omniglot"; allowed algorithms: reptile, fomaml, maml, sgd-scratch, sgd-pretrain, sgd-distill$/,
        ),
        expect.stringMatching(
          /sweep\.yaml:12:\d+\|algorithm\.name\|algorithm "reptile" does not train on dataset "sentiment"; allowed algorithms: supervised, sgd-distill$/,
        ),
        expect.stringMatching(
          /sweep\.yaml:17:\d+\|eval\.episodes\|unknown field "episodes"; allowed fields: every, timing_sentences$/,
        ),
        expect.stringMatching(
          /\|model\.name\|model "conv4" cannot be trained on dataset "sentiment"; allowed models: lstm$/,
        ),
        expect.stringMatching(
          /sweep\.yaml:25:\d+\|algorithm\.teacher\.model\.name\|invalid value "conv4"; allowed models for dataset "sentiment": lstm$/,
        ),
      ]),
    );
  });
});
