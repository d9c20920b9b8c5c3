import { initBackend } from '@reptile-bench/backend';
import { type Rng, requireInteger } from '@reptile-bench/core';
import { type Batch, type Episode, type EpisodeSampler, miniBatches } from '@reptile-bench/datasets';
import { checkParamArrays, cloneParams, type OptimizerState } from '@reptile-bench/models';
import { DivergenceError, type TrainingState } from './checkpoint.ts';
import type { MetaTrainContext, MetaTrainResult, TrainingSnapshot } from './learner.ts';
import type { CheckedMetaLearningOptions } from './options.ts';
import { metaStepAt } from './schedule.ts';
import type { TaskJob } from './task.ts';
import { inThreadRunner, replicaRunner, slotStateKey, type TaskRunner } from './task-runner.ts';

/** The parts of one training loop, for `runTrainingLoop`. */
export interface TrainingLoop {
  iterations: number;
  /** Runs iteration `iteration` and returns its metrics; those named `*loss` are checked for divergence. */
  step(iteration: number): Promise<Record<string, number>>;
  /** Parameters to check for non-finite values after every iteration (omit when that would cost a copy). */
  params?(): Float32Array[];
  /** A copy of the current initialisation (and inner state) for the learning-curve evaluation. */
  snapshot(): Promise<TrainingSnapshot>;
  /** Everything to continue from after `iteration` iterations. */
  state(iteration: number): Promise<TrainingState>;
}

const divergenceHint =
  'The usual cause is a learning rate or meta-step too large for this model; lower it and run again.';

/** Fails with a DivergenceError on a non-finite or (above `maxLoss`) too large loss, or a non-finite parameter. */
export function checkDivergence(
  iteration: number,
  metrics: Record<string, number>,
  params: Float32Array[] | undefined,
  maxLoss = Number.POSITIVE_INFINITY,
): void {
  for (const [key, value] of Object.entries(metrics)) {
    if (!key.endsWith('loss')) continue;
    if (!Number.isFinite(value)) throw new DivergenceError(iteration, key, value, divergenceHint);
    if (value > maxLoss)
      throw new DivergenceError(
        iteration,
        key,
        value,
        `It is above the bound max_loss = ${maxLoss}. ${divergenceHint}`,
      );
  }
  params?.forEach((array, j) => {
    for (let k = 0; k < array.length; k++)
      if (!Number.isFinite(array[k]!))
        throw new DivergenceError(iteration, `parameter ${j}[${k}]`, array[k]!, divergenceHint);
  });
}

/** How long training may hold the event loop before it lets signals, IPC and timers run. */
const yieldEveryMs = 25;

/**
 * The skeleton every training loop shares: iterations from where the checkpoint left off (or 0), metrics
 * (with `seconds`) through `ctx.onMetrics`, divergence checks, the learning-curve evaluation every
 * `ctx.validate.every` iterations, a checkpoint whenever `ctx.checkpoint.due` says so, and a clean stop on
 * `ctx.signal`: the state is checkpointed first, then the abort reason is thrown.
 */
export async function runTrainingLoop(
  ctx: Pick<MetaTrainContext, 'validate' | 'checkpoint' | 'signal' | 'onMetrics' | 'maxLoss'>,
  loop: TrainingLoop,
): Promise<void> {
  const validateEvery =
    ctx.validate === undefined ? 0 : requireInteger(ctx.validate.every, 'metaTrain: validate.every', 1);
  const first = ctx.checkpoint?.resume?.iteration ?? 0;
  // The learning curve starts at the untrained initialisation.
  if (validateEvery > 0 && first === 0) await ctx.validate!.run(await loop.snapshot(), 0);
  let yielded = performance.now();
  for (let iteration = first; iteration < loop.iterations; iteration++) {
    if (ctx.signal?.aborted) {
      if (ctx.checkpoint) await ctx.checkpoint.save(await loop.state(iteration));
      ctx.signal.throwIfAborted();
    }
    const started = performance.now();
    const metrics = await loop.step(iteration);
    const seconds = (performance.now() - started) / 1000;
    checkDivergence(iteration, metrics, loop.params?.(), ctx.maxLoss);
    ctx.onMetrics?.(iteration, { ...metrics, seconds });
    const done = iteration + 1;
    if (validateEvery > 0 && done % validateEvery === 0) await ctx.validate!.run(await loop.snapshot(), done);
    if (done < loop.iterations && ctx.checkpoint?.due(done))
      await ctx.checkpoint.save(await loop.state(done));
    if (performance.now() - yielded > yieldEveryMs) {
      await new Promise((resolve) => setImmediate(resolve));
      yielded = performance.now();
    }
  }
}

/** One meta-iteration of an algorithm: changes φ in place, running its task jobs on `tasks`. */
export type MetaIteration = (
  phi: Float32Array[],
  step: { iteration: number; epsilon: number; tasks: TaskRunner },
) => Promise<{ innerLoss: number; metrics?: Record<string, number> }>;

/** Where task slot `k`'s optimizer state lives (undefined: a fresh one per task), following the options. */
export function stateKeyOf(o: CheckedMetaLearningOptions, k: number): string | undefined {
  if (o.resetOptimizerState) return undefined;
  return o.sharedOptimizerState ? 'shared' : slotStateKey(k);
}

/**
 * The task runner for a context: replica threads when `ctx.workers > 1` and the tasks of a meta-batch are
 * independent (not with a shared optimizer state, which chains them), else this thread. Never more threads than
 * tasks per meta-batch.
 */
async function createTaskRunner(
  ctx: MetaTrainContext,
  o: CheckedMetaLearningOptions,
  inThread: boolean,
): Promise<TaskRunner> {
  const requested = ctx.workers ?? 1;
  if (!Number.isInteger(requested) || requested < 1)
    throw new RangeError(`metaTrain: workers must be a positive integer, got ${JSON.stringify(ctx.workers)}`);
  const workers = inThread || o.sharedOptimizerState ? 1 : Math.min(requested, o.metaBatchSize);
  await initBackend(ctx.backend);
  return workers > 1 ? replicaRunner(ctx.backend, workers) : inThreadRunner();
}

/**
 * The meta-training loop of every Reptile-style learner: φ from `ctx.rng.derive('init')` (or the checkpoint),
 * kept where the task runner reads it best; each iteration gets ε from the linear schedule and runs `iterate`;
 * metrics `meta_step`, `inner_loss` (and the algorithm's own) per iteration. The loop owns the task runner
 * (replica threads, or this thread with `inThread`) and the optimizer states it carries, which checkpoints save.
 * Returns φ and the inner optimizer state evaluation may start from (task slot 0's, or the shared one).
 */
export async function metaTrainLoop(
  ctx: MetaTrainContext,
  o: CheckedMetaLearningOptions,
  iterate: MetaIteration,
  options: { inThread?: boolean } = {},
): Promise<MetaTrainResult & { init: Float32Array[] }> {
  const tasks = await createTaskRunner(ctx, o, options.inThread ?? false);
  try {
    const resume = ctx.checkpoint?.resume;
    const start = resume ? cloneParams(resume.params) : ctx.model.init(ctx.rng.derive('init'));
    checkParamArrays(ctx.model, start, resume ? 'metaTrain: checkpoint parameters' : 'metaTrain: model.init');
    const optimizer = { kind: o.innerOptimizer, learningRate: o.innerLearningRate };
    if (resume) await tasks.importStates(resume.optimizers, optimizer);
    const phi = tasks.place(start);
    const innerKey = stateKeyOf(o, 0);
    // Before its first step a carried state is a fresh one.
    const innerState = async (): Promise<OptimizerState | undefined> =>
      innerKey === undefined
        ? undefined
        : ((await tasks.exportStates([innerKey]))[innerKey] ?? { name: o.innerOptimizer });
    await runTrainingLoop(ctx, {
      iterations: o.metaIterations,
      async step(iteration) {
        const epsilon = metaStepAt(iteration, o);
        const result = await iterate(phi, { iteration, epsilon, tasks });
        return { meta_step: epsilon, inner_loss: result.innerLoss, ...result.metrics };
      },
      params: () => phi,
      async snapshot() {
        const state = await innerState();
        return { params: cloneParams(phi), ...(state ? { innerState: state } : {}) };
      },
      state: async (iteration) => ({
        iteration,
        params: cloneParams(phi),
        optimizers: await tasks.exportStates(),
      }),
    });
    const state = await innerState();
    return { init: cloneParams(phi), ...(state ? { innerState: state } : {}) };
  } finally {
    await tasks.close();
  }
}

/** The stream of task `k` of meta-iteration `iteration`: independent of threads and of other draws. */
export function taskRng(rng: Rng, iteration: number, k: number): Rng {
  return rng.derive('meta', iteration, 'task', k);
}

/** Samples task `k` of a meta-iteration and its inner-loop mini-batches, as in the paper's code. */
export function sampleTask(
  sampler: EpisodeSampler,
  rng: Rng,
  o: { innerBatchSize: number; innerIterations: number; replacement: boolean },
): { episode: Episode; batches: Batch[] } {
  const episode = sampler.sample(rng.derive('sample'));
  const batches = miniBatches(
    episode.support,
    o.innerBatchSize,
    o.innerIterations,
    { replacement: o.replacement },
    rng.derive('batches'),
  );
  return { episode, batches };
}

/**
 * The task jobs of one meta-iteration: task k adapts from φ on `batchesFor(k)` with the inner optimizer, carrying
 * its optimizer state as the options say; `job` may add to each (e.g. first-order MAML's `changeOverLast`).
 */
export function metaBatchJobs(
  ctx: MetaTrainContext,
  o: CheckedMetaLearningOptions,
  tasks: TaskRunner,
  phi: Float32Array[],
  batchesFor: (k: number) => Batch[],
  job: Partial<Pick<TaskJob, 'changeOverLast'>> = {},
): TaskJob[] {
  return Array.from({ length: o.metaBatchSize }, (_, k) => {
    const stateKey = stateKeyOf(o, k);
    return {
      model: ctx.model.config,
      params: phi,
      batches: batchesFor(k),
      optimizer: { kind: o.innerOptimizer, learningRate: o.innerLearningRate },
      ...job,
      ...(stateKey === undefined ? {} : { stateKey: `${tasks.statePrefix}${stateKey}` }),
    };
  });
}
