import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRunStore } from '@reptile-bench/tracking';
import { describe, expect, it } from 'vitest';
import { cli, lastJson } from './cli-helpers.ts';

/**
 * Born-again distillation on the real Omniglot archives, through the CLI: a joint-training teacher, students of
 * its size and of half its filters, and the half-size network trained alone (the control the report compares
 * with). A small Conv4 and few steps: the mechanics and the report, not the accuracy (the bench has that).
 */
function omniglotSweep(dir: string): string {
  const file = join(dir, 'distill.yaml');
  writeFileSync(
    file,
    `name: distill-omniglot-tiny
seeds: [0]
defaults:
  dataset: { name: omniglot, ways: 3, shots: 1, train_shots: 4 }
  model: { name: conv4, filters: 8 }
  algorithm: { train_iters: 40, train_batch: 20, learning_rate: 0.003 }
  eval: { episodes: 30, eval_iters: 4, eval_batch: 3, learning_rate: 0.003 }
runs:
  - name: teacher
    algorithm: { name: sgd-pretrain }
  - name: "student {model.filters}"
    algorithm: { name: sgd-distill, temperature: 4, alpha: 0.9, teacher: { model: { filters: 8 } } }
    grid: { model.filters: [8, 4] }
  - name: alone 4
    model: { filters: 4 }
    algorithm: { name: sgd-pretrain }
`,
  );
  return file;
}

describe('reptile-bench sweep, end to end: sgd-distill on Omniglot', () => {
  it('trains the teacher once before its students and reports each student against it and against its own network alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-distill-omniglot-'));
    const out = join(dir, 'results');
    const run = await cli(['sweep', omniglotSweep(dir), '--out', out, '--json', '--progress', 'lines']);
    expect(run.code, run.stderr).toBe(0);
    const summary = lastJson(run.stdout);
    expect(summary.counts).toEqual({ runs: 4, finished: 4, reused: 0, failed: 0, killed: 0 });
    const teacherEnd = run.stderr.indexOf('teacher seed 0 (');
    expect(teacherEnd).toBeGreaterThan(-1);
    expect(teacherEnd).toBeLessThan(run.stderr.indexOf('started student 8'));
    expect(teacherEnd).toBeLessThan(run.stderr.indexOf('started student 4'));
    expect(run.stderr.match(/started teacher seed 0/g)).toHaveLength(1);

    const store = openRunStore(out);
    const byName = Object.fromEntries(
      await Promise.all(summary.runs.map(async (r) => [(await store.getRun(r.id))?.meta.name, r])),
    );
    const teacher = byName.teacher;
    for (const name of ['student 8', 'student 4']) {
      const record = await store.getRun(byName[name]?.id as string);
      expect(record?.tags.teacher_run).toBe(teacher?.id);
      expect(record?.status).toBe('FINISHED');
    }
    // the teacher kept its joint classifier for the students
    expect((await store.getRun(teacher?.id as string))?.artifacts).toContain('classifier.json');
    // half the filters: fewer parameters than the teacher's network
    expect(byName['student 4']?.metrics.parameters).toBeLessThan(
      byName['student 8']?.metrics.parameters as number,
    );

    const report = readFileSync(join(out, 'distill-omniglot-tiny', 'report.md'), 'utf8');
    expect(report).toContain(
      'Distillation: sgd-distill students against their teacher and against the same network',
    );
    // the half-size student: its own row per evaluation mode, with the control's accuracy and a verdict
    const rows = report.split('\n').filter((line) => line.includes('| student 4 |'));
    const distillRows = rows.filter((line) => line.includes('| 4 / 8 |'));
    expect(distillRows).toHaveLength(2);
    for (const row of distillRows) {
      const cells = row.split('|').map((c) => c.trim());
      // student, teacher, difference, same network alone, difference, verdict: all measured
      for (const cell of cells.slice(7, 13)) expect(cell).not.toBe('–');
      expect(['helps', 'hurts', 'no significant difference']).toContain(cells[12]);
    }
    // the same-size student's control is the teacher itself
    const same = report
      .split('\n')
      .find((line) => line.includes('| student 8 |') && line.includes('| 8 / 8 |'));
    const cells = same?.split('|').map((c) => c.trim()) ?? [];
    expect(cells[10]).toBe(cells[8]);
  }, 900_000);
});
