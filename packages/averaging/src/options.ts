import { requireInteger, requireNumber, requireOneOf } from '@reptile-bench/core';

/** What happens to the momentum buffers when the replicas' weights are averaged. */
export const momentumSyncs = ['average', 'reset', 'local'] as const;
export type MomentumSync = (typeof momentumSyncs)[number];

/**
 * Local SGD (periodic model averaging): `replicas` copies of the model start from one initialisation and each
 * takes SGD steps (with momentum) on its own stream of mini-batches of the training set; after every `syncEvery`
 * steps, and at the end, every copy is replaced by their average. One replica is plain SGD; `syncEvery: 1` is
 * synchronous data-parallel SGD with a `replicas`× batch; `syncEvery: 'end'` averages once, at the end.
 */
export interface LocalSgdOptions {
  replicas: number;
  /** H: steps between averagings, or 'end' (one-shot averaging). */
  syncEvery: number | 'end';
  /** Mini-batch of each replica. */
  batchSize: number;
  learningRate: number;
  /** 'linear': the learning rate times (replicas × batchSize) / lrBaseBatch (Goyal et al. 2017). Default 'none'. */
  lrScaling?: 'none' | 'linear';
  lrBaseBatch?: number;
  /** Heavy-ball momentum μ (default 0). */
  momentum?: number;
  /** At an averaging: average the buffers too (default), zero them, or keep each replica's own. */
  momentumSync?: MomentumSync;
  /** Examples (over all replicas) over which the learning rate rises linearly to its value (default 0). */
  warmupExamples?: number;
  /**
   * Examples (over all replicas) after which the learning rate is multiplied by `lrDecayFactor` (default 0: never).
   * Counted in examples, so every configuration follows the same schedule along the examples axis.
   */
  lrDecayExamples?: number;
  /** Default 0.1. */
  lrDecayFactor?: number;
  /** Examples to process, over all replicas together: steps × replicas × batchSize. */
  examples: number;
  /** Examples (over all replicas) between two evaluations of the averaged model. */
  evalEvery: number;
}

/** The options checked, with the schedule they imply. */
export interface LocalSgdPlan {
  replicas: number;
  syncEvery: number | 'end';
  batchSize: number;
  learningRate: number;
  momentum: number;
  momentumSync: MomentumSync;
  /** Steps each replica takes. */
  steps: number;
  examplesPerStep: number;
  warmupSteps: number;
  /** First step at the decayed learning rate (Infinity: no decay). */
  decayStep: number;
  decayFactor: number;
  /** Steps between evaluations. */
  evalSteps: number;
  /** Steps per iteration of the training loop: every sync and every evaluation falls on an iteration's end. */
  chunk: number;
  iterations: number;
  /** Iterations between evaluations. */
  evalIterations: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Checks the options, naming the field (as `where: field`) and what to change; returns the plan. */
export function planLocalSgd(o: LocalSgdOptions, where = 'local-sgd'): LocalSgdPlan {
  const f = (name: string) => `${where}: ${name}`;
  const replicas = requireInteger(o.replicas, f('replicas'), 1);
  const syncEvery = o.syncEvery === 'end' ? 'end' : requireInteger(o.syncEvery, f('syncEvery'), 1);
  const batchSize = requireInteger(o.batchSize, f('batchSize'), 1);
  const scaling = requireOneOf(o.lrScaling ?? 'none', f('lrScaling'), ['none', 'linear']);
  const baseBatch = requireInteger(o.lrBaseBatch ?? batchSize, f('lrBaseBatch'), 1);
  const base = requireNumber(o.learningRate, f('learningRate'), true);
  const learningRate = scaling === 'linear' ? (base * replicas * batchSize) / baseBatch : base;
  const momentum = requireNumber(o.momentum ?? 0, f('momentum'));
  if (momentum < 0 || momentum >= 1)
    throw new RangeError(`${f('momentum')} must be in [0, 1), got ${momentum}`);
  const momentumSync = requireOneOf(o.momentumSync ?? 'average', f('momentumSync'), momentumSyncs);
  const examplesPerStep = replicas * batchSize;
  const examples = requireInteger(o.examples, f('examples'), 1);
  const evalEvery = requireInteger(o.evalEvery, f('evalEvery'), 1);
  const whole = (value: number, name: string, unit: number, unitName: string) => {
    if (value % unit !== 0)
      throw new RangeError(
        `${f(name)} = ${value} is not a whole number of ${unitName} (${unit} examples); make it a multiple of ${unit}`,
      );
    return value / unit;
  };
  const perStep = `steps of all replicas (replicas × batchSize = ${replicas} × ${batchSize})`;
  const steps = whole(examples, 'examples', examplesPerStep, perStep);
  const evalSteps = whole(evalEvery, 'evalEvery', examplesPerStep, perStep);
  if (steps % evalSteps !== 0)
    throw new RangeError(
      `${f('examples')} = ${examples} is not a whole number of evaluation intervals (evalEvery = ${evalEvery}); ` +
        'make it a multiple of evalEvery',
    );
  const warmupExamples = requireInteger(o.warmupExamples ?? 0, f('warmupExamples'), 0);
  const warmupSteps = Math.round(warmupExamples / examplesPerStep);
  const decayExamples = requireInteger(o.lrDecayExamples ?? 0, f('lrDecayExamples'), 0);
  const decayFactor = requireNumber(o.lrDecayFactor ?? 0.1, f('lrDecayFactor'), true);
  if (decayFactor > 1) throw new RangeError(`${f('lrDecayFactor')} must be in (0, 1], got ${decayFactor}`);
  const decayStep =
    decayExamples > 0 ? Math.round(decayExamples / examplesPerStep) : Number.POSITIVE_INFINITY;
  // One replica never averages: its iterations are whole evaluation intervals whatever syncEvery says.
  const chunk = syncEvery === 'end' || replicas === 1 ? evalSteps : gcd(syncEvery, evalSteps);
  return {
    replicas,
    syncEvery,
    batchSize,
    learningRate,
    momentum,
    momentumSync,
    steps,
    examplesPerStep,
    warmupSteps,
    decayStep,
    decayFactor,
    evalSteps,
    chunk,
    iterations: steps / chunk,
    evalIterations: evalSteps / chunk,
  };
}

/**
 * The learning rate of step `t` (0-based): a linear warm-up over the first `warmupSteps`, then constant, times
 * `decayFactor` from step `decayStep` on.
 */
export function learningRateAt(
  plan: Pick<LocalSgdPlan, 'learningRate' | 'warmupSteps' | 'decayStep' | 'decayFactor'>,
  t: number,
): number {
  const warm = plan.warmupSteps > 0 ? Math.min(1, (t + 1) / plan.warmupSteps) : 1;
  return plan.learningRate * warm * (t >= plan.decayStep ? plan.decayFactor : 1);
}

/** Whether the replicas are averaged after step count `done` (always at the end of training). */
export function syncDue(plan: Pick<LocalSgdPlan, 'syncEvery' | 'steps'>, done: number): boolean {
  return done === plan.steps || (plan.syncEvery !== 'end' && done % plan.syncEvery === 0);
}
