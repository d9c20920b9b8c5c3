import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRunStore } from '@reptile-bench/tracking';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { cli, lastJson } from './cli-helpers.ts';

/**
 * A tiny text distillation sweep on the real sentiment data: a small BiLSTM teacher, a labels-only student and a
 * distilled student with 30% of the labels, a few dozen steps each. Far from the experiment's sizes, but every
 * stage runs for real: data, teacher run, teacher reused by the student, test scoring, reports.
 */
function textSweep(dir: string): string {
  const file = join(dir, 'text.yaml');
  writeFileSync(
    file,
    `name: text-tiny
seeds: [0]
defaults:
  dataset: { name: sentiment }
  model: { name: lstm, embedding: 16, hidden: 16 }
  algorithm: { train_iters: 60, train_batch: 32, learning_rate: 0.005 }
  eval: { every: 30, timing_sentences: 20 }
runs:
  - name: teacher
    model: { bidirectional: true, pool: max }
    algorithm: { name: supervised }
  - name: student labels only
    algorithm: { name: supervised, label_fraction: 0.3 }
  - name: student distilled
    algorithm: { name: sgd-distill, label_fraction: 0.3, temperature: 2, alpha: 0.5, teacher: { model: { bidirectional: true, pool: max } } }
`,
  );
  return file;
}

describe('reptile-bench sweep, end to end on text: teacher run, students, reports', () => {
  it('trains the teacher first, distils from its stored model, scores above chance and reports the claims', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-text-'));
    const file = textSweep(dir);
    const out = join(dir, 'results');
    const first = await cli(['sweep', file, '--out', out, '--json', '--progress', 'lines']);
    expect(first.code, first.stderr).toBe(0);
    const summary = lastJson(first.stdout);
    expect(summary.counts).toEqual({ runs: 3, finished: 3, reused: 0, failed: 0, killed: 0 });
    // the teacher ran before the student that needs it
    expect(first.stderr.indexOf('teacher seed 0 (')).toBeLessThan(
      first.stderr.indexOf('started student distilled'),
    );
    const [teacher, , distilled] = summary.runs;
    for (const run of summary.runs) {
      // 448 test sentences, half of them positive: 60% is 4 standard errors above chance
      expect(run.metrics.accuracy_test).toBeGreaterThan(0.6);
      expect(run.metrics.accuracy_test_n).toBe(448);
      expect(run.metrics.inference_ms_per_sentence).toBeGreaterThan(0);
    }
    expect(distilled?.metrics.labelled_examples).toBeLessThan(
      0.31 * (distilled?.metrics.train_examples as number),
    );
    expect(distilled?.metrics.teacher_label_accuracy).toBeGreaterThan(0.6);
    const store = openRunStore(out);
    const record = await store.getRun(distilled?.id as string);
    expect(record?.tags.teacher_run).toBe(teacher?.id);
    expect(record?.artifacts).toEqual(expect.arrayContaining(['model.json', 'test-predictions.json']));
    expect(record?.metrics.val_accuracy?.map((p) => p.step)).toEqual([0, 30, 60]);

    const report = readFileSync(join(out, 'text-tiny', 'report.md'), 'utf8');
    expect(report).toContain("## The document's claims");
    expect(report).toContain('## Students against the teacher, by share of labels');
    expect(report).toMatch(/\| 30% \| [\d.]+ \| [\d.]+ \| [−+][\d.]+ \| [\d.]+ \(T = 2, α = 0\.5\) \|/);
    const rows = parse(readFileSync(join(out, 'text-tiny', 'results.csv'), 'utf8'), {
      columns: true,
    }) as Array<Record<string, string>>;
    expect(rows.map((r) => r.algorithm).sort()).toEqual(['sgd-distill', 'supervised', 'supervised']);
    expect(Number(rows.find((r) => r.algorithm === 'sgd-distill')?.label_fraction)).toBe(0.3);

    // A fresh store: picking only the distilled student trains its teacher first, as a run of its own.
    const out2 = join(dir, 'results-2');
    const only = await cli([
      'sweep',
      file,
      '--only',
      'distilled',
      '--out',
      out2,
      '--json',
      '--progress',
      'none',
    ]);
    expect(only.code, only.stderr).toBe(0);
    const again = lastJson(only.stdout);
    expect(again.runs.map((r) => r.status)).toEqual(['FINISHED']);
    // same config, seed and backend: the same numbers as in the first store
    expect(again.runs[0]?.metrics.accuracy_test).toBe(distilled?.metrics.accuracy_test);
    expect((await openRunStore(out2).getRun(teacher?.id as string))?.status).toBe('FINISHED');

    // A student whose teacher's model file is gone: the sweep trains that teacher again before it.
    rmSync(store.artifactPath(teacher?.id as string, 'model.json'));
    rmSync(join(store.dir, 'runs', distilled?.id as string), { recursive: true });
    const rerun = await cli(['sweep', file, '--out', out, '--json', '--progress', 'lines']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/1 teacher run\(s\) finished before their model file was kept/);
    const third = lastJson(rerun.stdout);
    expect(third.runs.map((r) => r.metrics.accuracy_test)).toEqual(
      summary.runs.map((r) => r.metrics.accuracy_test),
    );
  }, 900_000);
});
