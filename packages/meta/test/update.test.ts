import { describe, expect, it } from 'vitest';
import { meanUpdate, metaStepAt } from '../src/index.ts';

const reptileUpdate = (phi: Float32Array[], adapted: Float32Array[][], epsilon: number) =>
  meanUpdate(phi, adapted, epsilon, 'towards');

describe('metaStepAt', () => {
  it('anneals linearly from metaStep to metaStepFinal over metaIterations', () => {
    const schedule = { metaIterations: 4, metaStep: 1, metaStepFinal: 0 };
    expect([0, 1, 2, 3, 4].map((i) => metaStepAt(i, schedule))).toEqual([1, 0.75, 0.5, 0.25, 0]);
    const up = { metaIterations: 10, metaStep: 0.1, metaStepFinal: 0.6 };
    // frac · final + (1 − frac) · initial, evaluated exactly as the formula says
    expect(metaStepAt(3, up)).toBe(0.3 * 0.6 + 0.7 * 0.1);
    expect(metaStepAt(0, up)).toBe(0.1);
  });

  it('is constant when the final step equals the first', () => {
    const flat = { metaIterations: 7, metaStep: 0.25, metaStepFinal: 0.25 };
    for (let i = 0; i <= 7; i++) expect(metaStepAt(i, flat)).toBeCloseTo(0.25, 15);
  });

  it('rejects iterations outside the schedule and a non-positive length', () => {
    const schedule = { metaIterations: 4, metaStep: 1, metaStepFinal: 0 };
    expect(() => metaStepAt(5, schedule)).toThrow(/iteration must be an integer in \[0, 4\], got 5/);
    expect(() => metaStepAt(-1, schedule)).toThrow(/got -1/);
    expect(() => metaStepAt(1.5, schedule)).toThrow(/got 1.5/);
    expect(() => metaStepAt(0, { ...schedule, metaIterations: 0 })).toThrow(
      /metaIterations must be a positive/,
    );
  });
});

describe('reptileUpdate', () => {
  it('moves φ towards the mean of the adapted parameters by ε', () => {
    const phi = [new Float32Array([1, 2]), new Float32Array([-4])];
    const adapted = [
      [new Float32Array([3, 2]), new Float32Array([0])],
      [new Float32Array([1, 6]), new Float32Array([-2])],
    ];
    reptileUpdate(phi, adapted, 0.5);
    // mean φ' = [2, 4], [-1]; φ + 0.5 (mean − φ) = [1.5, 3], [-2.5]
    expect(Array.from(phi[0]!)).toEqual([1.5, 3]);
    expect(Array.from(phi[1]!)).toEqual([-2.5]);
  });

  it('with ε = 1 and one task replaces φ by the adapted parameters; with ε = 0 leaves it', () => {
    const phi = [new Float32Array([0.1, -0.7, 3])];
    const adapted = [[new Float32Array([0.3, 0.2, -1])]];
    const unchanged = [new Float32Array(phi[0]!)];
    reptileUpdate(unchanged, adapted, 0);
    expect(unchanged[0]).toEqual(phi[0]);
    reptileUpdate(phi, adapted, 1);
    expect(phi[0]).toEqual(adapted[0]![0]);
  });

  it('matches Reptile on a quadratic computed by hand', () => {
    // Task i: L_i(θ) = ½‖θ − c_i‖². One SGD step with rate α from φ gives φ'_i = φ − α(φ − c_i), so
    // φ_new = φ + ε(mean φ'_i − φ) = φ + εα(mean c − φ). Computed here in float64 by hand.
    const centres = [
      [2, -1],
      [0, 3],
      [4, 1],
    ];
    const alpha = 0.25;
    const epsilon = 0.8;
    const phi0 = [1, 1];
    const adapted = centres.map((c) => [new Float32Array(phi0.map((p, k) => p - alpha * (p - c[k]!)))]);
    const phi = [new Float32Array(phi0)];
    reptileUpdate(phi, adapted, epsilon);
    const meanC = [2, 1];
    const expected = phi0.map((p, k) => p + epsilon * alpha * (meanC[k]! - p));
    expect(phi[0]![0]).toBeCloseTo(expected[0]!, 6); // 1 + 0.2·1 = 1.2
    expect(phi[0]![1]).toBeCloseTo(expected[1]!, 6); // 1 + 0.2·0 = 1
    expect(expected).toEqual([1.2, 1]);
  });

  it('does not depend on anything but the order of tasks (float64 mean, one rounding)', () => {
    const make = () => [new Float32Array([1e-8, 1, 16777216])];
    const adapted = [
      [new Float32Array([1, 1e8, 1])],
      [new Float32Array([1e-8, -1e8, 3])],
      [new Float32Array([-1, 3, 16777218])],
    ];
    const a = make();
    const b = make();
    reptileUpdate(a, adapted, 0.3);
    reptileUpdate(b, adapted, 0.3);
    expect(a[0]).toEqual(b[0]);
    // float64 accumulation keeps the +1e8 / −1e8 cancellation exact: mean = (3)/3 = 1 for the middle entry
    expect(a[0]![1]).toBeCloseTo(1 + 0.3 * (1 - 1), 6);
  });

  it('names the task and parameter whose shape does not match', () => {
    const phi = [new Float32Array(2)];
    expect(() => reptileUpdate(phi, [], 1)).toThrow(/no adapted parameter sets/);
    expect(() => reptileUpdate(phi, [[new Float32Array(3)]], 1)).toThrow(
      /task 0, parameter 0 has 3 values, φ has 2/,
    );
    expect(() => reptileUpdate(phi, [[new Float32Array(2), new Float32Array(1)]], 1)).toThrow(
      /task 0 has 2 parameter arrays, φ has 1/,
    );
    expect(() => reptileUpdate(phi, [[new Float32Array(2)]], Number.NaN)).toThrow(/epsilon must be finite/);
  });
});
