import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRng, meanWithCi } from '@reptile-bench/core';
import { openRunStore } from '@reptile-bench/tracking';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { poolMeanWithCi, summarizeConfigs } from '../src/report/aggregate.ts';
import { learningCurves } from '../src/report/charts.ts';
import { paperReproductionTable, pretrainingBesideTable } from '../src/report/paper.ts';
import { resultsColumns, summaryColumns } from '../src/report/tables.ts';
import { writeReports } from '../src/report/write.ts';
import { type Fixture, writeFixtureStore } from './fixtures.ts';

describe('pooled mean and CI', () => {
  it('equals meanWithCi over the concatenated samples', () => {
    const rng = createRng('pool');
    const samples = [12, 40, 7, 1].map((n) => Array.from({ length: n }, () => rng.normal() * 3 + rng.int(3)));
    const pooled = poolMeanWithCi(samples.map((s) => meanWithCi(s)));
    const direct = meanWithCi(samples.flat());
    expect(pooled.n).toBe(direct.n);
    expect(pooled.mean).toBeCloseTo(direct.mean, 12);
    expect(pooled.std).toBeCloseTo(direct.std, 12);
    expect(pooled.ci95).toBeCloseTo(direct.ci95, 12);
    expect(pooled.ci95).toBeCloseTo((1.96 * direct.std) / Math.sqrt(60), 12);
  });
});

describe('reports from a fixture run store', () => {
  let fixture: Fixture;
  let files: Record<string, string>;
  beforeAll(async () => {
    fixture = await writeFixtureStore({ failOne: true });
    const runs = await openRunStore(fixture.dir).listRuns({ sweep: 'fixture' });
    const written = await writeReports(fixture.dir, fixture.plan, runs, new Date('2025-01-02T03:04:05Z'));
    files = Object.fromEntries(
      written.files.map((f) => [f.split('/').pop() as string, readFileSync(f, 'utf8')]),
    );
  });

  it('writes results.csv with one row per run and the documented columns', () => {
    const rows = parse(files['results.csv'] as string, { columns: true }) as Array<Record<string, string>>;
    expect(Object.keys(rows[0] ?? {})).toEqual([...resultsColumns]);
    expect(rows).toHaveLength(9);
    const failed = rows.filter((r) => r.status === 'FAILED');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.error).toContain('fixture failure');
    const reptile0 = rows.find((r) => r.name === 'omniglot-5w1s/reptile' && r.seed === '0');
    const values = fixture.episodes.get(reptile0?.run_id as string);
    expect(Number(reptile0?.nontransductive)).toBeCloseTo(meanWithCi(values!.nontransductive).mean * 100, 3);
    expect(Number(reptile0?.transductive_ci95)).toBeCloseTo(meanWithCi(values!.transductive).ci95 * 100, 3);
    expect(reptile0).toMatchObject({
      metric: 'accuracy_pct',
      ways: '5',
      shots: '1',
      algorithm: 'reptile',
      meta_iters: '100',
      episodes: '200',
      commit: 'fixture0000',
    });
  });

  it('writes summary.csv with CIs over all episodes of all seeds and across seeds', () => {
    const rows = parse(files['summary.csv'] as string, { columns: true }) as Array<Record<string, string>>;
    expect(Object.keys(rows[0] ?? {})).toEqual([...summaryColumns]);
    expect(rows.map((r) => r.name)).toEqual([
      'omniglot-5w1s/reptile',
      'omniglot-5w1s/sgd-scratch',
      'sine/reptile',
    ]);
    const reptile = rows[0] as Record<string, string>;
    const runIds = fixture.plan.runs.filter((r) => r.name === 'omniglot-5w1s/reptile').map((r) => r.runId);
    const all = runIds.flatMap((id) => fixture.episodes.get(id)!.nontransductive);
    const perSeed = runIds.map((id) => meanWithCi(fixture.episodes.get(id)!.nontransductive).mean);
    expect(Number(reptile.nontransductive)).toBeCloseTo(meanWithCi(all).mean * 100, 3);
    expect(Number(reptile.nontransductive_ci95)).toBeCloseTo(meanWithCi(all).ci95 * 100, 3);
    expect(Number(reptile.nontransductive_seed_ci95)).toBeCloseTo(meanWithCi(perSeed).ci95 * 100, 3);
    expect(reptile).toMatchObject({
      seeds: '3',
      episodes: '600',
      paper_nontransductive: '95.39',
      paper_transductive: '97.68',
      train_seconds: '51',
      unfinished_runs: '0',
    });
    expect(rows[1]?.paper_nontransductive).toBe('');
    const sine = rows[2] as Record<string, string>;
    expect(sine).toMatchObject({ metric: 'mse', seeds: '2', unfinished_runs: '1', episodes: '400' });
  });

  it('writes report.md with tables per setting, the paper column and failures', () => {
    const md = files['report.md'] as string;
    const summaries = summarizeConfigs([]);
    expect(summaries).toEqual([]);
    expect(md).toContain('# Sweep `fixture`');
    expect(md).toContain('Runs up to 2025-01-02T03:04:05.000Z');
    expect(md).toMatch(/## omniglot-5w1s: Omniglot 5-way 1-shot \(paper split\)/);
    expect(md).toContain(
      '| configuration | algorithm | seeds | non-transductive | transductive | paper (non-tr. / tr.) |',
    );
    expect(md).toMatch(
      /\| omniglot-5w1s\/reptile \| reptile \| 3 \| \d+\.\d\d ± \d\.\d\d \| \d+\.\d\d ± \d\.\d\d \| 95\.39 \/ 97\.68 \|/,
    );
    expect(md).toContain('| sine/reptile | reptile | 2 (+1 unfinished) |');
    expect(md).toContain('## Runs that did not finish');
    expect(md).toMatch(
      /\| fixture-[0-9a-f]{12}-s2 \| sine\/reptile \| 2 \| FAILED \| Error: fixture failure \|/,
    );
  });

  it('averages learning curves over seeds, on an axis of training examples processed', async () => {
    const summaries = summarizeConfigs(await openRunStore(fixture.dir).listRuns({ sweep: 'fixture' }));
    const curves = learningCurves(summaries);
    const reptile = curves.filter((p) => p.config === 'omniglot-5w1s/reptile');
    // every 25 of 100 meta-iterations; 5 tasks × 5 inner steps × 10 examples = 250 examples per iteration
    expect(reptile.map((p) => [p.iteration, p.examples])).toEqual([
      [25, 6250],
      [50, 12500],
      [75, 18750],
      [100, 25000],
    ]);
    // fixture curve: accuracy 0.2 + 0.7 · progress, the same for every seed; seconds = 0.5 · step
    expect(reptile.map((p) => p.value)).toEqual(
      [0.375, 0.55, 0.725, 0.9].map((v) => expect.closeTo(v * 100, 10)),
    );
    expect(reptile.map((p) => p.seconds)).toEqual([12.5, 25, 37.5, 50]);
    expect(curves.some((p) => p.config === 'omniglot-5w1s/sgd-scratch')).toBe(false);
  });

  it('writes a self-contained report.html with the tables and SVG charts', () => {
    const html = files['report.html'] as string;
    expect(html).not.toMatch(/<script|<link|src=|href="http/i);
    expect(html).toContain('<table>');
    const charts = [
      ...html.matchAll(/<figure class="chart" data-chart="([a-z-]+)" data-setting="([^"]+)"[^>]*>\s*<svg/g),
    ].map((m) => `${m[2]}:${m[1]}`);
    expect(charts).toEqual([
      'omniglot-5w1s:learning-curve',
      'omniglot-5w1s:accuracy-vs-time',
      'omniglot-5w1s:final',
      'sine:learning-curve',
      'sine:accuracy-vs-time',
      'sine:final',
    ]);
  });

  it('regenerates the same files with `reptile-bench report`', async () => {
    const { regenerateReports } = await import('../src/actions/report.ts');
    const dirs = await regenerateReports(['fixture'], fixture.dir);
    expect(dirs).toEqual([join(fixture.dir, 'fixture')]);
    // Regenerating twice from the same store gives byte-identical files (the date is the latest run's end).
    const first = readFileSync(join(fixture.dir, 'fixture', 'report.html'), 'utf8');
    expect(readFileSync(join(fixture.dir, 'fixture', 'summary.csv'), 'utf8')).toBe(files['summary.csv']);
    await regenerateReports(['fixture'], fixture.dir);
    expect(readFileSync(join(fixture.dir, 'fixture', 'report.html'), 'utf8')).toBe(first);
  });
});

describe('the paper-reproduction table', () => {
  it("lists Reptile at the paper's budget only, with the published numbers and the difference", async () => {
    const fixture = await writeFixtureStore();
    const runs = await openRunStore(fixture.dir).listRuns({ sweep: 'fixture' });
    const summaries = summarizeConfigs(runs);
    // 100 meta-iterations: not the paper's 100k, so no table.
    expect(paperReproductionTable(summaries)).toBeUndefined();
    const atScale = summaries.map((s) => ({
      ...s,
      config: { ...s.config, algorithm: { ...s.config.algorithm, meta_iters: 100_000 } },
    })) as typeof summaries;
    const table = paperReproductionTable(atScale);
    expect(table?.rows).toHaveLength(1);
    const row = Object.fromEntries((table?.headers ?? []).map((h, i) => [`${h}#${i}`, table?.rows[0]?.[i]]));
    // By hand: every test episode of the three seeds pooled, in percent, minus the published 95.39 / 97.68.
    const ids = runs.filter((r) => r.meta.name === 'omniglot-5w1s/reptile').map((r) => r.meta.runId);
    const pooled = (mode: 'nontransductive' | 'transductive') =>
      meanWithCi(ids.flatMap((id) => fixture.episodes.get(id)?.[mode] ?? []));
    const nt = pooled('nontransductive');
    const t = pooled('transductive');
    const signed = (d: number) => `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(2)}`;
    expect(row).toMatchObject({
      'setting#0': 'omniglot-5w1s',
      'configuration#1': 'omniglot-5w1s/reptile',
      'seeds#2': '3',
      'meta-iterations#3': '100,000',
      'test episodes#4': '600',
      'ours, non-transductive (%)#5': `${(100 * nt.mean).toFixed(2)} ± ${(100 * nt.ci95).toFixed(2)}`,
      'paper#6': '95.39',
      'difference (points)#7': signed(100 * nt.mean - 95.39),
      'ours, transductive (%)#8': `${(100 * t.mean).toFixed(2)} ± ${(100 * t.ci95).toFixed(2)}`,
      'paper#9': '97.68',
      'difference (points)#10': signed(100 * t.mean - 97.68),
    });
  });

  it('puts joint pretraining of the same setting beside it, its budget also in Reptile meta-iterations', async () => {
    const fixture = await writeFixtureStore();
    const runs = await openRunStore(fixture.dir).listRuns({ sweep: 'fixture' });
    const summaries = summarizeConfigs(runs);
    // The fixture's sgd-scratch configuration stands in for joint pretraining of 2,000 iterations on batches of 50.
    const asPretraining = (s: (typeof summaries)[number]) =>
      s.config.algorithm.name === 'sgd-scratch'
        ? {
            ...s,
            config: {
              ...s.config,
              algorithm: { name: 'sgd-pretrain', train_iters: 2000, train_batch: 50, learning_rate: 0.001 },
            },
          }
        : s;
    const withPretraining = summaries.map(asPretraining) as typeof summaries;
    // No Reptile at the paper's budget: nothing to put it beside.
    expect(pretrainingBesideTable(withPretraining)).toBeUndefined();
    const atScale = withPretraining.map((s) =>
      s.config.algorithm.name === 'reptile'
        ? { ...s, config: { ...s.config, algorithm: { ...s.config.algorithm, meta_iters: 100_000 } } }
        : s,
    ) as typeof summaries;
    const table = pretrainingBesideTable(atScale);
    expect(table?.rows).toHaveLength(1);
    const row = Object.fromEntries((table?.headers ?? []).map((h, i) => [`${h}#${i}`, table?.rows[0]?.[i]]));
    const pooled = (name: string, mode: 'nontransductive' | 'transductive') =>
      meanWithCi(
        runs
          .filter((r) => r.meta.name === name)
          .flatMap((r) => fixture.episodes.get(r.meta.runId)?.[mode] ?? []),
      );
    const nt = pooled('omniglot-5w1s/sgd-scratch', 'nontransductive');
    const vs = 100 * (nt.mean - pooled('omniglot-5w1s/reptile', 'nontransductive').mean);
    expect(row).toMatchObject({
      'setting#0': 'omniglot-5w1s',
      'configuration#1': 'omniglot-5w1s/sgd-scratch',
      'training iterations#3': '2,000',
      // 2,000 × 50 examples; a meta-iteration of the fixture's Reptile trains on 5 × 5 × 10 = 250.
      'training examples#4': '100,000',
      'as Reptile meta-iterations#5': '400',
      'non-transductive (%)#7': `${(100 * nt.mean).toFixed(2)} ± ${(100 * nt.ci95).toFixed(2)}`,
      'against Reptile above (points)#8': `${vs >= 0 ? '+' : '−'}${Math.abs(vs).toFixed(2)}`,
    });
  });
});
