import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  adam,
  batchNormEpsilon,
  cloneParams,
  createConv4,
  createMlp,
  createModel,
  loadModel,
  type Model,
  saveModel,
  sgd,
  toArrays,
  toTensors,
  trainStep,
} from '../src/index.ts';
import { conv4Loss64 } from './reference64.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

function randomInputs(seed: string, shape: number[]): tf.Tensor {
  const values = createRng(seed).fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), -1, 1);
  return tf.tensor(values, shape);
}

/** Loss as a function of host parameters, evaluated with tensors. */
function lossAt(model: Model, params: Float32Array[], x: tf.Tensor, y: tf.Tensor): number {
  return tf.tidy(() => model.loss(toTensors(model, params), x, y).dataSync()[0] as number);
}

/**
 * Checks the analytic gradient along random directions against a central difference with Richardson
 * extrapolation (error O(h⁴)), which stays well above float32 rounding for the step sizes used.
 */
function checkDirectionalDerivatives(model: Model, params: Float32Array[], x: tf.Tensor, y: tf.Tensor) {
  const grads = tf.tidy(() => {
    const p = toTensors(model, params);
    const { grads } = tf.valueAndGrads((...q: tf.Tensor[]) => model.loss(q, x, y))(p);
    return toArrays(grads);
  });
  const rng = createRng('directions');
  for (let trial = 0; trial < 3; trial++) {
    const direction = params.map((p) => rng.fillUniform(new Float32Array(p.length), -1, 1));
    const norm = Math.sqrt(direction.reduce((s, d) => s + d.reduce((a, v) => a + v * v, 0), 0));
    const along = (h: number) =>
      params.map((p, i) => p.map((v, k) => v + (h * (direction[i]?.[k] ?? 0)) / norm));
    const central = (h: number) => (lossAt(model, along(h), x, y) - lossAt(model, along(-h), x, y)) / (2 * h);
    const h = 2e-2;
    const numeric = (4 * central(h / 2) - central(h)) / 3;
    const analytic = grads.reduce(
      (s, g, i) => s + g.reduce((a, v, k) => a + (v * (direction[i]?.[k] ?? 0)) / norm, 0),
      0,
    );
    expect(Math.abs(numeric - analytic)).toBeLessThanOrEqual(2e-3 * Math.max(Math.abs(analytic), 1e-2));
  }
}

describe('MLP', () => {
  const model = createMlp({ inputSize: 1, hidden: [64, 64], outputSize: 1 });

  it('has the sine-wave shapes and a regression loss', () => {
    expect(model.paramSpecs.map((s) => s.shape)).toEqual([[1, 64], [64], [64, 64], [64], [64, 1], [1]]);
    expect(model.task).toBe('regression');
    const params = toTensors(model, model.init(createRng(1)));
    const out = model.apply(params, tf.zeros([7, 1]));
    expect(out.shape).toEqual([7, 1]);
    tf.dispose([out, ...params]);
  });

  it('computes the mean squared error', () => {
    const params = model.init(createRng(2));
    const x = tf.tensor2d([[0.5], [-1], [2]]);
    const y = tf.tensor1d([1, 2, 3]);
    const p = toTensors(model, params);
    const out = model.apply(p, x).dataSync();
    const expected = ((out[0]! - 1) ** 2 + (out[1]! - 2) ** 2 + (out[2]! - 3) ** 2) / 3;
    expect(model.loss(p, x, y).dataSync()[0]).toBeCloseTo(expected, 5);
    tf.dispose([x, y, ...p]);
  });

  it('has loss gradients that match finite differences (cpu and wasm)', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      mlpGradientChecks();
    }
    await initBackend('cpu');
  });

  function mlpGradientChecks() {
    const small = createMlp({ inputSize: 3, hidden: [5, 4], outputSize: 1 });
    const x = randomInputs('mlp-x', [6, 3]);
    const y = randomInputs('mlp-y', [6, 1]);
    checkDirectionalDerivatives(small, small.init(createRng(3)), x, y);
    const classifier = createMlp({ inputSize: 3, hidden: [5], outputSize: 4, activation: 'relu' });
    expect(classifier.task).toBe('classification');
    checkDirectionalDerivatives(
      classifier,
      classifier.init(createRng(4)),
      x,
      tf.tensor1d([0, 1, 2, 3, 0, 1], 'int32'),
    );
  }
});

describe('Conv4', () => {
  it('maps Omniglot images to one logit per way', () => {
    const model = createConv4({ ways: 5 });
    expect(model.paramSpecs).toHaveLength(18);
    expect(model.paramSpecs[0]).toEqual({ name: 'conv0/kernel', shape: [3, 3, 1, 64] });
    expect(model.paramSpecs[16]).toEqual({ name: 'dense/kernel', shape: [256, 5] });
    const params = toTensors(model, model.init(createRng(1)));
    const out = model.apply(params, tf.zeros([3, 28, 28, 1]));
    expect(out.shape).toEqual([3, 5]);
    tf.dispose([out, ...params]);
  });

  it('initialises kernels Glorot-uniform, biases 0, gamma 1, beta 0', () => {
    const model = createConv4({ ways: 5 });
    const params = model.init(createRng(7));
    const kernel = params[4] as Float32Array; // conv1: 3×3×64×64, fan in = fan out = 576
    const limit = Math.sqrt(6 / (576 + 576));
    expect(Math.max(...kernel.map(Math.abs))).toBeLessThanOrEqual(limit);
    const mean = kernel.reduce((a, b) => a + b, 0) / kernel.length;
    const variance = kernel.reduce((a, b) => a + (b - mean) ** 2, 0) / kernel.length;
    expect(Math.abs(mean)).toBeLessThan(0.05 * limit);
    expect(variance).toBeCloseTo(limit ** 2 / 3, 4);
    expect([...(params[1] as Float32Array)].every((v) => v === 0)).toBe(true);
    expect([...(params[2] as Float32Array)].every((v) => v === 1)).toBe(true);
    expect([...(params[3] as Float32Array)].every((v) => v === 0)).toBe(true);
    // Same seed, same parameters; another seed, others.
    expect(model.init(createRng(7))[4]).toEqual(kernel);
    expect(model.init(createRng(8))[4]).not.toEqual(kernel);
  });

  it('normalises with the statistics of the batch it is given', () => {
    const model = createConv4({ ways: 3, inputShape: [8, 8, 1], filters: 4 });
    const params = model.init(createRng(5));
    const x = randomInputs('bn-x', [4, 8, 8, 1]);
    const out = (p: Float32Array[], input: tf.Tensor) =>
      tf.tidy(() => model.apply(toTensors(model, p), input).arraySync() as number[][]);
    const base = out(params, x);
    // A constant added to a conv bias is removed by the batch mean.
    const shifted = cloneParams(params);
    (shifted[1] as Float32Array).fill(3.5);
    expect(out(shifted, x)).toEqual(base.map((row) => row.map((v) => expect.closeTo(v, 4))));
    // Repeating the batch leaves the batch mean and (biased) variance unchanged.
    const doubled = out(params, tf.concat([x, x]));
    expect(doubled.slice(0, 4)).toEqual(base.map((row) => row.map((v) => expect.closeTo(v, 4))));
    // An example's output depends on the rest of its batch.
    const alone = out(params, tf.slice(x, [0], [1]));
    expect(Math.abs((alone[0]?.[0] ?? 0) - (base[0]?.[0] ?? 0))).toBeGreaterThan(1e-3);
  });

  // 3 filters take the scalar batch-norm path on wasm, 4 the SIMD one. The numeric side is float64 (step 1e-6):
  // float32 central differences of a ReLU network cross kinks and drown in rounding, especially where batch
  // norm normalises over few values.
  for (const [backend, filters] of [
    ['cpu', 3],
    ['wasm', 3],
    ['wasm', 4],
  ] as const) {
    it(`has loss gradients that match finite differences (${backend}, ${filters} filters)`, async () => {
      await initBackend(backend);
      const model = createConv4({ ways: 3, inputShape: [9, 9, 2], filters });
      const xShape = [6, 9, 9, 2];
      const labels = [0, 1, 2, 1, 2, 0];
      const xValues = createRng('conv-x').fillUniform(new Float32Array(6 * 9 * 9 * 2), -1, 1);
      const params = model.init(createRng(6));
      const grads = tf.tidy(() => {
        const x = tf.tensor(xValues, xShape);
        const y = tf.tensor1d(labels, 'int32');
        const { grads } = tf.valueAndGrads((...q: tf.Tensor[]) => model.loss(q, x, y))(
          toTensors(model, params),
        );
        return toArrays(grads);
      });
      const x64 = Float64Array.from(xValues);
      const p64 = params.map((p) => Float64Array.from(p));
      const rng = createRng('conv-directions');
      for (let trial = 0; trial < 3; trial++) {
        const directions = p64.map((p) => Float64Array.from(p, () => rng.uniform(-1, 1)));
        const h = 1e-6;
        const at = (sign: number) =>
          conv4Loss64(
            p64.map((p, i) => p.map((v, k) => v + sign * h * (directions[i]?.[k] ?? 0))),
            x64,
            xShape,
            labels,
            batchNormEpsilon,
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
      await initBackend('cpu');
    });
  }
});

describe('optimizers', () => {
  it('sgd moves against the gradient', () => {
    const opt = sgd({ learningRate: 0.1 });
    const [p] = opt.step([tf.tensor1d([1, 2])], [tf.tensor1d([0.5, -1])]);
    expect(Array.from(p!.dataSync())).toEqual([expect.closeTo(0.95, 6), expect.closeTo(2.1, 6)]);
  });

  it('adam with beta1 = 0 follows the hand-computed update', () => {
    const lr = 1e-3;
    const b2 = 0.999;
    const eps = 1e-8;
    const opt = adam({ learningRate: lr });
    let p: tf.Tensor[] = [tf.tensor1d([1, -2])];
    const gs = [
      [0.5, -0.25],
      [-1, 2],
    ];
    let v = [0, 0];
    let expected = [1, -2];
    gs.forEach((g, step) => {
      const t = step + 1;
      v = v.map((vi, i) => b2 * vi + (1 - b2) * g[i]! ** 2);
      const stepSize = (lr * Math.sqrt(1 - b2 ** t)) / (1 - 0 ** t);
      expected = expected.map((e, i) => e - (stepSize * g[i]!) / (Math.sqrt(v[i]!) + eps));
      const next = opt.step(p, [tf.tensor1d(g)]);
      tf.dispose(p);
      p = next;
    });
    expect(Array.from(p[0]!.dataSync())).toEqual(expected.map((e) => expect.closeTo(e, 6)));
    const before = tf.memory().numTensors;
    opt.reset();
    expect(tf.memory().numTensors).toBe(before - 1); // the second moment is gone
  });

  it('adam with beta1 > 0 keeps a first moment', () => {
    const opt = adam({ learningRate: 0.1, beta1: 0.9, beta2: 0.99, epsilon: 1e-7 });
    let p: tf.Tensor[] = [tf.scalar(0)];
    let m = 0;
    let v = 0;
    let expected = 0;
    for (const [t, g] of [
      [1, 1],
      [2, -3],
      [3, 2],
    ] as const) {
      m = 0.9 * m + 0.1 * g;
      v = 0.99 * v + 0.01 * g * g;
      expected -= ((0.1 * Math.sqrt(1 - 0.99 ** t)) / (1 - 0.9 ** t)) * (m / (Math.sqrt(v) + 1e-7));
      p = opt.step(p, [tf.scalar(g)]);
    }
    expect(p[0]!.dataSync()[0]).toBeCloseTo(expected, 6);
  });

  it('rejects bad settings', () => {
    expect(() => adam({ learningRate: -1 })).toThrow(/learningRate/);
    expect(() => adam({ learningRate: 1, beta2: 1 })).toThrow(/beta2/);
  });
});

describe('trainStep', () => {
  it('lowers the loss and keeps the tensor count flat', () => {
    const model = createMlp({ inputSize: 1, hidden: [16], outputSize: 1 });
    const x = randomInputs('ts-x', [10, 1]);
    const y = tf.tidy(() => tf.sin(x));
    const opt = adam({ learningRate: 0.02 });
    let params = toTensors(model, model.init(createRng(9)));
    const first = trainStep(model, opt, params, x, y);
    params = first.params;
    const count = tf.memory().numTensors;
    let loss = first.loss;
    for (let i = 0; i < 30; i++) {
      const r = trainStep(model, opt, params, x, y);
      params = r.params;
      loss = r.loss;
      expect(tf.memory().numTensors).toBe(count);
    }
    expect(loss).toBeLessThan(first.loss / 2);
  });
});

describe('saveModel / loadModel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'models-io-'));

  it('round-trips config, parameters and metadata', async () => {
    const model = createConv4({ ways: 5, filters: 8 });
    const params = model.init(createRng(11));
    const file = join(dir, 'nested', 'model.json');
    await saveModel(file, model, params, { seed: 11, note: 'test' });
    const loaded = await loadModel(file);
    expect(loaded.model.config).toEqual(model.config);
    expect(loaded.params).toEqual(params);
    expect(loaded.metadata).toEqual({ seed: 11, note: 'test' });
    expect(createModel(model.config).paramSpecs).toEqual(model.paramSpecs);
  });

  it('names the problem in a corrupt or foreign file', async () => {
    const model = createMlp({ inputSize: 1, hidden: [4], outputSize: 1 });
    const file = join(dir, 'mlp.json');
    await saveModel(file, model, model.init(createRng(1)));
    const doc = JSON.parse(readFileSync(file, 'utf8'));

    writeFileSync(file, '{"format": "reptile-bench/model", "version": 1, "conf');
    await expect(loadModel(file)).rejects.toThrow(/mlp\.json: not valid JSON/);

    writeFileSync(file, JSON.stringify({ ...doc, version: 99 }));
    await expect(loadModel(file)).rejects.toThrow(/version 99 is not supported.*reads version 1/);

    const tampered = structuredClone(doc);
    tampered.params[0].data = Buffer.from(new Float32Array(4).buffer).toString('base64');
    writeFileSync(file, JSON.stringify(tampered));
    await expect(loadModel(file)).rejects.toThrow(/params\[0\] \(dense0\/kernel\) fails its sha256 check/);

    const truncated = structuredClone(doc);
    truncated.params[2].data = truncated.params[2].data.slice(0, 8);
    writeFileSync(file, JSON.stringify(truncated));
    await expect(loadModel(file)).rejects.toThrow(
      /params\[2\] \(output\/kernel\) holds 6 bytes, expected 16/,
    );

    writeFileSync(file, JSON.stringify({ ...doc, config: { ...doc.config, hidden: [0] } }));
    await expect(loadModel(file)).rejects.toThrow(/config.*hidden\[0\] must be a positive integer/);
  });
});
