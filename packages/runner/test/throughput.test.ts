import { availableParallelism } from 'node:os';
import { initBackend } from '@reptile-bench/backend';
import { describe, expect, it } from 'vitest';
import { measureThroughput } from '../src/throughput/measure.ts';

describe('measureThroughput', () => {
  it('reports the figures of a fixed number of steps', async () => {
    const result = await measureThroughput({ workload: 'sine', workers: 1, steps: 4 });
    expect(result).toMatchObject({
      workload: 'sine',
      backend: 'wasm',
      workers: 1,
      threads_per_worker: 1,
      inner_steps: 4,
    });
    // 4 inner steps per worker ≈ one meta-batch of 5 tasks × 32 steps, rounded up to one meta-iteration.
    expect(result.meta_iterations).toBe(1);
    for (const key of ['inner_steps_per_s', 'meta_iters_per_s', 'train_step_ms', 'forward_ms'] as const)
      expect(result[key]).toBeGreaterThan(0);
    expect(result.train_step_over_forward).toBeCloseTo(result.train_step_cpu_ms / result.forward_cpu_ms, 10);
    expect(result.load_average).toHaveLength(2);
    // the process cannot use more CPU time than its cores give in the wall time
    expect(result.inner_steps_per_process_cpu_s).toBeGreaterThanOrEqual(
      result.inner_steps_per_s / availableParallelism() / 1.05,
    );
    // Linux reports each replica thread's CPU time; a step cannot take less CPU time than wall time allows.
    if (process.platform === 'linux')
      expect(result.inner_steps_per_cpu_s).toBeGreaterThanOrEqual(result.inner_steps_per_s / 1.5);
  });

  it('names the valid workloads', async () => {
    await expect(measureThroughput({ workload: 'omniglot-3w' })).rejects.toThrow(
      'throughput: unknown workload "omniglot-3w"; use one of omniglot-5w1s, omniglot-20w1s, sine',
    );
  });
});

// On tensorflow (tfjs-node); skipped, with the reason printed, where it is not installed
// (`node scripts/tfjs-node.mjs` installs it).
const tensorflowUnavailable = await initBackend('tensorflow').then(
  () => undefined,
  (error: Error) => error.message,
);
if (tensorflowUnavailable !== undefined)
  console.warn(`SKIPPED: throughput on the tensorflow backend: ${tensorflowUnavailable}`);

describe.skipIf(tensorflowUnavailable !== undefined)('measureThroughput on tensorflow', () => {
  it('measures throughput, recording the TensorFlow version', async () => {
    const result = await measureThroughput({ workload: 'sine', backend: 'tensorflow', workers: 1, steps: 4 });
    expect(result).toMatchObject({ backend: 'tensorflow', workers: 1, inner_steps: 4, meta_iterations: 1 });
    expect(result.backend_version).toMatch(/TensorFlow \d+\.\d+\.\d+ \((CPU|GPU)\)$/);
    for (const key of ['inner_steps_per_s', 'meta_iters_per_s', 'train_step_ms', 'forward_ms'] as const)
      expect(result[key]).toBeGreaterThan(0);
    // TensorFlow computes in threads of its own: no per-replica-thread CPU figure, the whole process's instead
    expect(result.inner_steps_per_cpu_s).toBeUndefined();
    expect(result.inner_steps_per_process_cpu_s).toBeGreaterThanOrEqual(
      result.inner_steps_per_s / availableParallelism() / 1.05,
    );
  });
});
