import { initBackend, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { sineSampler } from '@reptile-bench/datasets';
import { type LineTask, lineSampler } from '@reptile-bench/datasets/synthetic';
import { type MetaTrainContext, metaStepAt } from '@reptile-bench/meta';
import { adam, createMlp, type Optimizer, toArrays, toTensors, trainStep } from '@reptile-bench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ReptileOptions, reptile } from '../src/index.ts';
import { sgdStepByHand } from './helpers.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

const linear = createMlp({ inputSize: 1, hidden: [], outputSize: 1 });

function context(overrides: Partial<MetaTrainContext> = {}): MetaTrainContext {
  return { model: linear, train: lineSampler(), rng: createRng(1), backend: 'cpu', ...overrides };
}

const base: ReptileOptions = {
  metaIterations: 3,
  metaBatchSize: 2,
  metaStep: 1,
  metaStepFinal: 0.1,
  innerIterations: 2,
  innerBatchSize: 4,
  innerOptimizer: 'sgd',
  innerLearningRate: 0.1,
};

describe('reptile on a quadratic problem computed by hand', () => {
  it('follows φ ← φ + ε(mean φ′ − φ) with SGD inner loops and the annealed ε', async () => {
    const log: LineTask[] = [];
    const rng = createRng(7);
    const { init: phi } = await reptile(base).metaTrain(context({ train: lineSampler(log), rng }));
    // By hand in float64: the same init, the same tasks (in sampling order), full-batch SGD.
    let [w, b] = linear.init(rng.derive('init')).map((p) => p[0]!) as [number, number];
    expect(log).toHaveLength(6);
    for (let i = 0; i < 3; i++) {
      const epsilon = 1 + (i / 3) * (0.1 - 1);
      const adapted = [0, 1].map((k) => {
        let p: [number, number] = [w, b];
        for (let s = 0; s < 2; s++) p = sgdStepByHand(p[0], p[1], log[2 * i + k]!, 0.1);
        return p;
      });
      const meanW = (adapted[0]![0] + adapted[1]![0]) / 2;
      const meanB = (adapted[0]![1] + adapted[1]![1]) / 2;
      w += epsilon * (meanW - w);
      b += epsilon * (meanB - b);
    }
    expect(phi[0]![0]).toBeCloseTo(w, 5);
    expect(phi[1]![0]).toBeCloseTo(b, 5);
  });

  it('reports the exact annealed meta-step, the inner loss and the time of every meta-iteration', async () => {
    const metrics: Array<[number, Record<string, number>]> = [];
    const options = { ...base, metaIterations: 5, metaStep: 0.8, metaStepFinal: 0.3 };
    await reptile(options).metaTrain(context({ onMetrics: (i, m) => metrics.push([i, m]) }));
    expect(metrics.map(([i]) => i)).toEqual([0, 1, 2, 3, 4]);
    metrics.forEach(([i, m]) => {
      expect(m.meta_step).toBe(metaStepAt(i, options));
      expect(m.inner_loss).toBeGreaterThan(0);
      expect(m.seconds).toBeGreaterThanOrEqual(0);
    });
    const steps = metrics.map(([, m]) => m.meta_step);
    [0.8, 0.7, 0.6, 0.5, 0.4].forEach((value, i) => {
      expect(steps[i]).toBeCloseTo(value, 12);
    });
  });

  it('validates every `every` iterations with a copy of φ', async () => {
    const seen: Array<[number, number[]]> = [];
    const { init: phi } = await reptile({ ...base, metaIterations: 5 }).metaTrain(
      context({
        validate: {
          every: 2,
          run: async ({ params }, iteration) => {
            seen.push([iteration, params.map((p) => p[0]!)]);
            params[0]![0] = 1e6; // a copy: must not reach the learner
            return {};
          },
        },
      }),
    );
    expect(seen.map(([i]) => i)).toEqual([0, 2, 4]);
    expect(phi[0]![0]).not.toBe(1e6);
  });
});

describe('the inner optimizer state', () => {
  // Adam (β1 = 0) inner loops on the line tasks, emulated with the models package's optimizer directly.
  async function run(flags: Partial<ReptileOptions>) {
    const log: LineTask[] = [];
    const rng = createRng(3);
    const options = { ...base, innerOptimizer: 'adam' as const, innerLearningRate: 0.05, ...flags };
    const { init: phi } = await reptile(options).metaTrain(context({ train: lineSampler(log), rng }));
    return { phi: phi.map((p) => p[0]!), log, rng, options };
  }

  function emulate(
    log: LineTask[],
    init: Float32Array[],
    options: ReptileOptions,
    optimizerFor: (iteration: number, k: number) => Optimizer,
  ): number[] {
    const phi = init.map((p) => Float64Array.from(p));
    for (let i = 0; i < options.metaIterations; i++) {
      const epsilon = metaStepAt(i, options);
      const adapted = [0, 1].map((k) => {
        const task = log[2 * i + k]!;
        const x = tf.tensor2d([-1, 0, 0.5, 2], [4, 1]);
        const y = tf.tensor2d(
          [-1, 0, 0.5, 2].map((v) => task.slope * v + task.intercept),
          [4, 1],
        );
        let params = toTensors(
          linear,
          phi.map((p) => Float32Array.from(p)),
        );
        const optimizer = optimizerFor(i, k);
        for (let s = 0; s < options.innerIterations; s++)
          params = trainStep(linear, optimizer, params, x, y).params;
        const out = toArrays(params);
        tf.dispose([...params, x, y]);
        return out;
      });
      phi.forEach((p, j) => {
        p[0] = Math.fround(p[0]! + epsilon * ((adapted[0]![j]![0]! + adapted[1]![j]![0]!) / 2 - p[0]!));
      });
    }
    return phi.map((p) => p[0]!);
  }

  it('carries one state per task slot by default, one for all tasks when shared, none when reset', async () => {
    const perSlot = await run({});
    const shared = await run({ sharedOptimizerState: true });
    const reset = await run({ resetOptimizerState: true });
    const init = linear.init(perSlot.rng.derive('init'));
    const slots = [adam({ learningRate: 0.05 }), adam({ learningRate: 0.05 })];
    const one = adam({ learningRate: 0.05 });
    const fresh: Optimizer[] = [];
    const expected = {
      perSlot: emulate(perSlot.log, init, perSlot.options, (_, k) => slots[k]!),
      shared: emulate(shared.log, init, shared.options, () => one),
      reset: emulate(reset.log, init, reset.options, () => {
        fresh.push(adam({ learningRate: 0.05 }));
        return fresh.at(-1)!;
      }),
    };
    for (const o of [...slots, one, ...fresh]) o.dispose();
    perSlot.phi.forEach((v, j) => {
      expect(v).toBeCloseTo(expected.perSlot[j]!, 5);
    });
    shared.phi.forEach((v, j) => {
      expect(v).toBeCloseTo(expected.shared[j]!, 5);
    });
    reset.phi.forEach((v, j) => {
      expect(v).toBeCloseTo(expected.reset[j]!, 5);
    });
    // the three policies really differ on this problem
    expect(Math.abs(perSlot.phi[0]! - shared.phi[0]!)).toBeGreaterThan(1e-4);
    expect(Math.abs(perSlot.phi[0]! - reset.phi[0]!)).toBeGreaterThan(1e-4);
  });
});

describe('reptile housekeeping', () => {
  it('leaks no tensors across meta-iterations', async () => {
    const mlp = createMlp({ inputSize: 1, hidden: [8], outputSize: 1 });
    const counts: number[] = [];
    const before = tf.memory().numTensors;
    await reptile({ ...base, innerOptimizer: 'adam', innerLearningRate: 0.01, metaIterations: 6 }).metaTrain(
      context({
        model: mlp,
        train: sineSampler({ shots: 5 }),
        onMetrics: () => counts.push(tf.memory().numTensors),
      }),
    );
    // the carried Adam states exist from the first iteration on and do not grow; all is freed at the end
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives identical results for the same seed and different ones for another', async () => {
    const { init: a } = await reptile(base).metaTrain(context({ rng: createRng(5) }));
    const { init: b } = await reptile(base).metaTrain(context({ rng: createRng(5) }));
    const { init: c } = await reptile(base).metaTrain(context({ rng: createRng(6) }));
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('stops when the signal is aborted', async () => {
    const controller = new AbortController();
    const run = reptile({ ...base, metaIterations: 1000 }).metaTrain(
      context({
        signal: controller.signal,
        onMetrics: (i) => {
          if (i === 2) controller.abort(new Error('cancelled'));
        },
      }),
    );
    await expect(run).rejects.toThrow(/cancelled/);
  });

  it('names the field and value of bad options', () => {
    expect(() => reptile({ ...base, metaIterations: 0 })).toThrow(
      /reptile: metaIterations must be an integer ≥ 1, got 0/,
    );
    expect(() => reptile({ ...base, innerOptimizer: 'rmsprop' as 'sgd' })).toThrow(
      /reptile: innerOptimizer must be 'adam' or 'sgd', got "rmsprop"/,
    );
    expect(() => reptile({ ...base, innerLearningRate: 0 })).toThrow(
      /innerLearningRate must be a positive number/,
    );
    expect(() => reptile({ ...base, resetOptimizerState: 'yes' as unknown as boolean })).toThrow(
      /resetOptimizerState must be true or false, got "yes"/,
    );
  });
});
