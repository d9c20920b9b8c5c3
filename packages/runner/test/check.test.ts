import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRunStore } from '@reptile-bench/tracking';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildBaseline,
  compareWithBaseline,
  formatCheckTable,
  readBaseline,
  toleranceFor,
} from '../src/check.ts';
import { type ConfigSummary, summarizeConfigs } from '../src/report/aggregate.ts';
import { writeFixtureStore } from './fixtures.ts';

async function summariesOf(dir: string): Promise<ConfigSummary[]> {
  return summarizeConfigs(await openRunStore(dir).listRuns({ sweep: 'fixture' }));
}

describe('regression check', () => {
  let baselineSummaries: ConfigSummary[];
  let degradedSummaries: ConfigSummary[];
  beforeAll(async () => {
    baselineSummaries = await summariesOf((await writeFixtureStore()).dir);
    // Reptile on Omniglot loses about 6 points, far outside its CI; MSE rises 30%.
    degradedSummaries = await summariesOf((await writeFixtureStore({ shift: 0.06 })).dir);
  });

  it('derives each tolerance from the baseline CI with a floor', () => {
    const baseline = buildBaseline('fixture', baselineSummaries, { created: new Date(0) });
    expect(baseline.metrics).toHaveLength(6);
    for (const m of baseline.metrics) {
      const summary = baselineSummaries.find((s) => s.name === m.config) as ConfigSummary;
      const pooled = summary.modes[m.mode]?.pooled;
      expect(m.value).toBe(pooled?.mean);
      expect(m.tolerance).toBe(Math.max(pooled?.ci95 ?? 0, m.kind === 'accuracy' ? 0.005 : 0.02 * m.value));
      expect(m.better).toBe(m.kind === 'accuracy' ? 'higher' : 'lower');
    }
    expect(toleranceFor('accuracy', 0.9, 0.001)).toBe(0.005);
    expect(toleranceFor('accuracy', 0.9, 0.03)).toBe(0.03);
    expect(toleranceFor('mse', 0.5, 0)).toBeCloseTo(0.01, 12);
    expect(baseline.tolerance_rule).toContain('max(ci95');
  });

  it('passes when the results are the baseline', () => {
    const result = compareWithBaseline(buildBaseline('fixture', baselineSummaries), baselineSummaries);
    expect(result.passed).toBe(true);
    expect(result.rows.map((r) => r.status)).toEqual(Array(6).fill('ok'));
    expect(result.rows.every((r) => r.gain === 0)).toBe(true);
    expect(formatCheckTable(result)).toContain('check passed: 6 metric(s)');
  });

  it('fails on a degraded run store and names what regressed by how much', () => {
    const result = compareWithBaseline(buildBaseline('fixture', baselineSummaries), degradedSummaries);
    expect(result.passed).toBe(false);
    const regressed = result.rows
      .filter((r) => r.status === 'regressed')
      .map((r) => `${r.config} ${r.metric}`);
    expect(regressed).toContain('omniglot-5w1s/reptile accuracy_nontransductive');
    expect(regressed).toContain('sine/reptile mse_nontransductive');
    const reptile = result.rows.find(
      (r) => r.config === 'omniglot-5w1s/reptile' && r.metric === 'accuracy_nontransductive',
    );
    expect(reptile?.gain).toBeLessThan(-(reptile?.tolerance ?? 0));
    expect(reptile?.gain).toBeCloseTo((reptile?.current ?? 0) - (reptile?.baseline ?? 0), 12);
    const table = formatCheckTable(result);
    expect(table).toMatch(
      /\| REGRESSED \| omniglot-5w1s\/reptile \| accuracy_nontransductive \| \d+\.\d\d \| \d+\.\d\d \| −\d+\.\d\d \| \d\.\d\d \|/,
    );
    expect(table).toContain(`check FAILED: ${result.regressions} regression(s), 0 missing metric(s)`);
  });

  it('counts an improvement as passing, and a metric missing from the results as failing', () => {
    const improved = compareWithBaseline(buildBaseline('fixture', degradedSummaries), baselineSummaries);
    expect(improved.passed).toBe(true);
    expect(improved.rows.some((r) => r.status === 'improved')).toBe(true);
    const partial = compareWithBaseline(
      buildBaseline('fixture', baselineSummaries),
      baselineSummaries.filter((s) => s.name !== 'sine/reptile'),
    );
    expect(partial.passed).toBe(false);
    expect(partial.missing).toBe(2);
  });

  it('rejects a baseline file that is missing, corrupt or of another format, saying how to fix it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-baseline-'));
    await expect(readBaseline(join(dir, 'none.json'))).rejects.toThrow(
      /no baseline yet; create it with `reptile-bench check --update-baseline`/,
    );
    writeFileSync(join(dir, 'bad.json'), '{"format": ');
    await expect(readBaseline(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json: not valid JSON/);
    writeFileSync(join(dir, 'other.json'), '{"format": "x", "version": 1, "metrics": []}');
    await expect(readBaseline(join(dir, 'other.json'))).rejects.toThrow(
      /not a reptile-bench\/baseline v1 file/,
    );
    const good = buildBaseline('fixture', baselineSummaries);
    (good.metrics[0] as { tolerance: unknown }).tolerance = 'wide';
    writeFileSync(join(dir, 'field.json'), JSON.stringify(good));
    await expect(readBaseline(join(dir, 'field.json'))).rejects.toThrow(
      /metrics\[0\]\.tolerance must be a finite number, got "wide"/,
    );
  });
});
