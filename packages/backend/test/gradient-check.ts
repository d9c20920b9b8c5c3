import { createRng } from '@reptile-bench/core';
import { expect } from 'vitest';
import { type BackendName, initBackend, tf } from '../src/index.ts';

/** An op under test: its float64 definition and how to run it with tensors on the current backend. */
export interface OpCase {
  name: string;
  /** The differentiable inputs. Values are rounded to float32 first, so both sides see the same numbers. */
  inputs: Array<{ shape: number[]; values: Float64Array }>;
  reference(values: Float64Array[]): Float64Array;
  run(tensors: tf.Tensor[]): tf.Tensor;
  /** Inputs whose gradient is 0 analytically (e.g. a bias a batch norm cancels): compared in absolute terms. */
  zeroGradient?: number[];
}

export function randomValues(seed: string, size: number, lo = -1, hi = 1): Float64Array {
  const rng = createRng(seed);
  return Float64Array.from({ length: size }, () => Math.fround(rng.uniform(lo, hi)));
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i] as number));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Output and input gradients of L = Σ w ⊙ op(inputs) on one backend. */
async function evaluate(backend: BackendName, op: OpCase, weights: Float64Array) {
  await initBackend(backend);
  return tf.tidy(() => {
    const tensors = op.inputs.map((input) => tf.tensor(Float32Array.from(input.values), input.shape));
    const w = tf.tensor(Float32Array.from(weights));
    const output = op.run(tensors);
    const { grads } = tf.valueAndGrads((...xs: tf.Tensor[]) =>
      tf.sum(tf.mul(tf.reshape(op.run(xs), [-1]), w)),
    )(tensors);
    return {
      output: output.dataSync() as Float32Array,
      grads: grads.map((g) => g.dataSync() as Float32Array),
    };
  });
}

/**
 * Checks an op on `backends` (default wasm) and the cpu reference: the forward output against the float64
 * definition, the analytic input gradients against central differences of that definition along random
 * directions, and each backend's gradients against cpu's, each at a relative error of at most `tolerance`.
 */
export async function checkOp(
  op: OpCase,
  tolerance = 1e-4,
  backends: Exclude<BackendName, 'cpu'>[] = ['wasm'],
): Promise<void> {
  const values = op.inputs.map((input) => {
    expect(input.values.length, `${op.name}: input size`).toBe(sizeOf(input.shape));
    return input.values;
  });
  const expected = op.reference(values);
  const weights = randomValues(`${op.name}/weights`, expected.length);
  const loss = (vs: Float64Array[]) =>
    op.reference(vs).reduce((s, v, i) => s + v * (weights[i] as number), 0);

  const results: Partial<Record<BackendName, Awaited<ReturnType<typeof evaluate>>>> = {};
  for (const backend of [...backends, 'cpu'] as const)
    results[backend] = await evaluate(backend, op, weights);
  for (const [backend, { output, grads }] of Object.entries(results)) {
    const where = `${op.name} on ${backend}`;
    expect(maxAbsDiff(output, expected) / maxAbs(expected), `${where}: forward`).toBeLessThanOrEqual(
      tolerance,
    );

    const rng = createRng(`${op.name}/directions`);
    for (let trial = 0; trial < 3; trial++) {
      const directions = values.map((v) => Float64Array.from(v, () => rng.uniform(-1, 1)));
      const h = 1e-5;
      const shifted = (sign: number) =>
        values.map((v, i) => v.map((x, k) => x + sign * h * (directions[i]?.[k] ?? 0)));
      const numeric = (loss(shifted(1)) - loss(shifted(-1))) / (2 * h);
      let analytic = 0;
      let scale = 0;
      grads.forEach((g, i) => {
        g.forEach((gk, k) => {
          analytic += gk * (directions[i]?.[k] ?? 0);
          scale += Math.abs(gk * (directions[i]?.[k] ?? 0));
        });
      });
      expect(
        Math.abs(numeric - analytic) / scale,
        `${where}: directional derivative ${trial}`,
      ).toBeLessThanOrEqual(tolerance);
    }
  }

  // Each backend against the cpu reference, gradient by gradient.
  const cpu = results.cpu as NonNullable<typeof results.cpu>;
  const gradScale = Math.max(...cpu.grads.map(maxAbs));
  for (const backend of backends) {
    cpu.grads.forEach((cpuGrad, i) => {
      const grad = results[backend]?.grads[i] as Float32Array;
      const reference = op.zeroGradient?.includes(i) ? gradScale : maxAbs(cpuGrad);
      expect(
        maxAbsDiff(grad, cpuGrad) / reference,
        `${op.name}: gradient ${i}, ${backend} vs cpu`,
      ).toBeLessThanOrEqual(tolerance);
    });
  }
}
