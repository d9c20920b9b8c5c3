import { randomUUID } from 'node:crypto';
import { type BackendName, initBackend } from '@reptile-bench/backend';
import type { Rng } from '@reptile-bench/core';
import { type BatchStream, type LabelledImages, shuffledBatches } from '@reptile-bench/datasets';
import { type CheckpointHooks, runTrainingLoop, type TrainingSnapshot } from '@reptile-bench/meta';
import { checkParamArrays, type Model, type OptimizerState } from '@reptile-bench/models';
import { averageOf, synchronize } from './average.ts';
import { type LocalSgdOptions, type LocalSgdPlan, learningRateAt, planLocalSgd, syncDue } from './options.ts';
import type { RoundJob } from './replica.ts';
import { inThread, type ReplicaThreads, replicaThreads } from './threads.ts';

/** What local SGD trains on and where it reports; the hooks are those of meta's training loop. */
export interface LocalSgdContext {
  model: Model;
  train: LabelledImages;
  /** Initialisation from `rng.derive('init')`; replica r's batches from `rng.derive('replica', r, 'batches')`. */
  rng: Rng;
  backend: BackendName;
  /** Threads for the replicas (1 = this thread; never more than there are replicas). */
  workers?: number;
  /** Per iteration: `loss` (mean over replicas and steps), `learning_rate`, `synced` (1 after an averaging). */
  onMetrics?: (iteration: number, metrics: Record<string, number>) => void;
  /** The averaged model every `plan.evalIterations` iterations (and at iteration 0): learning curves. */
  evaluate?: (snapshot: TrainingSnapshot, iteration: number) => Promise<Record<string, number>>;
  checkpoint?: CheckpointHooks;
  maxLoss?: number;
  signal?: AbortSignal;
}

export interface LocalSgdResult {
  /** The final average of the replicas (after the last averaging, so every replica holds it). */
  params: Float32Array[];
  plan: LocalSgdPlan;
}

/** The state key of replica r's momentum buffers in a checkpoint. */
export const replicaStateKey = (r: number) => `replica${r}`;

/**
 * Trains `ctx.model` with local SGD (see LocalSgdOptions) through meta's runTrainingLoop: one iteration runs
 * `plan.chunk` steps on every replica (in parallel on replica threads), then averages when a sync is due. Checkpoints
 * hold every replica's weights and momentum buffers, so a resumed run is bit-identical to an uninterrupted one, and
 * the result does not depend on the number of threads.
 */
export async function trainLocalSgd(ctx: LocalSgdContext, options: LocalSgdOptions): Promise<LocalSgdResult> {
  const plan = planLocalSgd(options);
  const { model, train } = ctx;
  if (model.task !== 'classification')
    throw new Error(`local SGD trains classifiers; the ${model.kind} is not one`);
  const inputSize = model.inputShape.reduce((a, b) => a * b, 1);
  if (train.imageShape.reduce((a, b) => a * b, 1) !== inputSize)
    throw new Error(
      `local SGD: the ${model.kind} takes inputs of [${model.inputShape}], the training images are ${train.imageShape.join('×')}`,
    );
  if (plan.batchSize > train.count)
    throw new RangeError(
      `local SGD: batchSize ${plan.batchSize} exceeds the ${train.count} training examples`,
    );
  const k = plan.replicas;
  const lengths = model.paramSpecs.map((s) => s.shape.reduce((a, b) => a * b, 1));
  const size = lengths.reduce((a, b) => a + b, 0);
  const withMomentum = plan.momentum > 0;

  // Every replica's weights (and momentum buffers) side by side in shared memory, read and written in place.
  const paramBuffer = new SharedArrayBuffer(k * size * 4);
  const momentumBuffer = withMomentum ? new SharedArrayBuffer(k * size * 4) : undefined;
  const replicaParams = Array.from(
    { length: k },
    (_, r) => new Float32Array(paramBuffer, r * size * 4, size),
  );
  const replicaMomenta = momentumBuffer
    ? Array.from({ length: k }, (_, r) => new Float32Array(momentumBuffer, r * size * 4, size))
    : [];
  const flatten = (arrays: Float32Array[]) => {
    const out = new Float32Array(size);
    let offset = 0;
    for (const a of arrays) {
      out.set(a, offset);
      offset += a.length;
    }
    return out;
  };
  const unflatten = (flat: Float32Array) => {
    let offset = 0;
    return lengths.map((n) => {
      const part = flat.slice(offset, offset + n);
      offset += n;
      return part;
    });
  };

  const resume = ctx.checkpoint?.resume;
  if (resume) {
    if (resume.params.length !== k || resume.params.some((p) => p.length !== size))
      throw new RangeError(
        `local SGD: the checkpoint holds ${resume.params.length} replicas of ${resume.params[0]?.length} values, ` +
          `this run has ${k} of ${size}; it belongs to another configuration`,
      );
    resume.params.forEach((p, r) => {
      replicaParams[r]!.set(p);
    });
    replicaMomenta.forEach((m, r) => {
      const state = resume.optimizers[replicaStateKey(r)];
      if (state?.m === undefined || state.m.length !== size)
        throw new RangeError(`local SGD: the checkpoint lacks replica ${r}'s momentum buffers`);
      m.set(state.m);
    });
  } else {
    const init = model.init(ctx.rng.derive('init'));
    checkParamArrays(model, init, 'local SGD: model.init');
    const flat = flatten(init);
    for (const p of replicaParams) p.set(flat);
  }

  const streams: BatchStream[] = Array.from({ length: k }, (_, r) =>
    shuffledBatches(train.count, plan.batchSize, ctx.rng.derive('replica', r, 'batches')),
  );
  const requested = ctx.workers ?? 1;
  if (!Number.isInteger(requested) || requested < 1)
    throw new RangeError(`local SGD: workers must be a positive integer, got ${JSON.stringify(ctx.workers)}`);
  const workers = Math.min(requested, k);
  await initBackend(ctx.backend);
  const threads: ReplicaThreads = workers > 1 ? await replicaThreads(ctx.backend, workers) : inThread();
  const dataKey = `local-sgd:${randomUUID()}`;
  try {
    const pixels = new SharedArrayBuffer(train.pixels.length);
    new Uint8Array(pixels).set(train.pixels);
    const labels = new SharedArrayBuffer(train.labels.length);
    new Uint8Array(labels).set(train.labels);
    await threads.attach({
      key: dataKey,
      pixels,
      labels,
      count: train.count,
      imageShape: [...train.imageShape],
      numClasses: train.numClasses,
    });
    const average = () => unflatten(averageOf(replicaParams));
    const momentumStates = (firstStep: number): Record<string, OptimizerState> =>
      Object.fromEntries(
        replicaMomenta.map((m, r) => [
          replicaStateKey(r),
          {
            name: 'momentum',
            steps: firstStep,
            shapes: model.paramSpecs.map((s) => [...s.shape]),
            m: m.slice(),
          },
        ]),
      );
    await runTrainingLoop(
      {
        ...(ctx.onMetrics ? { onMetrics: ctx.onMetrics } : {}),
        ...(ctx.evaluate ? { validate: { every: plan.evalIterations, run: ctx.evaluate } } : {}),
        ...(ctx.checkpoint ? { checkpoint: ctx.checkpoint } : {}),
        ...(ctx.maxLoss === undefined ? {} : { maxLoss: ctx.maxLoss }),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      },
      {
        iterations: plan.iterations,
        async step(iteration) {
          const first = iteration * plan.chunk;
          const rates = Float64Array.from({ length: plan.chunk }, (_, s) => learningRateAt(plan, first + s));
          const jobs: RoundJob[] = streams.map((stream, r) => {
            const indices = new Int32Array(plan.chunk * plan.batchSize);
            for (let s = 0; s < plan.chunk; s++) indices.set(stream.indices(first + s), s * plan.batchSize);
            return {
              dataKey,
              model: model.config,
              params: { buffer: paramBuffer, offset: r * size, length: size },
              ...(momentumBuffer
                ? { momenta: { buffer: momentumBuffer, offset: r * size, length: size } }
                : {}),
              momentum: plan.momentum,
              firstStep: first,
              indices,
              batchSize: plan.batchSize,
              rates,
            };
          });
          const results = await threads.run(jobs);
          let lossSum = 0;
          for (const result of results) for (const loss of result.losses) lossSum += loss;
          const done = first + plan.chunk;
          const synced = k > 1 && syncDue(plan, done);
          if (synced) synchronize(replicaParams, replicaMomenta, plan.momentumSync);
          return {
            loss: lossSum / (k * plan.chunk),
            learning_rate: rates[rates.length - 1] as number,
            synced: synced ? 1 : 0,
          };
        },
        snapshot: async () => ({ params: average() }),
        state: async (iteration) => ({
          iteration,
          params: replicaParams.map((p) => p.slice()),
          optimizers: momentumStates(iteration * plan.chunk),
        }),
      },
    );
    // The last iteration ended with an averaging (syncDue is always true at the end): every replica holds it.
    return { params: unflatten(replicaParams[0]!.slice()), plan };
  } finally {
    await threads.close();
  }
}
