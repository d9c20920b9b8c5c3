import { initBackend, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { fewShotSampler, sineSampler } from '@reptile-bench/datasets';
import { prototypeClasses } from '@reptile-bench/datasets/synthetic';
import { evaluate } from '@reptile-bench/evaluation';
import {
  createConv4,
  createMlp,
  distillationLoss,
  logitsOf,
  toArrays,
  toTensors,
} from '@reptile-bench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { jointBatch, jointClassifier, sgdDistill, sgdPretrain } from '../src/index.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

const classes = prototypeClasses(10, 6);
const train = fewShotSampler(classes, { ways: 3, shots: 2, queryShots: 0 });
const fewShotModel = (filters: number) => createConv4({ ways: 3, inputShape: [8, 8, 1], filters });
const ctx = (filters: number, seed = 5) => ({
  model: fewShotModel(filters),
  train,
  trainClasses: classes,
  rng: createRng(seed),
  backend: 'cpu' as const,
});

/** Agreement of two classifiers' top classes over every training image. */
function agreement(
  a: { model: ReturnType<typeof createConv4>; params: Float32Array[] },
  b: { model: ReturnType<typeof createConv4>; params: Float32Array[] },
) {
  const all = jointBatch(classes, 60, createRng('all'));
  const [la, lb] = [logitsOf(a.model, a.params, all), logitsOf(b.model, b.params, all)];
  const top = (l: Float32Array, i: number) => {
    let best = 0;
    for (let c = 1; c < 10; c++) if ((l[i * 10 + c] as number) > (l[i * 10 + best] as number)) best = c;
    return best;
  };
  let same = 0;
  for (let i = 0; i < 60; i++) if (top(la, i) === top(lb, i)) same++;
  return same / 60;
}

describe('sgd-distill (born-again distillation for few-shot classification)', () => {
  let teacher: { model: ReturnType<typeof createConv4>; params: Float32Array[] };

  it('sgd-pretrain hands over its joint classifier, the teacher', async () => {
    const result = await sgdPretrain({
      iterations: 60,
      batchSize: 20,
      optimizer: 'adam',
      learningRate: 0.01,
    }).metaTrain(ctx(8));
    expect(result.classifier?.model.outputSize).toBe(10);
    teacher = result.classifier as typeof teacher;
    // its few-shot init is the classifier's body with a zero 3-way head
    expect(result.init[0]).toEqual(teacher.params[0]);
    expect(result.init.at(-2)?.every((v) => v === 0)).toBe(true);
  });

  it('trains a student (same size or smaller) towards the teacher, then transfers its body like sgd-pretrain', async () => {
    // (4 filters leave 4 features for 10 classes on 8×8 images, too few to learn them at all)
    for (const filters of [8, 6]) {
      const losses: number[] = [];
      const result = await sgdDistill({
        iterations: 60,
        batchSize: 20,
        optimizer: 'adam',
        learningRate: 0.01,
        temperature: 4,
        alpha: 0.9,
        teacher,
      }).metaTrain({ ...ctx(filters), onMetrics: (_, m) => losses.push(m.loss as number) });
      expect(losses).toHaveLength(60);
      const early = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
      const late = losses.slice(-5).reduce((a, b) => a + b) / 5;
      expect(late).toBeLessThan(0.8 * early);
      const student = result.classifier as typeof teacher;
      expect(student.model.outputSize).toBe(10);
      expect(agreement(student, teacher)).toBeGreaterThan(0.75);
      expect(result.init.at(-2)?.every((v) => v === 0)).toBe(true);
      expect(result.init[0]?.length).toBe(9 * filters);
      const score = await evaluate(
        fewShotModel(filters),
        result.init,
        fewShotSampler(classes, { ways: 3, shots: 1, queryShots: 2 }),
        { episodes: 10, adapt: { optimizer: 'adam', learningRate: 0.01, iterations: 10, batchSize: 3 } },
        createRng(6),
      );
      expect(score.nonTransductive?.mean).toBeGreaterThan(0.6);
    }
  });

  it('takes the plain SGD step on the distillation loss: θ − lr·∇(α·T²·KL + (1 − α)·CE) from its own init and batch', async () => {
    const o = {
      iterations: 1,
      batchSize: 6,
      optimizer: 'sgd' as const,
      learningRate: 0.1,
      temperature: 2,
      alpha: 0.7,
      teacher,
    };
    const result = await sgdDistill(o).metaTrain(ctx(4, 9));
    const c = ctx(4, 9);
    const student = jointClassifier(c.model, 10);
    const start = student.init(c.rng.derive('student-init'));
    const batch = jointBatch(classes, 6, c.rng.derive('distill', 0));
    const expected = tf.tidy(() => {
      const x = tf.tensor(batch.x, [6, 8, 8, 1]);
      const y = tf.tensor1d(batch.y as Int32Array, 'int32');
      const z = teacher.model.apply(toTensors(teacher.model, teacher.params), x);
      const params = toTensors(student, start);
      const { grads } = tf.valueAndGrads((...p: tf.Tensor[]) =>
        distillationLoss(student.apply(p, x), z, y, o),
      )(params);
      return toArrays(params.map((p, i) => tf.sub(p, tf.mul(grads[i] as tf.Tensor, 0.1))));
    });
    const got = result.classifier?.params as Float32Array[];
    expected.forEach((e, i) => {
      const diff = Math.max(...Array.from(e, (v, k) => Math.abs(v - (got[i]?.[k] as number))));
      expect(diff, student.paramSpecs[i]?.name).toBeLessThan(1e-6);
    });
  });

  it('refuses a teacher of other classes, tasks without a class set, and bad T or α', async () => {
    const wrong = jointClassifier(fewShotModel(4), 7);
    await expect(
      sgdDistill({
        iterations: 2,
        batchSize: 4,
        optimizer: 'adam',
        learningRate: 0.01,
        temperature: 2,
        alpha: 0.5,
        teacher: { model: wrong, params: wrong.init(createRng(1)) },
      }).metaTrain(ctx(4)),
    ).rejects.toThrow(/the teacher classifies 7 classes but there are 10 training classes/);
    const mlp = createMlp({ inputSize: 1, hidden: [4], outputSize: 1 });
    await expect(
      sgdDistill({
        iterations: 2,
        batchSize: 4,
        optimizer: 'adam',
        learningRate: 0.01,
        temperature: 2,
        alpha: 0.5,
        teacher,
      }).metaTrain({
        model: mlp,
        train: sineSampler({ shots: 5 }),
        rng: createRng(1),
        backend: 'cpu',
      }),
    ).rejects.toThrow(/needs classification tasks with their class set/);
    expect(() =>
      sgdDistill({
        iterations: 2,
        batchSize: 4,
        optimizer: 'adam',
        learningRate: 0.01,
        temperature: -1,
        alpha: 0.5,
        teacher,
      }),
    ).toThrow(/sgd-distill: temperature must be a finite number > 0/);
    expect(() =>
      sgdDistill({
        iterations: 2,
        batchSize: 4,
        optimizer: 'adam',
        learningRate: 0.01,
        temperature: 2,
        alpha: 2,
        teacher,
      }),
    ).toThrow(/sgd-distill: alpha \(the weight of the soft targets\) must be a number in \[0, 1\]/);
  });
});
