import { initBackend, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { imageBatch, type LabelledImages, shuffledBatches } from '@reptile-bench/datasets';
import type { TrainingState } from '@reptile-bench/meta';
import {
  batchTensors,
  classifierAccuracy,
  createMlp,
  momentumSgd,
  toArrays,
  toTensors,
  trainStep,
} from '@reptile-bench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  averageInPlace,
  type LocalSgdOptions,
  learningRateAt,
  planLocalSgd,
  syncDue,
  synchronize,
  trainLocalSgd,
} from '../src/index.ts';
import { bandImages } from './helpers.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

/** The tests with replica threads take seconds on a quiet machine and minutes on one shared with long runs. */
const slow = 900_000;

const base: LocalSgdOptions = {
  replicas: 2,
  syncEvery: 4,
  batchSize: 8,
  learningRate: 0.1,
  momentum: 0.9,
  examples: 2 * 8 * 32,
  evalEvery: 2 * 8 * 16,
};

describe('averaging arithmetic', () => {
  it('replaces each replica by the mean, summed in float64 and rounded once', () => {
    const a = Float32Array.from([1, 2, 3, 16777216]);
    const b = Float32Array.from([3, 4, 6, 1]);
    const c = Float32Array.from([5, 0, -3, 1]);
    averageInPlace([a, b, c]);
    // (16777216 + 1 + 1) / 3 = 5592406 exactly: float32 partial sums would lose both ones (16777216 + 1 rounds back).
    expect(Array.from(a)).toEqual([3, 2, 2, 5592406]);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(c)).toEqual(Array.from(a));
  });

  it('averages, zeroes or keeps the momentum buffers as asked', () => {
    const run = (sync: 'average' | 'reset' | 'local') => {
      const p = [Float64Array.from([0, 2]), Float64Array.from([4, 6])];
      const m = [Float64Array.from([1, 1]), Float64Array.from([3, -1])];
      synchronize(p, m, sync);
      return { p: p.map((x) => Array.from(x)), m: m.map((x) => Array.from(x)) };
    };
    expect(run('average')).toEqual({
      p: [
        [2, 4],
        [2, 4],
      ],
      m: [
        [2, 0],
        [2, 0],
      ],
    });
    expect(run('reset')).toEqual({
      p: [
        [2, 4],
        [2, 4],
      ],
      m: [
        [0, 0],
        [0, 0],
      ],
    });
    expect(run('local')).toEqual({
      p: [
        [2, 4],
        [2, 4],
      ],
      m: [
        [1, 1],
        [3, -1],
      ],
    });
  });

  it('plans the schedule: iterations end on every sync and evaluation; errors name the field', () => {
    const plan = planLocalSgd({ ...base, syncEvery: 6, evalEvery: 2 * 8 * 16 });
    expect(plan).toMatchObject({ steps: 32, evalSteps: 16, chunk: 2, iterations: 16, evalIterations: 8 });
    expect(planLocalSgd({ ...base, syncEvery: 'end' }).chunk).toBe(16);
    expect(planLocalSgd({ ...base, lrScaling: 'linear', lrBaseBatch: 8 }).learningRate).toBeCloseTo(0.2, 12);
    const warm = planLocalSgd({ ...base, warmupExamples: 4 * 16 });
    expect(warm.warmupSteps).toBe(4);
    expect([0, 1, 3, 4, 10].map((t) => learningRateAt(warm, t))).toEqual([0.025, 0.05, 0.1, 0.1, 0.1]);
    // A step decay after 16 × 20 examples: from step 20 on (16 examples per step), a tenth.
    const decayed = planLocalSgd({ ...base, lrDecayExamples: 16 * 20, lrDecayFactor: 0.1 });
    expect([19, 20, 31].map((t) => learningRateAt(decayed, t))).toEqual([0.1, 0.1 * 0.1, 0.1 * 0.1]);
    expect([4, 6, 8, 32].map((d) => syncDue(plan, d))).toEqual([false, true, false, true]);
    expect(() => planLocalSgd({ ...base, examples: 100 })).toThrow(
      /local-sgd: examples = 100 is not a whole number of steps of all replicas \(replicas × batchSize = 2 × 8\) \(16 examples\)/,
    );
    expect(() => planLocalSgd({ ...base, evalEvery: 2 * 8 * 24 })).toThrow(
      /not a whole number of evaluation intervals/,
    );
    expect(() => planLocalSgd({ ...base, momentum: 1 })).toThrow(/local-sgd: momentum must be in \[0, 1\)/);
    expect(() => planLocalSgd({ ...base, replicas: 0 })).toThrow(
      /local-sgd: replicas must be an integer ≥ 1/,
    );
  });
});

/** Softmax regression in float64: the mean cross-entropy gradient of weights [d × c] + bias [c] on a batch. */
function softmaxGrad64(
  w: Float64Array,
  set: LabelledImages,
  indices: ArrayLike<number>,
  d: number,
  c: number,
) {
  const g = new Float64Array(w.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j] as number;
    const x = Array.from({ length: d }, (_, f) => (set.pixels[i * d + f] as number) / 255);
    const logits = Array.from({ length: c }, (_, o) => {
      let s = w[d * c + o] as number;
      for (let f = 0; f < d; f++) s += (x[f] as number) * (w[f * c + o] as number);
      return s;
    });
    const max = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - max));
    const z = e.reduce((a, b) => a + b, 0);
    for (let o = 0; o < c; o++) {
      const delta = ((e[o] as number) / z - (o === set.labels[i] ? 1 : 0)) / indices.length;
      for (let f = 0; f < d; f++) g[f * c + o]! += (x[f] as number) * delta;
      g[d * c + o]! += delta;
    }
  }
  return g;
}

describe('H = 1 is synchronous SGD with a k× batch', () => {
  it('exactly, in float64 (softmax regression, momentum averaged)', () => {
    const set = bandImages(60);
    const d = 16;
    const c = 3;
    for (const syncEvery of [1, 4] as const) {
      const plan = planLocalSgd({
        ...base,
        replicas: 3,
        syncEvery,
        batchSize: 5,
        examples: 3 * 5 * 12,
        evalEvery: 3 * 5 * 12,
      });
      const rng = createRng(7);
      const streams = [0, 1, 2].map((r) =>
        shuffledBatches(set.count, 5, rng.derive('replica', r, 'batches')),
      );
      const init = Float64Array.from({ length: d * c + c }, (_, i) => Math.sin(i) * 0.1);
      // Local SGD with the package's schedule and averaging.
      const params = [0, 1, 2].map(() => init.slice());
      const momenta = [0, 1, 2].map(() => new Float64Array(init.length));
      // The k×-batch reference: one model, the concatenation of the replicas' batches at each step.
      const big = init.slice();
      const bigM = new Float64Array(init.length);
      for (let t = 0; t < plan.steps; t++) {
        const lr = learningRateAt(plan, t);
        params.forEach((p, r) => {
          const g = softmaxGrad64(p, set, streams[r]!.indices(t), d, c);
          const m = momenta[r]!;
          for (let j = 0; j < p.length; j++) {
            m[j] = plan.momentum * m[j]! + g[j]!;
            p[j] = p[j]! - lr * m[j]!;
          }
        });
        if (syncDue(plan, t + 1)) synchronize(params, momenta, plan.momentumSync);
        const all = streams.flatMap((s) => Array.from(s.indices(t)));
        const g = softmaxGrad64(big, set, all, d, c);
        for (let j = 0; j < big.length; j++) {
          bigM[j] = plan.momentum * bigM[j]! + g[j]!;
          big[j] = big[j]! - lr * bigM[j]!;
        }
      }
      const diff = Math.max(...Array.from(big, (v, j) => Math.abs(v - params[0]![j]!)));
      if (syncEvery === 1) expect(diff).toBeLessThan(1e-13);
      else expect(diff).toBeGreaterThan(1e-4); // averaging every 4 steps is not the large-batch run
    }
  });

  it(
    'to float32 rounding, on the replica threads (MLP, momentum 0.9)',
    async () => {
      const set = bandImages(96);
      const model = createMlp({
        inputSize: 16,
        hidden: [12],
        outputSize: 3,
        activation: 'relu',
        task: 'classification',
      });
      const options = {
        ...base,
        replicas: 2,
        syncEvery: 1,
        batchSize: 8,
        examples: 2 * 8 * 24,
        evalEvery: 2 * 8 * 24,
      };
      const rng = createRng(3);
      const local = await trainLocalSgd({ model, train: set, rng, backend: 'wasm', workers: 2 }, options);
      // Reference: one model, one optimizer, batches of 16 = replica 0's batch then replica 1's, same learning rates.
      const streams = [0, 1].map((r) => shuffledBatches(set.count, 8, rng.derive('replica', r, 'batches')));
      const optimizer = momentumSgd({ learningRate: (t) => learningRateAt(local.plan, t), momentum: 0.9 });
      let params = toTensors(model, model.init(rng.derive('init')));
      for (let t = 0; t < local.plan.steps; t++) {
        const { x, y } = batchTensors(
          imageBatch(set, [...streams[0]!.indices(t), ...streams[1]!.indices(t)]),
        );
        params = trainStep(model, optimizer, params, x, y).params;
        tf.dispose([x, y]);
      }
      const reference = toArrays(params);
      tf.dispose(params);
      optimizer.dispose();
      let worst = 0;
      reference.forEach((p, i) => {
        p.forEach((v, j) => {
          worst = Math.max(worst, Math.abs(v - local.params[i]![j]!) / (1e-3 + Math.abs(v)));
        });
      });
      expect(worst).toBeLessThan(1e-4);
      expect(worst).toBeGreaterThan(0); // float32: the mean of two batch means is not the mean of one batch, bit for bit
    },
    slow,
  );
});

describe('local SGD training', () => {
  const set = bandImages(120);
  const model = createMlp({
    inputSize: 16,
    hidden: [10],
    outputSize: 3,
    activation: 'relu',
    task: 'classification',
  });
  const options: LocalSgdOptions = {
    ...base,
    replicas: 4,
    syncEvery: 3,
    batchSize: 6,
    momentum: 0.5,
    momentumSync: 'local',
    warmupExamples: 4 * 6 * 4,
    examples: 4 * 6 * 36,
    evalEvery: 4 * 6 * 12,
  };

  it(
    'gives bit-identical results for 1, 2 and 3 threads, and learns the task',
    async () => {
      const results = [];
      for (const workers of [1, 2, 3]) {
        const curve: number[] = [];
        const result = await trainLocalSgd(
          {
            model,
            train: set,
            rng: createRng(11),
            backend: 'wasm',
            workers,
            evaluate: async ({ params }, iteration) => {
              curve.push(iteration);
              return { accuracy: classifierAccuracy(model, params, set).accuracy };
            },
          },
          options,
        );
        results.push({ params: result.params, curve });
      }
      expect(results[1]!.params).toEqual(results[0]!.params);
      expect(results[2]!.params).toEqual(results[0]!.params);
      expect(results[0]!.curve).toEqual([0, 4, 8, 12]);
      expect(classifierAccuracy(model, results[0]!.params, set).accuracy).toBeGreaterThan(0.9);
    },
    slow,
  );

  it(
    'resumes from a checkpoint bit-identically',
    async () => {
      const full = await trainLocalSgd({ model, train: set, rng: createRng(5), backend: 'wasm' }, options);
      let saved: TrainingState | undefined;
      const controller = new AbortController();
      await expect(
        trainLocalSgd(
          {
            model,
            train: set,
            rng: createRng(5),
            backend: 'wasm',
            workers: 2,
            onMetrics: (iteration) => {
              if (iteration === 6) controller.abort(new Error('stop'));
            },
            checkpoint: {
              due: () => false,
              save: async (state) => {
                saved = state;
              },
            },
            signal: controller.signal,
          },
          options,
        ),
      ).rejects.toThrow('stop');
      expect(saved?.iteration).toBe(7);
      const resumed = await trainLocalSgd(
        {
          model,
          train: set,
          rng: createRng(5),
          backend: 'wasm',
          checkpoint: { resume: saved as TrainingState, due: () => false, save: async () => {} },
        },
        options,
      );
      expect(resumed.params).toEqual(full.params);
    },
    slow,
  );
});
