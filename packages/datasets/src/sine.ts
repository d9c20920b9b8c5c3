import type { Rng } from '@reptile-bench/core';
import { dataChecksum } from './checksum.ts';
import type { Batch, Episode, EpisodeSampler } from './types.ts';

/** One sine-wave regression task: y = amplitude · sin(x + phase). */
export interface SineTask {
  amplitude: number;
  phase: number;
}

/** The task distribution of the paper (after Finn et al., 2017). */
export const SINE_DISTRIBUTION = {
  amplitude: [0.1, 5],
  phase: [0, 2 * Math.PI],
  x: [-5, 5],
} as const;

/** Draws a task: the amplitude first, then the phase. */
export function sampleSineTask(rng: Rng): SineTask {
  const amplitude = rng.uniform(SINE_DISTRIBUTION.amplitude[0], SINE_DISTRIBUTION.amplitude[1]);
  const phase = rng.uniform(SINE_DISTRIBUTION.phase[0], SINE_DISTRIBUTION.phase[1]);
  return { amplitude, phase };
}

/** `points` inputs drawn uniformly from the task's x range. */
export function sampleSineInputs(rng: Rng, points: number): Float32Array {
  return rng.fillUniform(new Float32Array(points), SINE_DISTRIBUTION.x[0], SINE_DISTRIBUTION.x[1]);
}

/** `points` evenly spaced inputs over [-5, 5], both ends included: the fixed grid for plots and curve errors. */
export function sineGrid(points = 100): Float32Array {
  if (!Number.isInteger(points) || points < 2)
    throw new RangeError(`sineGrid: points must be an integer ≥ 2, got ${points}`);
  const [lo, hi] = SINE_DISTRIBUTION.x;
  return Float32Array.from({ length: points }, (_, i) => lo + ((hi - lo) * i) / (points - 1));
}

/** The task's examples at inputs `xs`: a regression batch with input shape [1] and one target each. */
export function sineBatch(task: SineTask, xs: Float32Array): Batch {
  const x = Float32Array.from(xs);
  const y = x.map((v) => task.amplitude * Math.sin(v + task.phase));
  return { x, y, size: x.length, inputShape: [1] };
}

export interface SineEpisode extends Episode {
  task: SineTask;
}

export interface SineSampler extends EpisodeSampler {
  readonly task: 'regression';
  /** Identifies the task distribution and sampler settings, for run records. */
  readonly checksum: string;
  sample(rng: Rng): SineEpisode;
}

/**
 * Sine-wave regression episodes. Each draw takes, from `rng` in this order: the task (amplitude, phase), `shots`
 * support inputs, then `queryShots` query inputs (default: as many as `shots`). With `queryGrid`, the query is
 * instead the fixed grid of that many points (nothing is drawn for it).
 */
export function sineSampler(o: { shots: number; queryShots?: number; queryGrid?: number }): SineSampler {
  const { shots } = o;
  const queryShots = o.queryShots ?? shots;
  if (!Number.isInteger(shots) || shots < 1)
    throw new RangeError(`sineSampler: shots must be a positive integer, got ${shots}`);
  if (!Number.isInteger(queryShots) || queryShots < 0)
    throw new RangeError(`sineSampler: queryShots must be a non-negative integer, got ${queryShots}`);
  const grid = o.queryGrid === undefined ? undefined : sineGrid(o.queryGrid);
  const checksum = dataChecksum(
    {},
    { dataset: 'sine', distribution: SINE_DISTRIBUTION, shots, queryShots, queryGrid: o.queryGrid ?? null },
  );
  return {
    task: 'regression',
    inputShape: [1],
    outputSize: 1,
    checksum,
    sample(rng: Rng): SineEpisode {
      const task = sampleSineTask(rng);
      const support = sineBatch(task, sampleSineInputs(rng, shots));
      const query = sineBatch(task, grid ?? sampleSineInputs(rng, queryShots));
      return { task, support, query };
    },
  };
}
