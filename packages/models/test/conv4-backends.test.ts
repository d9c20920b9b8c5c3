import { type BackendName, createReplicaPool, initBackend, packArrays, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { describe, expect, it } from 'vitest';
import {
  adam,
  createConv4,
  createMlp,
  type Model,
  sgd,
  toArrays,
  toTensors,
  trainStep,
} from '../src/index.ts';

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);

function batch(model: Model, seed: string) {
  const [h, w, c] = model.inputShape as [number, number, number];
  const x = createRng(seed).fillUniform(new Float32Array(10 * h * w * c), 0, 1);
  const y = Int32Array.from({ length: 10 }, (_, i) => i % model.outputSize);
  return { x: tf.tensor(x, [10, h, w, c]), y: tf.tensor1d(y, 'int32') };
}

/** Loss, gradients and the parameters after one Adam step (β1 = 0, the Reptile inner loop) on a backend. */
async function oneStep(backend: BackendName, model: Model, init: Float32Array[]) {
  await initBackend(backend);
  const { x, y } = batch(model, 'step-batch');
  const params = toTensors(model, init);
  const { value, grads } = tf.valueAndGrads((...p: tf.Tensor[]) => model.loss(p, x, y))(params);
  const result = { loss: value.dataSync()[0] as number, grads: toArrays(grads) };
  tf.dispose([value, ...grads]);
  const optimizer = adam({ learningRate: 1e-3 });
  const step = trainStep(model, optimizer, params, x, y);
  const after = toArrays(step.params);
  tf.dispose([...step.params, x, y]);
  optimizer.dispose();
  return { ...result, stepLoss: step.loss, after };
}

/** A backend's loss, gradients and Adam step against cpu's. */
function expectSameStep(
  backend: BackendName,
  model: Model,
  got: Awaited<ReturnType<typeof oneStep>>,
  cpu: Awaited<ReturnType<typeof oneStep>>,
) {
  expect(Math.abs(got.loss - cpu.loss) / cpu.loss, `loss on ${backend}`).toBeLessThan(1e-5);
  expect(got.stepLoss).toBeCloseTo(cpu.stepLoss, 5);
  // A conv bias feeds batch norm, which removes it: its gradient is 0 up to rounding on both backends, so it is
  // measured against the scale of the kernel gradients.
  const kernelScale = maxAbs(cpu.grads[0] as Float32Array);
  const scaleOf = (i: number) =>
    /conv\d\/bias/.test(model.paramSpecs[i]?.name ?? '') ? kernelScale : maxAbs(cpu.grads[i] as Float32Array);
  model.paramSpecs.forEach((spec, i) => {
    const [g, c] = [got.grads[i] as Float32Array, cpu.grads[i] as Float32Array];
    expect(maxAbsDiff(g, c) / scaleOf(i), `gradient of ${spec.name} on ${backend}`).toBeLessThan(1e-4);
  });
  // Adam's first step moves each parameter by ≈ lr·sign(g); where |g| is at rounding level the sign may differ.
  model.paramSpecs.forEach((spec, i) => {
    const [a, c, g] = [
      got.after[i] as Float32Array,
      cpu.after[i] as Float32Array,
      cpu.grads[i] as Float32Array,
    ];
    const clear = scaleOf(i) * 1e-3;
    c.forEach((ck, k) => {
      const tolerance = Math.abs(g[k] as number) > clear ? 1e-6 : 2e-3;
      expect(
        Math.abs((a[k] as number) - ck),
        `${spec.name}[${k}] after one step on ${backend}`,
      ).toBeLessThanOrEqual(tolerance);
    });
  });
}

describe('Conv4 on wasm and cpu', () => {
  // 16 filters keep the pure-JS cpu reference fast; the layers and code paths are those of the 64-filter model.
  const model = createConv4({ ways: 5, filters: 16 });
  const init = model.init(createRng('conv4-backends'));

  it('computes the same loss, gradients and Adam step', async () => {
    expectSameStep('wasm', model, await oneStep('wasm', model, init), await oneStep('cpu', model, init));
  });

  it('keeps the tensor count flat across training steps (full-size model on wasm)', async () => {
    await initBackend('wasm');
    const full = createConv4({ ways: 5 });
    const { x, y } = batch(full, 'leak-batch');
    const optimizer = adam({ learningRate: 1e-3 });
    let params = toTensors(full, full.init(createRng(3)));
    params = trainStep(full, optimizer, params, x, y).params;
    const count = tf.memory().numTensors;
    const losses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const step = trainStep(full, optimizer, params, x, y);
      params = step.params;
      losses.push(step.loss);
      expect(tf.memory().numTensors).toBe(count);
    }
    expect(losses.at(-1)).toBeLessThan(losses[0] as number); // it is learning the batch
    tf.dispose([...params, x, y]);
    optimizer.dispose();
  });

  it('trains in replica workers without leaking tensors, with the same result as here', async () => {
    const pool = await createReplicaPool({
      module: new URL('./fixtures/train-task.ts', import.meta.url),
      workers: 2,
    });
    try {
      const params = packArrays(init);
      const payload = { config: model.config, params, steps: 4, seed: 5 };
      const [a, b] = await Promise.all([
        pool.run<{ params: Float32Array[]; losses: number[]; counts: number[]; after: number }>(
          'train',
          payload,
        ),
        pool.run<{ params: Float32Array[]; losses: number[]; counts: number[]; after: number }>(
          'train',
          payload,
        ),
      ]);
      for (const run of [a, b]) {
        expect(new Set(run?.counts).size).toBe(1);
        expect(run?.after).toBe(0);
      }
      // Same payload, same numbers, whichever worker ran it.
      expect(a?.losses).toEqual(b?.losses);
      expect(a?.params).toEqual(b?.params);
      // And the same as this thread computes.
      const { train } = await import('./fixtures/train-task.ts');
      await initBackend('wasm');
      const here = train(payload);
      expect(here.losses).toEqual(a?.losses);
    } finally {
      await pool.destroy();
    }
  });
});

// The tensorflow backend (tfjs-node) against the same cpu reference; skipped, with the reason printed, where
// tfjs-node is not installed (`node scripts/tfjs-node.mjs` installs it).
const tensorflowUnavailable = await initBackend('tensorflow').then(
  () => undefined,
  (error: Error) => error.message,
);
if (tensorflowUnavailable !== undefined)
  console.warn(`SKIPPED: Conv4 and the MLP on the tensorflow backend: ${tensorflowUnavailable}`);

describe.skipIf(tensorflowUnavailable !== undefined)(
  `Conv4 and the MLP on tensorflow${tensorflowUnavailable === undefined ? '' : ' (skipped: tfjs-node is not installed)'}`,
  () => {
    const model = createConv4({ ways: 5, filters: 16 });
    const init = model.init(createRng('conv4-backends'));

    it("computes cpu's loss, gradients and Adam step", async () => {
      expectSameStep(
        'tensorflow',
        model,
        await oneStep('tensorflow', model, init),
        await oneStep('cpu', model, init),
      );
    });

    it('trains the full-size model reproducibly, without growing the tensor count', async () => {
      await initBackend('tensorflow');
      const full = createConv4({ ways: 5 });
      const run = () => {
        const { x, y } = batch(full, 'tf-leak-batch');
        const optimizer = adam({ learningRate: 1e-3 });
        let params = toTensors(full, full.init(createRng(3)));
        params = trainStep(full, optimizer, params, x, y).params;
        const count = tf.memory().numTensors;
        const losses: number[] = [];
        for (let i = 0; i < 8; i++) {
          const step = trainStep(full, optimizer, params, x, y);
          params = step.params;
          losses.push(step.loss);
          expect(tf.memory().numTensors).toBe(count);
        }
        const after = toArrays(params);
        tf.dispose([...params, x, y]);
        optimizer.dispose();
        return { losses, after };
      };
      const first = run();
      expect(first.losses.at(-1)).toBeLessThan(first.losses[0] as number); // it is learning the batch
      // the same steps again give the same bits
      const second = run();
      expect(second.losses).toEqual(first.losses);
      expect(second.after).toEqual(first.after);
    });

    it('trains in replica workers with the result of this thread', async () => {
      const pool = await createReplicaPool({
        module: new URL('./fixtures/train-task.ts', import.meta.url),
        workers: 2,
        backend: 'tensorflow',
      });
      try {
        expect(pool.info.name).toBe('tensorflow');
        const payload = { config: model.config, params: packArrays(init), steps: 3, seed: 5 };
        type Result = { params: Float32Array[]; losses: number[]; counts: number[]; after: number };
        const [a, b] = await Promise.all([
          pool.run<Result>('train', payload),
          pool.run<Result>('train', payload),
        ]);
        for (const run of [a, b]) {
          expect(new Set(run.counts).size).toBe(1);
          expect(run.after).toBe(0);
        }
        expect(a.params).toEqual(b.params);
        const { train } = await import('./fixtures/train-task.ts');
        await initBackend('tensorflow');
        expect(train(payload).losses).toEqual(a.losses);
      } finally {
        await pool.destroy();
      }
    });

    it('follows cpu through 32 SGD steps of the sine MLP (1→64→64→1, tanh)', async () => {
      const mlp = createMlp({ inputSize: 1, hidden: [64, 64], outputSize: 1, activation: 'tanh' });
      const rng = createRng('tf-sine');
      const xs = rng.fillUniform(new Float32Array(10), -5, 5);
      const ys = xs.map((x) => 3 * Math.sin(x + 1));
      const mlpInit = mlp.init(rng.derive('init'));
      const train = async (backend: BackendName) => {
        await initBackend(backend);
        const x = tf.tensor2d(xs, [10, 1]);
        const y = tf.tensor1d(ys);
        const optimizer = sgd({ learningRate: 0.02 });
        let params = toTensors(mlp, mlpInit);
        const losses: number[] = [];
        for (let i = 0; i < 32; i++) {
          const step = trainStep(mlp, optimizer, params, x, y);
          params = step.params;
          losses.push(step.loss);
        }
        const after = toArrays(params);
        tf.dispose([...params, x, y]);
        return { losses, after };
      };
      const [got, cpu] = [await train('tensorflow'), await train('cpu')];
      expect(cpu.losses.at(-1)).toBeLessThan((cpu.losses[0] as number) / 2);
      got.losses.forEach((loss, i) => {
        expect(
          Math.abs(loss - (cpu.losses[i] as number)) / (cpu.losses[i] as number),
          `loss ${i}`,
        ).toBeLessThan(1e-4);
      });
      mlp.paramSpecs.forEach((spec, i) => {
        const c = cpu.after[i] as Float32Array;
        expect(maxAbsDiff(got.after[i] as Float32Array, c) / maxAbs(c), spec.name).toBeLessThan(1e-4);
      });
    });
  },
);
