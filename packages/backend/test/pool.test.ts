import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReplicaPool, packArrays, type ReplicaPool, unpackArrays } from '../src/index.ts';

describe('createReplicaPool', () => {
  let pool: ReplicaPool;
  beforeAll(async () => {
    pool = await createReplicaPool({
      module: new URL('./fixtures/replica-tasks.ts', import.meta.url),
      workers: 2,
    });
  });
  afterAll(async () => {
    await pool?.destroy();
  });

  it('starts each worker on its own wasm backend', async () => {
    expect(pool.workers).toBe(2);
    expect(pool.info).toMatchObject({ name: 'wasm', simd: true, threads: 1 });
    // Enough concurrent calls that both workers take some.
    const seen = await Promise.all(
      Array.from({ length: 8 }, () => pool.run<{ threadId: number; backend: string }>('whoAmI')),
    );
    expect(new Set(seen.map((s) => s.threadId)).size).toBe(2);
    expect(seen.every((s) => s.backend === 'wasm' && s.threadId !== 0)).toBe(true);
  });

  it('shares parameters through a SharedArrayBuffer and moves results back', async () => {
    const params = packArrays([new Float32Array([1, 2, 3]), new Float32Array([-4])]);
    expect(params.buffer).toBeInstanceOf(SharedArrayBuffer);
    const results = await Promise.all(
      [2, 3].map((factor) =>
        pool.run<{ scaled: Float32Array[]; tensors: number }>('scale', { params, factor }),
      ),
    );
    expect(results.map((r) => r.scaled.map((a) => Array.from(a)))).toEqual([
      [[2, 4, 6], [-8]],
      [[3, 6, 9], [-12]],
    ]);
    expect(results.every((r) => r.tensors === 0)).toBe(true);
    expect(unpackArrays(params).map((a) => Array.from(a))).toEqual([[1, 2, 3], [-4]]);
  });

  it('moves a transferred input buffer instead of copying it', async () => {
    const params = packArrays([new Float32Array([0.5, 1.5])], { shared: false });
    const done = pool.run<{ scaled: Float32Array[] }>(
      'scale',
      { params, factor: 4 },
      { transfer: [params.buffer as ArrayBuffer] },
    );
    expect(params.buffer.byteLength).toBe(0); // detached here: it went to the worker
    expect(Array.from((await done).scaled[0] ?? [])).toEqual([2, 6]);
  });

  it('returns plain ArrayBuffers intact', async () => {
    const result = await pool.run<{ buffer: ArrayBuffer; lengths: number[] }>('packed', { values: [1, 2.5] });
    expect(Array.from(new Float32Array(result.buffer))).toEqual([1, 2.5]);
    expect(result.lengths).toEqual([2]);
  });

  it('keeps the tensor count flat in workers across repeated training steps', async () => {
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        pool.run<{ final: number[]; tensors: number }>('adamSteps', { start: [1, -2, i], steps: 5 + i }),
      ),
    );
    expect(runs.every((r) => r.tensors === 0)).toBe(true);
    // Adam moves each coordinate toward the minimum at 0 by about stepSize per step.
    expect(Math.abs(runs[0]?.final[0] ?? 1)).toBeLessThan(1);
  });

  it('reports errors from the task and a missing function by name', async () => {
    await expect(pool.run('fail')).rejects.toThrow('deliberate failure in a replica');
    await expect(pool.run('nope')).rejects.toThrow(
      /exports no function "nope" \(it exports: adamSteps, fail, packed, scale, whoAmI\)/,
    );
  });

  it('names a missing module', async () => {
    await expect(
      createReplicaPool({ module: new URL('./fixtures/no-such-file.ts', import.meta.url) }),
    ).rejects.toThrow(/createReplicaPool: module file:.*no-such-file\.ts does not exist/);
  });

  it('rejects a bad worker count', async () => {
    await expect(
      createReplicaPool({ module: new URL('./fixtures/replica-tasks.ts', import.meta.url), workers: 0 }),
    ).rejects.toThrow('createReplicaPool: workers must be a positive integer, got 0');
  });
});
