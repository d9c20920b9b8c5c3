import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@reptile-bench/core';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { describe, expect, it } from 'vitest';
import {
  type BaselineFile,
  buildBaseline,
  compareWithBaseline,
  episodesFileOf,
  formatCheckTable,
  type MetricScores,
  pairedChange,
  readBaseline,
  toleranceFloor,
  toleranceFor,
} from '../src/check.ts';

// The check's rule on hand-made per-episode scores: paired changes, tolerances from the null replicates' spread,
// and the verdicts just inside and just outside a tolerance.

const seeds = [0, 1, 2];
const episodes = 200;

/** Per-episode accuracies (fifths, as 5 queries give) of one configuration for each seed. */
function accuracyScores(config: string, shift: (seed: number, e: number) => number, salt = 0): MetricScores {
  return {
    config,
    configHash: `hash-${config}`,
    kind: 'accuracy',
    mode: 'nontransductive',
    seeds: seeds.map((seed) => {
      const rng = createRng(seed).derive('episodes', salt);
      return {
        seed,
        runId: `${config}-s${seed}-t${salt}`,
        episodes: Array.from({ length: episodes }, (_, e) =>
          Math.min(
            1,
            Math.max(0, Math.round(5 * (0.6 + 0.3 * (rng.uniform(0, 1) - 0.5))) / 5 + shift(seed, e)),
          ),
        ),
      };
    }),
  };
}

function mseScores(config: string, scale: number, salt = 0): MetricScores {
  return {
    config,
    configHash: `hash-${config}`,
    kind: 'mse',
    mode: 'transductive',
    seeds: seeds.map((seed) => {
      const rng = createRng(seed).derive('mse', salt);
      return {
        seed,
        runId: `${config}-s${seed}-t${salt}`,
        episodes: Array.from({ length: episodes }, () => scale * (1 + rng.uniform(0, 2))),
      };
    }),
  };
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

/** A baseline whose null replicates differ from it by exactly ±delta per seed (so null_sd = delta). */
function baselineWith(delta: number): { file: BaselineFile; base: MetricScores } {
  const base = accuracyScores('omniglot/reptile', () => 0);
  const plus = accuracyScores('omniglot/reptile', () => delta);
  const minus = accuracyScores('omniglot/reptile', () => -delta);
  // (rounding into [0, 1] aside, which these scores stay clear of)
  const file = buildBaseline('fixture', {
    sweep: 'fixture',
    commit: 'abc',
    backend: 'cpu',
    baseline: [base],
    replicates: [
      { trainingSeed: 1, metrics: [plus] },
      { trainingSeed: 2, metrics: [minus] },
    ],
    created: new Date(0),
  });
  return { file, base };
}

describe('paired changes', () => {
  it('accuracy: the mean difference on the same episodes; MSE: the log of the ratio, positive when it fell', () => {
    expect(pairedChange('accuracy', [1, 0.6, 0.8], [0.8, 0.6, 0.6])).toBeCloseTo((0.2 + 0 + 0.2) / 3, 15);
    expect(pairedChange('mse', [1.1, 2.2], [1, 2])).toBeCloseTo(Math.log(3 / 3.3), 15);
    expect(pairedChange('mse', [0.9, 1.8], [1, 2])).toBeGreaterThan(0);
    expect(pairedChange('accuracy', [Number.NaN, 1], [1, 1])).toBeNaN();
    expect(() => pairedChange('accuracy', [1], [1, 1])).toThrow(
      /1 candidate episodes against 2 baseline episodes/,
    );
  });
});

describe('tolerances from the null replicates', () => {
  it('null_sd is the RMS of the replicates’ paired changes; tolerance = t(1 − 0.05/metrics, df) · sd / √seeds', () => {
    const { file } = baselineWith(0.01);
    const m = file.metrics[0]!;
    expect(m.null_df).toBe(2 * seeds.length);
    expect(m.null_sd).toBeCloseTo(0.01, 12);
    expect(m.tolerance).toBeCloseTo((tQuantile(1 - 0.05 / 1, 6) * 0.01) / Math.sqrt(3), 12);
    expect(m.value).toBeCloseTo(mean(m.seeds.map((s) => s.mean)), 15);
    expect(file.tolerance_rule).toContain('t_q(df) · null_sd / √seeds');
    // Bonferroni over the metrics, and the floor when nothing varies.
    expect(toleranceFor('accuracy', 0.01, 6, 3, 14)).toBeCloseTo(
      (tQuantile(1 - 0.05 / 14, 6) * 0.01) / Math.sqrt(3),
      12,
    );
    expect(toleranceFor('accuracy', 0, 6, 3, 14)).toBe(toleranceFloor.accuracy);
    expect(toleranceFor('mse', 0, 0, 3, 14)).toBe(toleranceFloor.mse);
  });
});

describe('the verdict', () => {
  const { file, base } = baselineWith(0.01);
  const tolerance = file.metrics[0]!.tolerance;

  it('passes the baseline itself with a change of exactly 0', () => {
    const result = compareWithBaseline(file, [base]);
    expect(result.passed).toBe(true);
    expect(result.rows[0]).toMatchObject({ status: 'ok', change: 0 });
    expect(formatCheckTable(result)).toContain('check passed: 1 metric(s)');
  });

  it('a paired drop just inside the tolerance passes, just outside fails', () => {
    const inside = accuracyScores('omniglot/reptile', () => -0.98 * tolerance);
    const outside = accuracyScores('omniglot/reptile', () => -1.02 * tolerance);
    expect(compareWithBaseline(file, [inside]).rows[0]?.status).toBe('ok');
    const failed = compareWithBaseline(file, [outside]);
    expect(failed.passed).toBe(false);
    expect(failed.rows[0]?.status).toBe('regressed');
    expect(failed.rows[0]?.change).toBeCloseTo(-1.02 * tolerance, 12);
    expect(formatCheckTable(failed)).toMatch(
      /\| REGRESSED \| omniglot\/reptile \| accuracy_nontransductive \| \d+\.\d\d \| \d+\.\d\d \| −\d+\.\d\d \| \d+\.\d\d \|/,
    );
    // The same drop on one seed only is a third of it on average.
    const oneSeed = accuracyScores('omniglot/reptile', (seed) => (seed === 0 ? -1.02 * tolerance : 0));
    expect(compareWithBaseline(file, [oneSeed]).rows[0]?.status).toBe('ok');
  });

  it('a paired rise beyond the tolerance is an improvement (and passes)', () => {
    const improved = accuracyScores('omniglot/reptile', () => 1.5 * tolerance);
    const result = compareWithBaseline(file, [improved]);
    expect(result.rows[0]?.status).toBe('improved');
    expect(result.passed).toBe(true);
  });

  it('a NaN score is a regression, a missing seed or configuration fails, an extra one is new', () => {
    const nan = accuracyScores('omniglot/reptile', (seed, e) => (seed === 1 && e === 7 ? Number.NaN : 0));
    const result = compareWithBaseline(file, [nan]);
    expect(result.rows[0]).toMatchObject({
      status: 'regressed',
      note: expect.stringContaining('not a number'),
    });
    const partial = { ...base, seeds: base.seeds.slice(0, 2) };
    expect(compareWithBaseline(file, [partial]).rows[0]).toMatchObject({
      status: 'missing',
      note: expect.stringContaining('seed(s) 2'),
    });
    const none = compareWithBaseline(file, []);
    expect(none.missing).toBe(1);
    expect(none.passed).toBe(false);
    const extra = compareWithBaseline(file, [base, mseScores('sine/reptile', 2)]);
    expect(extra.passed).toBe(true);
    expect(extra.rows[1]).toMatchObject({ status: 'new' });
  });

  it('MSE: a relative rise beyond the tolerance fails, and the table shows it in percent', () => {
    const mseBase = mseScores('sine/maml', 1);
    const mseFile = buildBaseline('fixture', {
      sweep: 'fixture',
      commit: 'abc',
      backend: 'cpu',
      baseline: [mseBase],
      replicates: [
        { trainingSeed: 1, metrics: [mseScores('sine/maml', 1.01)] },
        { trainingSeed: 2, metrics: [mseScores('sine/maml', 0.99)] },
      ],
    });
    const worse = compareWithBaseline(mseFile, [mseScores('sine/maml', 1.1)]);
    expect(worse.rows[0]?.status).toBe('regressed');
    expect(formatCheckTable(worse)).toMatch(
      /\| sine\/maml \| mse_transductive \| .* \| −10\.00% \| \d+\.\d\d% \|/,
    );
    expect(compareWithBaseline(mseFile, [mseScores('sine/maml', 1.001)]).rows[0]?.status).toBe('ok');
  });
});

describe('baseline files', () => {
  it('rejects a file that is missing, corrupt, of another format, or without its episodes, saying how to fix it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-baseline-'));
    await expect(readBaseline(join(dir, 'none.json'))).rejects.toThrow(
      /no baseline yet; create it with `reptile-bench check --update-baseline`/,
    );
    writeFileSync(join(dir, 'bad.json'), '{"format": ');
    await expect(readBaseline(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json: not valid JSON/);
    writeFileSync(join(dir, 'other.json'), '{"format": "x", "version": 1, "metrics": []}');
    await expect(readBaseline(join(dir, 'other.json'))).rejects.toThrow(
      /not a reptile-bench\/baseline v2 file/,
    );
    const { file } = baselineWith(0.01);
    const { episodes, ...readable } = file;
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(readable));
    await expect(readBaseline(good)).rejects.toThrow(/good\.episodes\.json: no baseline yet/);
    writeFileSync(episodesFileOf(good), JSON.stringify(episodes));
    expect((await readBaseline(good)).metrics).toHaveLength(1);
    writeFileSync(episodesFileOf(good), JSON.stringify({}));
    await expect(readBaseline(good)).rejects.toThrow(
      /needs 200 nontransductive scores for omniglot\/reptile/,
    );
    (readable.metrics[0] as { tolerance: unknown }).tolerance = 'wide';
    writeFileSync(join(dir, 'field.json'), JSON.stringify(readable));
    await expect(readBaseline(join(dir, 'field.json'))).rejects.toThrow(
      /metrics\[0\]\.tolerance must be a finite number, got "wide"/,
    );
  });
});
