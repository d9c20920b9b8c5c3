import { initBackend, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import type { LabelledImages } from '@reptile-bench/datasets';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  classifierAccuracy,
  createCnn,
  createMlp,
  createModel,
  momentumSgd,
  sgd,
  toArrays,
  toTensors,
} from '../src/index.ts';
import { conv3x3Stride2Same } from './reference64.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

/** The CNN's mean softmax cross-entropy in float64: convs (3×3, stride 2, 'same', bias, ReLU), hidden ReLU, output. */
function cnnLoss64(
  params: Float64Array[],
  x: Float64Array,
  shape: number[],
  labels: number[],
  convs: number,
) {
  let h = x;
  let s = shape;
  for (let i = 0; i < convs; i++) {
    const kernel = params[2 * i] as Float64Array;
    const bias = params[2 * i + 1] as Float64Array;
    const conv = conv3x3Stride2Same(h, s, kernel, bias, bias.length);
    h = conv.y.map((v) => Math.max(0, v));
    s = conv.shape;
  }
  const dense = (input: Float64Array, kernel: Float64Array, bias: Float64Array, n: number) => {
    const outputs = bias.length;
    const inputs = input.length / n;
    const out = new Float64Array(n * outputs);
    for (let b = 0; b < n; b++)
      for (let o = 0; o < outputs; o++) {
        let sum = bias[o] as number;
        for (let f = 0; f < inputs; f++)
          sum += (input[b * inputs + f] as number) * (kernel[f * outputs + o] as number);
        out[b * outputs + o] = sum;
      }
    return out;
  };
  const n = shape[0] as number;
  const hidden = dense(h, params[2 * convs] as Float64Array, params[2 * convs + 1] as Float64Array, n).map(
    (v) => Math.max(0, v),
  );
  const logits = dense(
    hidden,
    params[2 * convs + 2] as Float64Array,
    params[2 * convs + 3] as Float64Array,
    n,
  );
  const classes = logits.length / n;
  let total = 0;
  for (let b = 0; b < n; b++) {
    const row = Array.from(logits.subarray(b * classes, (b + 1) * classes));
    const max = Math.max(...row);
    total +=
      Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)) + max - (row[labels[b] as number] as number);
  }
  return total / n;
}

describe('CNN', () => {
  it('has the shapes of two stride-2 convolutions, a hidden layer and the output layer', () => {
    const model = createCnn({ inputShape: [28, 28, 1], classes: 10, filters: [16, 32], hidden: 64 });
    expect(model.paramSpecs.map((p) => p.shape)).toEqual([
      [3, 3, 1, 16],
      [16],
      [3, 3, 16, 32],
      [32],
      [7 * 7 * 32, 64],
      [64],
      [64, 10],
      [10],
    ]);
    expect(createModel(model.config).paramSpecs).toEqual(model.paramSpecs);
    const params = toTensors(model, model.init(createRng(1)));
    const out = model.apply(params, tf.zeros([3, 28, 28, 1]));
    expect(out.shape).toEqual([3, 10]);
    tf.dispose([out, ...params]);
    const cifar = createCnn({ inputShape: [32, 32, 3], classes: 10, filters: [8], hidden: 0 });
    expect(cifar.paramSpecs.map((p) => p.shape)).toEqual([[3, 3, 3, 8], [8], [16 * 16 * 8, 10], [10]]);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`has loss gradients that match float64 finite differences (${backend})`, async () => {
      await initBackend(backend);
      const model = createCnn({ inputShape: [9, 9, 2], classes: 3, filters: [3, 4], hidden: 5 });
      const xShape = [6, 9, 9, 2];
      const labels = [0, 1, 2, 1, 2, 0];
      const xValues = createRng('cnn-x').fillUniform(new Float32Array(6 * 9 * 9 * 2), -1, 1);
      const params = model.init(createRng(6));
      // Nonzero biases, so that the ReLUs of the test are not all decided by the kernels alone.
      params.forEach((p, i) => {
        if (model.paramSpecs[i]!.name.endsWith('/bias')) createRng(`bias${i}`).fillUniform(p, -0.2, 0.2);
      });
      const grads = tf.tidy(() => {
        const x = tf.tensor(xValues, xShape);
        const y = tf.tensor1d(labels, 'int32');
        return toArrays(
          tf.valueAndGrads((...q: tf.Tensor[]) => model.loss(q, x, y))(toTensors(model, params)).grads,
        );
      });
      const x64 = Float64Array.from(xValues);
      const p64 = params.map((p) => Float64Array.from(p));
      const rng = createRng('cnn-directions');
      for (let trial = 0; trial < 3; trial++) {
        const directions = p64.map((p) => Float64Array.from(p, () => rng.uniform(-1, 1)));
        const h = 1e-6;
        const at = (sign: number) =>
          cnnLoss64(
            p64.map((p, i) => p.map((v, k) => v + sign * h * (directions[i]?.[k] ?? 0))),
            x64,
            xShape,
            labels,
            2,
          );
        const numeric = (at(1) - at(-1)) / (2 * h);
        let analytic = 0;
        let scale = 0;
        grads.forEach((g, i) => {
          g.forEach((gk, k) => {
            analytic += gk * (directions[i]?.[k] ?? 0);
            scale += Math.abs(gk * (directions[i]?.[k] ?? 0));
          });
        });
        expect(Math.abs(numeric - analytic) / scale).toBeLessThanOrEqual(1e-4);
      }
      // The float32 loss itself agrees with the float64 reference.
      const loss32 = tf.tidy(
        () =>
          model
            .loss(toTensors(model, params), tf.tensor(xValues, xShape), tf.tensor1d(labels, 'int32'))
            .dataSync()[0],
      );
      expect(loss32).toBeCloseTo(cnnLoss64(p64, x64, xShape, labels, 2), 5);
      await initBackend('cpu');
    });
  }
});

describe('momentum SGD', () => {
  const run = (o: Parameters<typeof momentumSgd>[0], grads: number[][], start = [1, -2]) => {
    const optimizer = momentumSgd(o);
    let p: tf.Tensor[] = [tf.tensor1d(start)];
    for (const g of grads) {
      const gt = [tf.tensor1d(g)];
      const next = optimizer.step(p, gt);
      tf.dispose([...p, ...gt]);
      p = next;
    }
    const values = Array.from(p[0]!.dataSync());
    tf.dispose(p);
    return { values, optimizer };
  };

  it('follows m ← μ·m + g, p ← p − lr_t·m, with the learning rate of each step from the schedule', () => {
    const grads = [
      [0.5, 1],
      [-1, 2],
      [0.25, -0.5],
    ];
    const lr = (t: number) => [0.1, 0.2, 0.4][t] as number;
    const { values, optimizer } = run({ learningRate: lr, momentum: 0.9 }, grads);
    // By hand: m1 = g1; m2 = 0.9·m1 + g2; m3 = 0.9·m2 + g3; p = p0 − 0.1·m1 − 0.2·m2 − 0.4·m3.
    const m1 = [0.5, 1];
    const m2 = [0.9 * 0.5 - 1, 0.9 * 1 + 2];
    const m3 = [0.9 * m2[0]! + 0.25, 0.9 * m2[1]! - 0.5];
    const expected = [0, 1].map((k) => [1, -2][k]! - 0.1 * m1[k]! - 0.2 * m2[k]! - 0.4 * m3[k]!);
    expect(values[0]).toBeCloseTo(expected[0]!, 6);
    expect(values[1]).toBeCloseTo(expected[1]!, 6);
    const state = optimizer.exportState();
    expect(state).toMatchObject({ name: 'momentum', steps: 3, shapes: [[2]] });
    expect(state.m?.length).toBe(2);
    expect(state.m?.[0]).toBeCloseTo(m3[0]!, 6);
    expect(state.m?.[1]).toBeCloseTo(m3[1]!, 6);
    optimizer.dispose();
  });

  it('continues exactly from an exported state, and with μ = 0 is plain SGD', () => {
    const grads = [
      [0.3, -0.7],
      [1.1, 0.2],
      [-0.4, 0.9],
      [0.6, 0.6],
    ];
    const straight = run({ learningRate: (t) => 0.05 * (t + 1), momentum: 0.8 }, grads).values;
    const first = run({ learningRate: (t) => 0.05 * (t + 1), momentum: 0.8 }, grads.slice(0, 2));
    const resumed = momentumSgd({ learningRate: (t) => 0.05 * (t + 1), momentum: 0.8 });
    resumed.importState(first.optimizer.exportState());
    let p: tf.Tensor[] = [tf.tensor1d(first.values)];
    for (const g of grads.slice(2)) {
      const gt = [tf.tensor1d(g)];
      const next = resumed.step(p, gt);
      tf.dispose([...p, ...gt]);
      p = next;
    }
    expect(Array.from(p[0]!.dataSync())).toEqual(straight);
    tf.dispose(p);
    const plain = sgd({ learningRate: 0.1 });
    let q: tf.Tensor[] = [tf.tensor1d([1, -2])];
    for (const g of grads) {
      const gt = [tf.tensor1d(g)];
      const next = plain.step(q, gt);
      tf.dispose([...q, ...gt]);
      q = next;
    }
    expect(run({ learningRate: 0.1, momentum: 0 }, grads).values).toEqual(Array.from(q[0]!.dataSync()));
    tf.dispose(q);
    expect(() => momentumSgd({ learningRate: 0.1, momentum: 1 })).toThrow(
      /momentum must be a number in \[0, 1\)/,
    );
    expect(() => resumed.importState({ name: 'adam' })).toThrow(
      /cannot import the state of a "adam" optimizer/,
    );
  });
});

describe('classifierAccuracy', () => {
  it('counts the argmax predictions that match the labels, whatever the batching', () => {
    const model = createMlp({
      inputSize: 4,
      hidden: [6],
      outputSize: 3,
      activation: 'relu',
      task: 'classification',
    });
    const params = model.init(createRng(2));
    const count = 23;
    const set: LabelledImages = {
      count,
      imageShape: [2, 2, 1],
      numClasses: 3,
      pixels: Uint8Array.from({ length: count * 4 }, (_, i) => (i * 37) % 256),
      labels: Uint8Array.from({ length: count }, (_, i) => (i * 2) % 3),
    };
    // By hand: logits of every example at once, then argmax against the labels.
    const x = tf.tensor(
      Float32Array.from(set.pixels, (v) => v / 255),
      [count, 4],
    );
    const logits = tf.tidy(() => model.apply(toTensors(model, params), x).arraySync() as number[][]);
    const loss = tf.tidy(
      () =>
        model
          .loss(toTensors(model, params), x, tf.tensor1d(Array.from(set.labels), 'int32'))
          .dataSync()[0] as number,
    );
    x.dispose();
    const correct = logits.filter((row, i) => row.indexOf(Math.max(...row)) === set.labels[i]).length;
    const before = tf.memory().numTensors;
    for (const batchSize of [1, 5, 1000]) {
      const result = classifierAccuracy(model, params, set, { batchSize });
      expect(result.correct).toBe(correct);
      expect(result.accuracy).toBe(correct / count);
      expect(result.loss).toBeCloseTo(loss, 5);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
