import { createReplicaPool, initBackend, packArrays, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { describe, expect, it } from 'vitest';
import { adam, createConv4, type Model, toArrays, toTensors, trainStep } from '../src/index.ts';

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
async function oneStep(backend: 'wasm' | 'cpu', model: Model, init: Float32Array[]) {
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

describe('Conv4 on wasm and cpu', () => {
  // 16 filters keep the pure-JS cpu reference fast; the layers and code paths are those of the 64-filter model.
  const model = createConv4({ ways: 5, filters: 16 });
  const init = model.init(createRng('conv4-backends'));

  it('computes the same loss, gradients and Adam step', async () => {
    const wasm = await oneStep('wasm', model, init);
    const cpu = await oneStep('cpu', model, init);
    expect(Math.abs(wasm.loss - cpu.loss) / cpu.loss).toBeLessThan(1e-5);
    expect(wasm.stepLoss).toBeCloseTo(cpu.stepLoss, 5);
    // A conv bias feeds batch norm, which removes it: its gradient is 0 up to rounding on both backends, so it is
    // measured against the scale of the kernel gradients.
    const kernelScale = maxAbs(cpu.grads[0] as Float32Array);
    const scaleOf = (i: number) =>
      /conv\d\/bias/.test(model.paramSpecs[i]?.name ?? '')
        ? kernelScale
        : maxAbs(cpu.grads[i] as Float32Array);
    model.paramSpecs.forEach((spec, i) => {
      const [w, c] = [wasm.grads[i] as Float32Array, cpu.grads[i] as Float32Array];
      expect(maxAbsDiff(w, c) / scaleOf(i), `gradient of ${spec.name}`).toBeLessThan(1e-4);
    });
    // Adam's first step moves each parameter by ≈ lr·sign(g); where |g| is at rounding level the sign may differ.
    model.paramSpecs.forEach((spec, i) => {
      const [w, c, g] = [
        wasm.after[i] as Float32Array,
        cpu.after[i] as Float32Array,
        cpu.grads[i] as Float32Array,
      ];
      const clear = scaleOf(i) * 1e-3;
      c.forEach((ck, k) => {
        const tolerance = Math.abs(g[k] as number) > clear ? 1e-6 : 2e-3;
        expect(Math.abs((w[k] as number) - ck), `${spec.name}[${k}] after one step`).toBeLessThanOrEqual(
          tolerance,
        );
      });
    });
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
