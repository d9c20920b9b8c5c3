import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    // No install of scripts/tfjs-node.mjs here; one in node_modules (a `pnpm add`) would be found all the same.
    const empty = mkdtempSync(join(tmpdir(), 'no-tfjs-node-'));
    mkdirSync(join(empty, 'cpu'));
    writeFileSync(join(empty, 'cpu', 'unavailable.txt'), 'pip could not download tensorflow-cpu==2.21.0\n');
    const before = process.env.REPTILE_BENCH_TFJS_NODE_DIR;
    process.env.REPTILE_BENCH_TFJS_NODE_DIR = empty;
    try {
      await expect(initBackend('tensorflow')).rejects.toThrow(
        new RegExp(
          'needs @tensorflow/tfjs-node .*neither is installed.*`node scripts/tfjs-node.mjs` installs tfjs-node 4\\.22\\.0 ' +
            `.*into ${empty}/cpu.*its last attempt said: pip could not download tensorflow-cpu==2\\.21\\.0.*` +
            'pnpm add -w @tensorflow/tfjs-node@4\\.22\\.0.*not bundled because',
          's',
        ),
      );
    } finally {
      if (before === undefined) delete process.env.REPTILE_BENCH_TFJS_NODE_DIR;
      else process.env.REPTILE_BENCH_TFJS_NODE_DIR = before;
      rmSync(empty, { recursive: true });
    }
    expect(tf.getBackend()).toBe('wasm');
  });

  it('refuses a tfjs-node of another version than tfjs-core, naming both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'old-tfjs-node-'));
    const pkg = join(dir, 'cpu', 'node_modules', '@tensorflow', 'tfjs-node');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: '@tensorflow/tfjs-node', version: '4.21.0' }),
    );
    const before = process.env.REPTILE_BENCH_TFJS_NODE_DIR;
    process.env.REPTILE_BENCH_TFJS_NODE_DIR = dir;
    try {
      await expect(initBackend('tensorflow')).rejects.toThrow(
        `Loading failed: @tensorflow/tfjs-node 4.21.0 in ${pkg} does not match tfjs-core 4.22.0 (install @tensorflow/tfjs-node@4.22.0)`,
      );
    } finally {
      if (before === undefined) delete process.env.REPTILE_BENCH_TFJS_NODE_DIR;
      else process.env.REPTILE_BENCH_TFJS_NODE_DIR = before;
      rmSync(dir, { recursive: true });
    }
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
