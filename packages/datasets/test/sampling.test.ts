import { createRng } from '@reptile-bench/core';
import { describe, expect, it } from 'vitest';
import {
  type Batch,
  classSetFromImages,
  concatBatches,
  dataChecksum,
  fewShotSampler,
  holdOutPerClass,
  miniBatches,
  SINE_DISTRIBUTION,
  sineBatch,
  sineGrid,
  sineSampler,
} from '../src/index.ts';

/** A set whose every pixel encodes (class, image) so tests can read back what was sampled. */
function codedSet(classes: number, perClass: number, shape: [number, number, number] = [2, 2, 1]) {
  const pixels = shape[0] * shape[1] * shape[2];
  return classSetFromImages(
    shape,
    Array.from({ length: classes }, (_, c) =>
      Array.from({ length: perClass }, (_, i) => new Float32Array(pixels).fill(c * 1000 + i)),
    ),
  );
}

function decode(batch: Batch, pixels: number): Array<{ c: number; i: number; label: number }> {
  return Array.from({ length: batch.size }, (_, r) => {
    const v = batch.x[r * pixels] as number;
    for (let p = 1; p < pixels; p++) expect(batch.x[r * pixels + p]).toBe(v);
    return { c: Math.floor(v / 1000), i: v % 1000, label: batch.y[r] as number };
  });
}

describe('fewShotSampler', () => {
  it('draws N-way K-shot support and query sets with consistent labels and no shared images', () => {
    const set = codedSet(30, 20);
    const sampler = fewShotSampler(set, { ways: 5, shots: 3, queryShots: 2 });
    expect(sampler.task).toBe('classification');
    expect(sampler.inputShape).toEqual([2, 2, 1]);
    expect(sampler.outputSize).toBe(5);
    const { support, query } = sampler.sample(createRng(1));
    expect(support.size).toBe(15);
    expect(query.size).toBe(10);
    expect(support.x.length).toBe(15 * 4);
    expect(support.y).toBeInstanceOf(Int32Array);
    const s = decode(support, 4);
    const q = decode(query, 4);
    // Labels ordered 0..4, shots per label; each label maps to exactly one class, the same in both sets.
    expect(s.map((e) => e.label)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    expect(q.map((e) => e.label)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    const classOf = new Map<number, number>();
    for (const e of [...s, ...q]) {
      if (!classOf.has(e.label)) classOf.set(e.label, e.c);
      expect(classOf.get(e.label)).toBe(e.c);
    }
    expect(new Set(classOf.values()).size).toBe(5);
    for (let label = 0; label < 5; label++) {
      const images = [...s, ...q].filter((e) => e.label === label).map((e) => e.i);
      expect(new Set(images).size).toBe(5);
    }
  });

  it('is fully determined by the stream and differs between streams', () => {
    const sampler = fewShotSampler(codedSet(30, 20), { ways: 5, shots: 1 });
    const a = sampler.sample(createRng(7).derive('task', 0));
    const b = sampler.sample(createRng(7).derive('task', 0));
    const c = sampler.sample(createRng(7).derive('task', 1));
    expect(a.support.x).toEqual(b.support.x);
    expect(a.query.x).toEqual(b.query.x);
    expect(a.support.x).not.toEqual(c.support.x);
  });

  it('relabels classes in a random order per task and covers every class over many tasks', () => {
    const set = codedSet(10, 5);
    const sampler = fewShotSampler(set, { ways: 2, shots: 1, queryShots: 0 });
    const firstLabelClass = new Map<number, number>();
    const rng = createRng(3);
    for (let t = 0; t < 400; t++) {
      const [e] = decode(sampler.sample(rng).support, 4);
      firstLabelClass.set(e!.c, (firstLabelClass.get(e!.c) ?? 0) + 1);
    }
    // Label 0 lands on every class, roughly uniformly (400 draws / 10 classes = 40 each).
    expect(firstLabelClass.size).toBe(10);
    for (const n of firstLabelClass.values()) expect(n).toBeGreaterThan(15);
  });

  it('samples with replacement when asked, allowing more draws than images', () => {
    const set = codedSet(3, 2);
    expect(() => fewShotSampler(set, { ways: 3, shots: 2, queryShots: 1 })).toThrow(/class 0 has 2 images/);
    const sampler = fewShotSampler(set, { ways: 3, shots: 5, queryShots: 1, replacement: true });
    const { support } = sampler.sample(createRng(0));
    const s = decode(support, 4);
    expect(s.length).toBe(15);
    // 5 draws from 2 images: a repeat is certain.
    const images = s.filter((e) => e.label === 0).map((e) => e.i);
    expect(new Set(images).size).toBeLessThan(images.length);
  });

  it('gives an empty query for queryShots 0 and rejects impossible settings', () => {
    const set = codedSet(4, 3);
    const { query } = fewShotSampler(set, { ways: 4, shots: 3, queryShots: 0 }).sample(createRng(0));
    expect(query.size).toBe(0);
    expect(query.x.length).toBe(0);
    expect(() => fewShotSampler(set, { ways: 5, shots: 1 })).toThrow(
      /5 ways requested but the set has only 4/,
    );
    expect(() => fewShotSampler(set, { ways: 0, shots: 1 })).toThrow(/ways must be a positive integer/);
  });
});

describe('miniBatches', () => {
  const batch: Batch = {
    x: Float32Array.from({ length: 10 }, (_, i) => i),
    y: Int32Array.from({ length: 10 }, (_, i) => i % 5),
    size: 10,
    inputShape: [1],
  };

  it('without replacement deals out every example once per pass, carrying a partial batch across passes', () => {
    const batches = miniBatches(batch, 4, 5, { replacement: false }, createRng(2));
    expect(batches).toHaveLength(5);
    const seen = batches.flatMap((b) => Array.from(b.x));
    expect(seen).toHaveLength(20);
    // Two full passes: the first 10 and the next 10 are each a permutation of 0..9.
    expect([...seen.slice(0, 10)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...seen.slice(10, 20)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const b of batches) {
      expect(b.size).toBe(4);
      for (let r = 0; r < 4; r++) expect(b.y[r]).toBe((b.x[r] as number) % 5);
    }
  });

  it('with replacement draws independent batches of distinct examples', () => {
    const batches = miniBatches(batch, 10, 3, { replacement: true }, createRng(2));
    for (const b of batches) expect([...b.x].sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(batches[0]!.x).not.toEqual(batches[1]!.x);
    expect(() => miniBatches(batch, 11, 1, { replacement: true }, createRng(2))).toThrow(
      /exceeds the 10 examples/,
    );
  });

  it('is determined by the stream', () => {
    const a = miniBatches(batch, 3, 4, { replacement: false }, createRng(5));
    const b = miniBatches(batch, 3, 4, { replacement: false }, createRng(5));
    expect(a.map((m) => [...m.x])).toEqual(b.map((m) => [...m.x]));
  });

  it('holds out the first examples of every label and concatenates batches back', () => {
    const { rest, heldOut } = holdOutPerClass(batch, 1);
    expect([...heldOut.x]).toEqual([0, 1, 2, 3, 4]);
    expect([...heldOut.y]).toEqual([0, 1, 2, 3, 4]);
    expect([...rest.x]).toEqual([5, 6, 7, 8, 9]);
    expect(() => holdOutPerClass(batch, 3)).toThrow(/fewer than the 3/);
    const joined = concatBatches([rest, heldOut]);
    expect(joined.size).toBe(10);
    expect([...joined.y]).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  });
});

describe('sine tasks', () => {
  it('draws tasks and inputs from the stated ranges and computes y = a·sin(x + b)', () => {
    const sampler = sineSampler({ shots: 10, queryShots: 5 });
    expect(sampler.inputShape).toEqual([1]);
    expect(sampler.outputSize).toBe(1);
    const rng = createRng(11);
    const amplitudes: number[] = [];
    const phases: number[] = [];
    let worst = 0;
    for (let t = 0; t < 1000; t++) {
      const { task, support, query } = sampler.sample(rng);
      amplitudes.push(task.amplitude);
      phases.push(task.phase);
      expect(support.size).toBe(10);
      expect(query.size).toBe(5);
      for (const b of [support, query]) {
        expect(b.y).toBeInstanceOf(Float32Array);
        expect(Math.min(...b.x)).toBeGreaterThanOrEqual(-5);
        expect(Math.max(...b.x)).toBeLessThan(5);
        for (let i = 0; i < b.size; i++) {
          const x = b.x[i] as number;
          worst = Math.max(worst, Math.abs((b.y[i] as number) - task.amplitude * Math.sin(x + task.phase)));
        }
      }
    }
    expect(worst).toBeLessThan(1e-6);
    const [aLo, aHi] = SINE_DISTRIBUTION.amplitude;
    expect(Math.min(...amplitudes)).toBeGreaterThanOrEqual(aLo);
    expect(Math.max(...amplitudes)).toBeLessThan(aHi);
    // Uniform: the mean sits near the middle of the range (σ of the mean ≈ 1.41/√1000 ≈ 0.045).
    const mean = (v: number[]) => v.reduce((s, a) => s + a, 0) / v.length;
    expect(Math.abs(mean(amplitudes) - (aLo + aHi) / 2)).toBeLessThan(0.2);
    expect(Math.max(...phases)).toBeLessThan(2 * Math.PI);
    expect(Math.abs(mean(phases) - Math.PI)).toBeLessThan(0.25);
  });

  it('matches a hand-computed task and offers a fixed grid for plotting', () => {
    const grid = sineGrid(11);
    expect([...grid]).toEqual([-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5]);
    const b = sineBatch({ amplitude: 2, phase: Math.PI / 2 }, grid);
    // 2·sin(x + π/2) = 2·cos(x)
    for (let i = 0; i < 11; i++) expect(b.y[i]).toBeCloseTo(2 * Math.cos(grid[i] as number), 5);
    const sampler = sineSampler({ shots: 10, queryGrid: 50 });
    const e = sampler.sample(createRng(1));
    expect(e.query.size).toBe(50);
    expect([...e.query.x]).toEqual([...sineGrid(50)]);
  });

  it('is determined by the stream and has a stable checksum', () => {
    const sampler = sineSampler({ shots: 10 });
    const a = sampler.sample(createRng(4));
    const b = sampler.sample(createRng(4));
    expect(a.task).toEqual(b.task);
    expect(a.support.x).toEqual(b.support.x);
    expect(sampler.checksum).toBe(sineSampler({ shots: 10 }).checksum);
    expect(sampler.checksum).not.toBe(sineSampler({ shots: 5 }).checksum);
    expect(sampler.checksum).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('dataChecksum', () => {
  it('depends on sources and settings, not on key order', () => {
    const a = dataChecksum({ x: '1', y: '2' }, { seed: 1, split: 'paper' });
    expect(dataChecksum({ y: '2', x: '1' }, { split: 'paper', seed: 1 })).toBe(a);
    expect(dataChecksum({ x: '1', y: '3' }, { seed: 1, split: 'paper' })).not.toBe(a);
    expect(dataChecksum({ x: '1', y: '2' }, { seed: 2, split: 'paper' })).not.toBe(a);
  });
});
