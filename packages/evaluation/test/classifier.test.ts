import { initBackend } from '@reptile-bench/backend';
import { createMlp } from '@reptile-bench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { inferenceTime, scoreClassifier } from '../src/index.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

// A 1-input, 2-class linear classifier with logits (0, x): class 1 exactly when x > 0.
const model = createMlp({ inputSize: 1, hidden: [], outputSize: 2, task: 'classification' });
const params = [Float32Array.from([0, 1]), Float32Array.from([0, 0])];

describe('scoreClassifier', () => {
  it('predicts the largest logit and gives the accuracy with its 95% CI over the examples', () => {
    const x = Float32Array.from([-2, -1, 0.5, 3, 1, -0.5, 2, -3]);
    const y = Int32Array.from([0, 0, 1, 1, 0, 0, 1, 1]);
    const score = scoreClassifier(model, params, { x, y, size: 8, inputShape: [1] }, 3);
    expect(Array.from(score.predictions)).toEqual([0, 0, 1, 1, 1, 0, 1, 0]);
    expect(Array.from(score.correct)).toEqual([1, 1, 1, 1, 0, 1, 1, 0]);
    // 6 of 8 right: mean 0.75, sample std √(8·0.75·0.25/7), CI 1.96·std/√8
    const std = Math.sqrt((8 * 0.75 * 0.25) / 7);
    expect(score.accuracy.mean).toBe(0.75);
    expect(score.accuracy.std).toBeCloseTo(std, 12);
    expect(score.accuracy.ci95).toBeCloseTo((1.96 * std) / Math.sqrt(8), 12);
    expect(score.accuracy.n).toBe(8);
  });

  it('refuses sets without class labels or without examples', () => {
    const x = Float32Array.from([1]);
    expect(() =>
      scoreClassifier(model, params, { x, y: Float32Array.from([1]), size: 1, inputShape: [1] }),
    ).toThrow(/must hold integer class labels/);
    expect(() =>
      scoreClassifier(model, params, {
        x: new Float32Array(0),
        y: new Int32Array(0),
        size: 0,
        inputShape: [1],
      }),
    ).toThrow(/the set is empty/);
  });
});

describe('inferenceTime', () => {
  it('times single examples and batches in CPU milliseconds, at most the whole set', () => {
    const x = Float32Array.from({ length: 50 }, (_, i) => i - 25);
    const t = inferenceTime(
      model,
      params,
      { x, y: new Int32Array(50), size: 50, inputShape: [1] },
      { examples: 80, batchSize: 8 },
    );
    // no more examples than the set holds
    expect(t.examples).toBe(50);
    for (const v of [t.msPerExample, t.batchedMsPerExample, t.wallMsPerExample]) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(0);
    }
  });
});
