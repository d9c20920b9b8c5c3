import { describe, expect, it } from 'vitest';
import { configHash, createRng, meanWithCi, stableStringify } from '../src/index.ts';

describe('createRng', () => {
  it('replays the same stream for the same seed and differs across seeds', () => {
    const a = createRng(7);
    const b = createRng(7);
    const c = createRng(8);
    const xs = Array.from({ length: 5 }, () => a.float());
    expect(Array.from({ length: 5 }, () => b.float())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.float())).not.toEqual(xs);
  });

  it('derives streams from labels independently of consumption', () => {
    const root = createRng(1);
    const first = root.derive('task', 3).float();
    root.float();
    root.float();
    expect(root.derive('task', 3).float()).toBe(first);
    expect(root.derive('task', 4).float()).not.toBe(first);
  });

  it('samples without replacement: distinct, in range, roughly uniform', () => {
    const rng = createRng(3);
    const counts = new Array(10).fill(0);
    for (let t = 0; t < 2000; t++) {
      const pick = rng.sampleWithoutReplacement(10, 4);
      expect(new Set(pick).size).toBe(4);
      for (const p of pick) counts[p]++;
    }
    // each index is picked with probability 0.4 → 800 expected, σ ≈ 22
    for (const c of counts) expect(Math.abs(c - 800)).toBeLessThan(120);
    expect(() => rng.sampleWithoutReplacement(3, 4)).toThrow(/4 distinct items from 3/);
  });

  it('normal draws have mean 0 and variance 1', () => {
    const rng = createRng(11);
    const xs = Array.from({ length: 20000 }, () => rng.normal());
    const { mean, std } = meanWithCi(xs);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
  });

  it('shuffles into a permutation', () => {
    const items = createRng(5).shuffle([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...items].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(items).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('hashing', () => {
  it('ignores key order and sees every value', () => {
    expect(stableStringify({ b: 1, a: { d: [1, 2], c: null } })).toBe('{"a":{"c":null,"d":[1,2]},"b":1}');
    expect(configHash({ a: 1, b: 2 })).toBe(configHash({ b: 2, a: 1 }));
    expect(configHash({ a: 1, b: 2 })).not.toBe(configHash({ a: 1, b: 3 }));
    expect(configHash({ a: 1 })).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('meanWithCi', () => {
  it('computes 1.96·s/√n by hand', () => {
    // values 1..4: mean 2.5, sample variance 5/3
    const r = meanWithCi([1, 2, 3, 4]);
    expect(r.mean).toBe(2.5);
    expect(r.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(r.ci95).toBeCloseTo((1.96 * Math.sqrt(5 / 3)) / 2, 12);
  });
  it('rejects empty input', () => {
    expect(() => meanWithCi([])).toThrow(/no values/);
  });
});
