import { initBackend, tf } from '@reptile-bench/backend';
import { createRng, type Rng } from '@reptile-bench/core';
import { type Batch, selectExamples, sineSampler } from '@reptile-bench/datasets';
import { runTaskJob } from '@reptile-bench/meta';
import { batchTensors, createMlp, type Model, toTensors } from '@reptile-bench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { mamlGradient } from '../src/index.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

const model = createMlp({ inputSize: 1, hidden: [6], outputSize: 1 });
const lr = 0.15;

/** Two inner batches and a held-out batch of 5 points each, from one sine task. */
function taskBatches(rng: Rng): Batch[] {
  const { support, query } = sineSampler({ shots: 5, queryShots: 10 }).sample(rng);
  return [support, selectExamples(query, [0, 1, 2, 3, 4]), selectExamples(query, [5, 6, 7, 8, 9])];
}

/** A random direction of unit length over all parameters. */
function direction(rng: Rng, like: Float32Array[]): Float32Array[] {
  const d = like.map((p) => Float64Array.from(p, () => rng.normal()));
  const norm = Math.sqrt(d.reduce((s, p) => s + p.reduce((t, v) => t + v * v, 0), 0));
  return d.map((p) => Float32Array.from(p, (v) => v / norm));
}

/**
 * The directional derivative of f along d by central differences with Richardson extrapolation
 * ((4·D(h/2) − D(h)) / 3 cancels the h² error term), which keeps float32 round-off small at a usable step.
 */
function directionalDerivative(f: (shift: number) => number, h: number): number {
  const central = (step: number) => (f(step) - f(-step)) / (2 * step);
  return (4 * central(h / 2) - central(h)) / 3;
}

function shifted(phi: Float32Array[], d: Float32Array[], h: number): Float32Array[] {
  return phi.map((p, j) => Float32Array.from(p, (v, k) => v + h * d[j]![k]!));
}

function dot(a: Float32Array[], b: Float32Array[]): number {
  let s = 0;
  a.forEach((p, j) => {
    for (let k = 0; k < p.length; k++) s += p[k]! * b[j]![k]!;
  });
  return s;
}

function lossAt(m: Model, params: Float32Array[], batch: Batch): number {
  const t = toTensors(m, params);
  const { x, y } = batchTensors(batch);
  const loss = m.loss(t, x, y);
  const value = loss.dataSync()[0]!;
  tf.dispose([...t, x, y, loss]);
  return value;
}

/** L_last(U(φ)) and its gradient, from mamlGradient. */
function metaLoss(phi: Float32Array[], batches: Batch[]): { loss: number; gradient: Float32Array[] } {
  const t = toTensors(model, phi);
  const { gradient, loss } = mamlGradient(model, t, batches, lr);
  const arrays = gradient.map((g) => g.dataSync().slice() as Float32Array);
  tf.dispose([...t, ...gradient]);
  return { loss, gradient: arrays };
}

describe('meta-gradients against finite differences', () => {
  const rng = createRng(21);
  const phi = model.init(rng.derive('init'));
  const batches = taskBatches(rng.derive('task'));
  const h = 2e-2;

  it("MAML's second-order meta-gradient matches central differences of L_heldOut(U(φ))", () => {
    const { gradient } = metaLoss(phi, batches);
    // U(φ): the SGD inner loop over all but the last batch, then the first-order gradient there
    const adapted = runTaskJob({
      model: model.config,
      params: phi,
      batches: batches.slice(0, -1),
      optimizer: { kind: 'sgd', learningRate: lr },
    }).params;
    const firstOrder = runTaskJob({
      model: model.config,
      params: adapted,
      batches: batches.slice(-1),
      optimizer: { kind: 'sgd', learningRate: lr },
      changeOverLast: 1,
    }).params.map((p) => p.map((v) => -v / lr));
    for (let trial = 0; trial < 4; trial++) {
      const d = direction(rng.derive('direction', trial), phi);
      const numeric = directionalDerivative((t) => metaLoss(shifted(phi, d, t), batches).loss, h);
      const analytic = dot(gradient, d);
      const firstOrderEstimate = dot(firstOrder, d);
      const scale = Math.max(0.1, Math.abs(numeric));
      expect(Math.abs(analytic - numeric) / scale).toBeLessThan(5e-4);
      // the second-order terms matter on this problem: dropping them misses by far more than the tolerance
      expect(Math.abs(firstOrderEstimate - numeric) / scale).toBeGreaterThan(2e-2);
    }
  });

  it("first-order MAML's update is −lr · ∇L_heldOut at the adapted parameters (central differences there)", () => {
    const adapted = runTaskJob({
      model: model.config,
      params: phi,
      batches: batches.slice(0, -1),
      optimizer: { kind: 'sgd', learningRate: lr },
    }).params;
    // the fomaml job: the whole inner loop, returning the change made by the held-out (last) step
    const update = runTaskJob({
      model: model.config,
      params: phi,
      batches,
      optimizer: { kind: 'sgd', learningRate: lr },
      changeOverLast: 1,
    }).params;
    const gradient = update.map((p) => p.map((v) => -v / lr));
    const heldOut = batches.at(-1)!;
    for (let trial = 0; trial < 4; trial++) {
      const d = direction(rng.derive('fo-direction', trial), phi);
      const numeric = directionalDerivative((t) => lossAt(model, shifted(adapted, d, t), heldOut), h);
      const analytic = dot(gradient, d);
      expect(Math.abs(analytic - numeric) / Math.max(0.1, Math.abs(numeric))).toBeLessThan(5e-4);
    }
  });
});
