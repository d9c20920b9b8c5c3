// Replica-side work of the throughput benchmark (see measure.ts); runs in the pool's worker threads.
import { readFileSync } from 'node:fs';
import { type PackedArrays, tf, unpackArrays } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { adam, createModel, type Model, toArrays, toTensors, trainStep } from '@reptile-bench/models';

export interface ReplicaWork {
  config: Record<string, unknown>;
  batchSize: number;
  learningRate: number;
  seed: string;
}

/** A synthetic batch: uniform pixels, labels cycling through the classes (it measures compute, not learning). */
export function syntheticBatch(
  model: Model,
  batchSize: number,
  seed: string,
): { x: tf.Tensor; y: tf.Tensor } {
  const perExample = model.inputShape.reduce((a, b) => a * b, 1);
  const values = createRng(seed).fillUniform(new Float32Array(batchSize * perExample), 0, 1);
  const labels = Int32Array.from({ length: batchSize }, (_, i) => i % model.outputSize);
  return {
    x: tf.tensor(values, [batchSize, ...model.inputShape]),
    y:
      model.task === 'classification'
        ? tf.tensor1d(labels, 'int32')
        : tf.tensor2d(values.slice(0, batchSize), [batchSize, 1]),
  };
}

/**
 * CPU time of the calling thread in seconds, from Linux's scheduler statistics (ns resolution), or undefined
 * elsewhere. Node's process.cpuUsage() counts every thread of the process, so it cannot tell workers apart.
 */
function threadCpuSeconds(): number | undefined {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e9;
  } catch {
    return undefined;
  }
}

/**
 * `steps` Adam steps on one batch from `params`; returns the wall-clock and thread CPU seconds the steps took
 * (setup excluded).
 */
export function innerSteps(work: ReplicaWork & { params: PackedArrays; steps: number }): {
  seconds: number;
  cpuSeconds?: number;
} {
  const model = createModel(work.config);
  const { x, y } = syntheticBatch(model, work.batchSize, work.seed);
  const optimizer = adam({ learningRate: work.learningRate });
  let params = toTensors(model, unpackArrays(work.params));
  const start = performance.now();
  const cpuStart = threadCpuSeconds();
  for (let i = 0; i < work.steps; i++) params = trainStep(model, optimizer, params, x, y).params;
  const cpuEnd = threadCpuSeconds();
  const seconds = (performance.now() - start) / 1000;
  tf.dispose([...params, x, y]);
  optimizer.dispose();
  return cpuStart === undefined || cpuEnd === undefined
    ? { seconds }
    : { seconds, cpuSeconds: cpuEnd - cpuStart };
}

/** Reptile's per-task work: adapt φ for `iterations` Adam steps (fresh optimizer) and return the result. */
export function adaptTask(work: ReplicaWork & { phi: PackedArrays; iterations: number }): Float32Array[] {
  const model = createModel(work.config);
  const { x, y } = syntheticBatch(model, work.batchSize, work.seed);
  const optimizer = adam({ learningRate: work.learningRate });
  let params = toTensors(model, unpackArrays(work.phi));
  for (let i = 0; i < work.iterations; i++) params = trainStep(model, optimizer, params, x, y).params;
  const adapted = toArrays(params);
  tf.dispose([...params, x, y]);
  optimizer.dispose();
  return adapted;
}
