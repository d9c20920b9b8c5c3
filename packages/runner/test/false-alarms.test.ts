import { describe, expect, it } from 'vitest';
import { binomialUpper, estimateFalseAlarms, type NullCheck, predictiveBelow } from '../src/index.ts';

/** P(X ≤ k) for X ~ Binomial(n, p), summed directly. */
function binomialCdf(k: number, n: number, p: number): number {
  let total = 0;
  let term = (1 - p) ** n;
  for (let i = 0; i <= k; i++) {
    total += term;
    term *= ((n - i) / (i + 1)) * (p / (1 - p));
  }
  return total;
}

describe('binomialUpper', () => {
  it('is 1 − 0.05^(1/n) with no event', () => {
    expect(binomialUpper(0, 20)).toBeCloseTo(1 - 0.05 ** (1 / 20), 10);
    expect(binomialUpper(0, 20)).toBeCloseTo(0.1391, 4);
  });
  it('is the rate at which k or fewer events have probability 5 %', () => {
    for (const [k, n] of [
      [1, 10],
      [3, 40],
    ] as const) {
      const upper = binomialUpper(k, n);
      expect(binomialCdf(k, n, upper)).toBeCloseTo(0.05, 8);
    }
  });
  it('is 1 when every trial is an event or there is none', () => {
    expect(binomialUpper(4, 4)).toBe(1);
    expect(binomialUpper(0, 0)).toBe(1);
  });
});

describe('predictiveBelow', () => {
  it('matches the closed form of Student t with 2 degrees of freedom', () => {
    // mean 0, SD 1, n = 3: t = −2 / √(4/3) = −√3; F₂(t) = 1/2 + t / (2 √(2 + t²)) = 1/2 − √3 / (2 √5).
    expect(predictiveBelow([-1, 0, 1], -2)).toBeCloseTo(0.5 - Math.sqrt(3) / (2 * Math.sqrt(5)), 10);
  });
  it('is shifted by the mean', () => {
    expect(predictiveBelow([9, 10, 11], 8)).toBeCloseTo(predictiveBelow([-1, 0, 1], -2), 12);
  });
  it('is not a number from fewer than two values', () => {
    expect(predictiveBelow([1], 0)).toBeNaN();
  });
});

describe('estimateFalseAlarms', () => {
  const row = (metric: string, change: number, tolerance = 0.02) => ({
    config: 'omniglot/reptile',
    metric,
    kind: 'accuracy' as const,
    change,
    tolerance,
    status: change < -tolerance ? ('regressed' as const) : ('ok' as const),
  });
  const checks: NullCheck[] = [
    { trainingSeed: 100, passed: true, rows: [row('a', -0.01), row('b', 0.001, 0.002)] },
    { trainingSeed: 101, passed: true, rows: [row('a', 0), row('b', 0.0, 0.002)] },
    { trainingSeed: 102, passed: false, rows: [row('a', 0.01), row('b', -0.003, 0.002)] },
    { trainingSeed: 103, passed: true, rows: [row('a', Number.NaN), row('b', 0.002, 0.002)] },
  ];
  const estimate = estimateFalseAlarms(checks);

  it('counts the failed checks and bounds the rate from the count', () => {
    expect(estimate.checks).toBe(4);
    expect(estimate.falseAlarms).toBe(1);
    expect(estimate.countedUpper95).toBeCloseTo(binomialUpper(1, 4), 12);
  });
  it('estimates each metric from its finite changes and sums the tails', () => {
    const a = estimate.metrics.find((m) => m.metric === 'a')!;
    expect(a.checks).toBe(3);
    expect(a.mean).toBeCloseTo(0, 12);
    expect(a.sd).toBeCloseTo(0.01, 12);
    expect(a.failProbability).toBeCloseTo(predictiveBelow([-1, 0, 1], -2), 10);
    const b = estimate.metrics.find((m) => m.metric === 'b')!;
    expect(b.checks).toBe(4);
    expect(b.failProbability).toBeCloseTo(predictiveBelow([0.001, 0, -0.003, 0.002], -0.002), 12);
    expect(estimate.estimatedRate).toBeCloseTo(a.failProbability + b.failProbability, 12);
  });
  it("models the check's own statistic: the largest loss relative to the tolerance", () => {
    // Per check: max(0.5, −0.5) = 0.5, max(0, 0) = 0, max(−0.5, 1.5) = 1.5, and a NaN change fails outright.
    expect(estimate.closest.map((v) => v + 0)).toEqual([0.5, 0, 1.5, Number.POSITIVE_INFINITY]);
    expect(estimate.closestRate).toBeNaN();
    const finite = estimateFalseAlarms(checks.slice(0, 3));
    expect(finite.closestRate).toBeCloseTo(predictiveBelow([-0.5, 0, -1.5], -1), 12);
  });
  it('counts once metrics that changed alike in every check (they fail together)', () => {
    const twins = estimateFalseAlarms(
      [-0.01, 0, 0.01].map((change, i) => ({
        trainingSeed: 100 + i,
        passed: true,
        rows: [row('x_nontransductive', change), row('x_transductive', change), row('y', change / 2)],
      })),
    );
    const [x, xt, y] = twins.metrics;
    expect(xt?.sameAs).toBe('x_nontransductive');
    expect(x?.sameAs).toBeUndefined();
    expect(y?.sameAs).toBeUndefined();
    expect(twins.estimatedRate).toBeCloseTo((x?.failProbability ?? 0) + (y?.failProbability ?? 0), 12);
  });
});
