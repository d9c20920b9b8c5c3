import { initBackend } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { fewShotSampler, sineSampler } from '@reptile-bench/datasets';
import { prototypeClasses } from '@reptile-bench/datasets/synthetic';
import {
  DivergenceError,
  type InitLearner,
  type MetaLearningOptions,
  type MetaTrainContext,
  type MetaTrainResult,
  type TrainingState,
} from '@reptile-bench/meta';
import { createConv4, createMlp, type Model } from '@reptile-bench/models';
import { reptile } from '@reptile-bench/reptile';
import { beforeAll, describe, expect, it } from 'vitest';
import { fomaml, jointClassifier, maml, sgdDistill, sgdPretrain } from '../src/index.ts';

// Every learner's checkpoint, resumed, continues exactly: the parameters and the inner optimizer state at the end
// are bit-identical to an uninterrupted run's, whatever iteration training stopped at.

beforeAll(async () => {
  await initBackend('cpu');
});

const mlp = createMlp({ inputSize: 1, hidden: [8], outputSize: 1 });
const conv = createConv4({ ways: 3, inputShape: [8, 8, 1], filters: 4 });
const sine = sineSampler({ shots: 10, queryShots: 0 });
const classes = prototypeClasses(6, 8);
const fewShot = fewShotSampler(classes, { ways: 3, shots: 4, queryShots: 0 });

const meta: MetaLearningOptions = {
  metaIterations: 7,
  metaBatchSize: 3,
  metaStep: 0.9,
  metaStepFinal: 0,
  innerIterations: 3,
  innerBatchSize: 4,
  innerOptimizer: 'adam',
  innerLearningRate: 0.01,
};

interface Case {
  name: string;
  learner: () => InitLearner;
  model: Model;
  ctx?: Partial<MetaTrainContext>;
}

const cases: Case[] = [
  { name: 'reptile, per-slot Adam states', learner: () => reptile(meta), model: mlp },
  {
    name: 'reptile, per-slot states on 2 replica threads',
    learner: () => reptile(meta),
    model: mlp,
    ctx: { workers: 2 },
  },
  {
    name: 'reptile, one Adam state shared by all tasks (the paper)',
    learner: () => reptile({ ...meta, sharedOptimizerState: true }),
    model: mlp,
  },
  { name: 'reptile on Conv4', learner: () => reptile(meta), model: conv, ctx: { train: fewShot } },
  { name: 'first-order MAML', learner: () => fomaml({ ...meta, tailBatches: 1 }), model: mlp },
  {
    name: 'MAML (second order)',
    learner: () => maml({ ...meta, innerOptimizer: 'sgd', innerLearningRate: 0.02 }),
    model: mlp,
  },
  {
    name: 'joint pretraining (its Adam with β1 = 0.9)',
    learner: () => sgdPretrain({ iterations: 9, batchSize: 6, optimizer: 'adam', learningRate: 0.01 }),
    model: conv,
    ctx: { train: fewShot, trainClasses: classes },
  },
  {
    name: 'joint distillation from a teacher (sgd-distill)',
    learner: () => {
      const teacher = jointClassifier(conv, classes.numClasses);
      return sgdDistill({
        iterations: 9,
        batchSize: 6,
        optimizer: 'adam',
        learningRate: 0.01,
        temperature: 2,
        alpha: 0.5,
        teacher: { model: teacher, params: teacher.init(createRng('teacher')) },
      });
    },
    model: conv,
    ctx: { train: fewShot, trainClasses: classes },
  },
];

function context(c: Case, extra: Partial<MetaTrainContext> = {}): MetaTrainContext {
  return { model: c.model, train: sine, rng: createRng(3), backend: 'cpu', ...c.ctx, ...extra };
}

/** Trains until `stopAt` iterations are done, then stops as a signal would; returns the state it saved. */
async function interrupted(c: Case, stopAt: number, resume?: TrainingState): Promise<TrainingState> {
  const controller = new AbortController();
  let saved: TrainingState | undefined;
  await expect(
    c.learner().metaTrain(
      context(c, {
        onMetrics: (iteration) => {
          if (iteration + 1 === stopAt) controller.abort(new Error('stop'));
        },
        checkpoint: {
          ...(resume ? { resume } : {}),
          due: () => false,
          save: async (state) => {
            saved = state;
          },
        },
        signal: controller.signal,
      }),
    ),
  ).rejects.toThrow('stop');
  if (saved === undefined) throw new Error('no checkpoint was saved on stopping');
  return saved;
}

function expectSameResult(a: MetaTrainResult, b: MetaTrainResult): void {
  expect(Array.isArray(a.init) && Array.isArray(b.init)).toBe(true);
  (a.init as Float32Array[]).forEach((p, j) => {
    expect(Buffer.from((b.init as Float32Array[])[j]!.buffer).equals(Buffer.from(p.buffer))).toBe(true);
  });
  expect(b.innerState).toEqual(a.innerState);
}

describe('checkpoints resume every learner exactly', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const reference = await c.learner().metaTrain(context(c));
      const iterations = c.name.startsWith('joint') ? 9 : meta.metaIterations;
      // Stopped twice (once in the first attempt, once in the resumed one), then run to the end.
      const first = await interrupted(c, 2);
      expect(first.iteration).toBe(2);
      const second = await interrupted(c, 5, first);
      expect(second.iteration).toBe(5);
      const resumed = await c
        .learner()
        .metaTrain(context(c, { checkpoint: { resume: second, due: () => false, save: async () => {} } }));
      expectSameResult(reference, resumed);
      expect(iterations).toBeGreaterThan(5);
    });
  }

  it('saves whenever `due` says so, with the iteration and every optimizer slot', async () => {
    const saved: TrainingState[] = [];
    await reptile(meta).metaTrain({
      model: mlp,
      train: sine,
      rng: createRng(3),
      backend: 'cpu',
      checkpoint: { due: (i) => i % 3 === 0, save: async (s) => void saved.push(s) },
    });
    expect(saved.map((s) => s.iteration)).toEqual([3, 6]);
    expect(Object.keys(saved[0]!.optimizers).sort()).toEqual(['slot0', 'slot1', 'slot2']);
    expect(saved[0]!.optimizers.slot0).toMatchObject({ name: 'adam', steps: 3 * 3 });
  });

  it('carries the shared inner state out of training for evaluation (the paper’s semantics)', async () => {
    const result = await reptile({ ...meta, sharedOptimizerState: true }).metaTrain({
      model: mlp,
      train: sine,
      rng: createRng(3),
      backend: 'cpu',
    });
    // one Adam through every task of every meta-iteration: 7 × 3 tasks × 3 steps
    expect(result.innerState).toMatchObject({ name: 'adam', steps: 7 * 3 * 3 });
    const reset = await reptile({ ...meta, resetOptimizerState: true }).metaTrain({
      model: mlp,
      train: sine,
      rng: createRng(3),
      backend: 'cpu',
    });
    expect(reset.innerState).toBeUndefined();
  });
});

describe('divergence fails loudly', () => {
  it('a learning rate that blows up stops training with the iteration and the metric', async () => {
    const run = reptile({ ...meta, innerOptimizer: 'sgd', innerLearningRate: 1e6 }).metaTrain({
      model: mlp,
      train: sine,
      rng: createRng(3),
      backend: 'cpu',
    });
    await expect(run).rejects.toThrow(DivergenceError);
    await expect(run).rejects.toThrow(
      /training diverged at iteration \d+: (inner_loss|parameter \d+\[\d+\]) = (NaN|-?Infinity)/,
    );
  });

  it('a finite loss above max_loss is divergence too', async () => {
    const run = sgdPretrain({ iterations: 5, batchSize: 6, optimizer: 'sgd', learningRate: 0.01 }).metaTrain({
      model: mlp,
      train: sine,
      rng: createRng(3),
      backend: 'cpu',
      maxLoss: 1e-9,
    });
    await expect(run).rejects.toThrow(
      /training diverged at iteration 0: loss = .* above the bound max_loss = 1e-9/,
    );
  });
});
