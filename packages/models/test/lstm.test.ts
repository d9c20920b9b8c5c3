import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { describe, expect, it } from 'vitest';
import {
  adam,
  createLstmClassifier,
  createModel,
  loadModel,
  type Model,
  saveModel,
  sentenceLengths,
  toArrays,
  toTensors,
  trainStep,
} from '../src/index.ts';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** The classifier's mean cross-entropy in float64 from host parameters: the reference for finite differences. */
function lstmLoss64(model: Model, params: Float64Array[], ids: number[][], labels: number[]): number {
  const {
    embedding: width,
    hidden,
    bidirectional,
    classes,
  } = model.config as {
    embedding: number;
    hidden: number;
    bidirectional: boolean;
    classes: number;
  };
  const table = params[0] as Float64Array;
  const g4 = 4 * hidden;
  let total = 0;
  ids.forEach((row, n) => {
    const tokens = row.filter((id) => id !== 0);
    const features: number[] = [];
    for (let d = 0; d < (bidirectional ? 2 : 1); d++) {
      const [kernel, recurrent, bias] = params.slice(1 + 3 * d, 4 + 3 * d) as [
        Float64Array,
        Float64Array,
        Float64Array,
      ];
      let h = new Float64Array(hidden);
      const c = new Float64Array(hidden);
      const order = d === 0 ? tokens : [...tokens].reverse();
      for (const id of order) {
        const z = new Float64Array(g4);
        for (let q = 0; q < g4; q++) {
          let sum = bias[q] as number;
          for (let e = 0; e < width; e++)
            sum += (table[id * width + e] as number) * (kernel[e * g4 + q] as number);
          for (let r = 0; r < hidden; r++) sum += (h[r] as number) * (recurrent[r * g4 + q] as number);
          z[q] = sum;
        }
        const next = new Float64Array(hidden);
        for (let k = 0; k < hidden; k++) {
          c[k] =
            sigmoid(z[hidden + k] as number) * (c[k] as number) +
            sigmoid(z[k] as number) * Math.tanh(z[2 * hidden + k] as number);
          next[k] = sigmoid(z[3 * hidden + k] as number) * Math.tanh(c[k] as number);
        }
        h = next;
      }
      features.push(...h);
    }
    const dk = params.at(-2) as Float64Array;
    const db = params.at(-1) as Float64Array;
    const logits = Array.from({ length: classes }, (_, j) =>
      features.reduce((s, f, i) => s + f * (dk[i * classes + j] as number), db[j] as number),
    );
    const max = Math.max(...logits);
    const logSum = Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0)) + max;
    total += logSum - (logits[labels[n] as number] as number);
  });
  return total / ids.length;
}

const ids = [
  [3, 5, 2, 7, 0, 0],
  [4, 1, 0, 0, 0, 0],
  [6, 6, 6, 2, 5, 3],
  [0, 0, 0, 0, 0, 0],
];
const labels = [1, 0, 1, 0];
const inputs = () => ({
  x: tf.tensor2d(ids.flat(), [ids.length, 6]),
  y: tf.tensor1d(labels, 'int32'),
});

function analyticGrads(model: Model, params: Float32Array[]) {
  const { x, y } = inputs();
  const result = tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads((...p: tf.Tensor[]) => model.loss(p, x, y))(
      toTensors(model, params),
    );
    return { loss: value.dataSync()[0] as number, grads: toArrays(grads) };
  });
  tf.dispose([x, y]);
  return result;
}

describe('LSTM text classifier', () => {
  for (const bidirectional of [false, true]) {
    const model = createLstmClassifier({
      vocabSize: 8,
      maxLength: 6,
      embedding: 5,
      hidden: 4,
      bidirectional,
    });
    const init = model.init(createRng(`lstm-${bidirectional}`));
    // Larger recurrent weights than the init, so the recurrence matters in the check.
    const params = init.map((p, i) =>
      model.paramSpecs[i]?.name.endsWith('/recurrent') ? p.map((v) => v * 2) : p,
    );
    for (const backend of ['cpu', 'wasm'] as const) {
      it(`has loss gradients that match central differences of its float64 definition (${backend}${bidirectional ? ', bidirectional' : ''})`, async () => {
        await initBackend(backend);
        const { loss, grads } = analyticGrads(model, params);
        const p64 = params.map((p) => Float64Array.from(p));
        expect(loss).toBeCloseTo(lstmLoss64(model, p64, ids, labels), 5);
        const rng = createRng('lstm-directions');
        for (let trial = 0; trial < 4; trial++) {
          const dir = p64.map((p) => Float64Array.from(p, () => rng.uniform(-1, 1)));
          const h = 1e-6;
          const at = (sign: number) => p64.map((p, i) => p.map((v, k) => v + sign * h * (dir[i]?.[k] ?? 0)));
          const numeric =
            (lstmLoss64(model, at(1), ids, labels) - lstmLoss64(model, at(-1), ids, labels)) / (2 * h);
          let analytic = 0;
          let scale = 0;
          grads.forEach((g, i) => {
            g.forEach((v, k) => {
              analytic += v * (dir[i]?.[k] ?? 0);
              scale += Math.abs(v * (dir[i]?.[k] ?? 0));
            });
          });
          expect(Math.abs(numeric - analytic) / scale, `direction ${trial}`).toBeLessThan(1e-4);
        }
      });
    }

    it(`computes the same loss, gradients and Adam step on wasm and cpu${bidirectional ? ' (bidirectional)' : ''}`, async () => {
      const run = async (backend: 'wasm' | 'cpu') => {
        await initBackend(backend);
        const { loss, grads } = analyticGrads(model, params);
        const { x, y } = inputs();
        const optimizer = adam({ learningRate: 1e-2, beta1: 0.9 });
        const step = trainStep(model, optimizer, toTensors(model, params), x, y);
        const after = toArrays(step.params);
        tf.dispose([...step.params, x, y]);
        optimizer.dispose();
        return { loss, grads, after };
      };
      const wasm = await run('wasm');
      const cpu = await run('cpu');
      expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-6);
      model.paramSpecs.forEach((spec, i) => {
        const [w, c] = [wasm.grads[i] as Float32Array, cpu.grads[i] as Float32Array];
        const scale = Math.max(1e-6, ...Array.from(c, Math.abs));
        const diff = Math.max(0, ...Array.from(w, (v, k) => Math.abs(v - (c[k] as number))));
        expect(diff / scale, `gradient of ${spec.name}`).toBeLessThan(1e-4);
        const moved = Math.max(
          0,
          ...Array.from(wasm.after[i] as Float32Array, (v, k) => Math.abs(v - (cpu.after[i]?.[k] as number))),
        );
        // Adam's first step is ≈ lr·sign(g): equal unless a gradient is at rounding level (padding rows are exactly 0).
        expect(moved, `${spec.name} after one step`).toBeLessThan(1e-5);
      });
    });
  }

  it('gives the same logits whatever padding follows the sentences', async () => {
    await initBackend('wasm');
    const short = createLstmClassifier({ vocabSize: 8, maxLength: 6, embedding: 4, hidden: 8 });
    const long = createLstmClassifier({ vocabSize: 8, maxLength: 20, embedding: 4, hidden: 8 });
    const params = short.init(createRng('padding'));
    const pad = (rows: number[][], length: number) =>
      rows.flatMap((r) => [...r, ...Array(length - r.length).fill(0)]);
    const a = tf.tidy(() =>
      short.apply(toTensors(short, params), tf.tensor2d(pad(ids, 6), [4, 6])).dataSync(),
    );
    const b = tf.tidy(() =>
      long.apply(toTensors(long, params), tf.tensor2d(pad(ids, 20), [4, 20])).dataSync(),
    );
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('initialises as Keras: forget-gate bias 1, orthogonal recurrent rows, embedding in ±0.05', () => {
    const model = createLstmClassifier({ vocabSize: 50, maxLength: 10, embedding: 16, hidden: 8 });
    const params = model.init(createRng(3));
    const [table, , recurrent, bias] = params as [Float32Array, Float32Array, Float32Array, Float32Array];
    expect(Math.max(...Array.from(table, Math.abs))).toBeLessThanOrEqual(0.05);
    expect(Array.from(bias)).toEqual([...Array(8).fill(0), ...Array(8).fill(1), ...Array(16).fill(0)]);
    for (let i = 0; i < 8; i++)
      for (let j = 0; j < 8; j++) {
        let dot = 0;
        for (let k = 0; k < 32; k++)
          dot += (recurrent[i * 32 + k] as number) * (recurrent[j * 32 + k] as number);
        expect(dot).toBeCloseTo(i === j ? 1 : 0, 5);
      }
    expect(model.paramSpecs.map((s) => s.name)).toEqual([
      'embedding/table',
      'lstm/kernel',
      'lstm/recurrent',
      'lstm/bias',
      'dense/kernel',
      'dense/bias',
    ]);
  });

  it('names malformed input: a token after the padding, an id outside the vocabulary', () => {
    expect(() => sentenceLengths(Float32Array.from([3, 0, 4, 0]), 4, 8)).toThrow(
      /example 0 has token id 4 at position 2, after padding at position 1; pad sentences at the end/,
    );
    expect(() => sentenceLengths(Float32Array.from([3, 9]), 2, 8)).toThrow(
      /example 0 has token id 9 at position 1; ids run from 0 to 7/,
    );
    expect(Array.from(sentenceLengths(Float32Array.from([1, 2, 0, 0, 0, 0]), 3, 8))).toEqual([2, 0]);
  });

  it('keeps the tensor count flat across training steps and round-trips through saveModel', async () => {
    await initBackend('wasm');
    const model = createLstmClassifier({
      vocabSize: 8,
      maxLength: 6,
      embedding: 8,
      hidden: 8,
      bidirectional: true,
    });
    const optimizer = adam({ learningRate: 1e-2, beta1: 0.9 });
    const { x, y } = inputs();
    let params = toTensors(model, model.init(createRng(4)));
    params = trainStep(model, optimizer, params, x, y).params;
    const count = tf.memory().numTensors;
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const step = trainStep(model, optimizer, params, x, y);
      params = step.params;
      losses.push(step.loss);
    }
    expect(tf.memory().numTensors).toBe(count);
    expect(losses.at(-1)).toBeLessThan((losses[0] as number) * 0.5);
    const file = join(mkdtempSync(join(tmpdir(), 'lstm-model-')), 'model.json');
    await saveModel(file, model, toArrays(params));
    const loaded = await loadModel(file);
    expect(loaded.model.config).toEqual(model.config);
    expect(createModel(model.config).paramSpecs).toEqual(model.paramSpecs);
    tf.dispose([...params, x, y]);
    optimizer.dispose();
  });
});
