import { describe, expect, it } from 'vitest';
import { currentBackendInfo, initBackend, parseBackendName, tf } from '../src/index.ts';

describe('initBackend', () => {
  it('selects wasm by default, with SIMD, and is idempotent', async () => {
    const info = await initBackend();
    expect(info).toMatchObject({ name: 'wasm', threads: 1, simd: true });
    expect(info.version).toMatch(/tfjs-core 4\.22\.0, tfjs-backend-wasm 4\.22\.0/);
    expect(tf.getBackend()).toBe('wasm');
    expect(await initBackend('wasm')).toBe(info);
    expect(await currentBackendInfo()).toBe(info);
  });

  it('shares one selection between concurrent callers', async () => {
    await initBackend('cpu');
    const [a, b] = [initBackend('wasm'), initBackend('wasm')];
    expect(a).toBe(b);
    expect((await a).name).toBe('wasm');
  });

  it('switches to the cpu reference backend and back', async () => {
    const cpu = await initBackend('cpu');
    expect(cpu).toMatchObject({ name: 'cpu', threads: 1 });
    expect(tf.getBackend()).toBe('cpu');
    expect(tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0])).toBe(3);
    await initBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('explains how to get the tensorflow backend when tfjs-node is absent', async () => {
    await expect(initBackend('tensorflow')).rejects.toThrow(
      /needs @tensorflow\/tfjs-node .*neither is installed.*pnpm add -w @tensorflow\/tfjs-node@4\.22\.0.*not bundled because/s,
    );
    expect(tf.getBackend()).toBe('wasm');
  });

  it('rejects unknown names with the valid ones', () => {
    expect(() => parseBackendName('webgpu', 'config.backend')).toThrow(
      'config.backend: unknown backend "webgpu"; use one of wasm, cpu, tensorflow',
    );
  });

  it('has gradients registered under Node', async () => {
    await initBackend('cpu');
    const g = tf.grad((x: tf.Tensor) => tf.div(tf.sum(tf.mul(x, x)), 2))(tf.tensor1d([1, -2, 3]));
    expect(Array.from(g.dataSync())).toEqual([1, -2, 3]);
  });
});
