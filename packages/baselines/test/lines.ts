import type { Rng } from '@reptile-bench/core';
import type { Episode, EpisodeSampler } from '@reptile-bench/datasets';

/** A linear regression task y = slope·x + intercept, observed at fixed inputs. */
export interface LineTask {
  slope: number;
  intercept: number;
}

export const lineInputs = [-1, 0, 0.5, 2];

/**
 * Regression tasks whose MSE loss is a quadratic in a linear model's (w, b): small enough to follow by hand.
 * Every sampled task is appended to `log`, in sampling order.
 */
export function lineSampler(log: LineTask[] = []): EpisodeSampler & { log: LineTask[] } {
  const batch = (task: LineTask) => {
    const x = Float32Array.from(lineInputs);
    return { x, y: x.map((v) => task.slope * v + task.intercept), size: x.length, inputShape: [1] };
  };
  return {
    task: 'regression',
    inputShape: [1],
    outputSize: 1,
    log,
    sample(rng: Rng): Episode {
      const task = { slope: rng.uniform(-2, 2), intercept: rng.uniform(-1, 1) };
      log.push(task);
      return { support: batch(task), query: batch(task) };
    },
  };
}

/** One full-batch SGD step on the MSE of y = w·x + b over `lineInputs` (float64, by hand). */
export function sgdStepByHand(w: number, b: number, task: LineTask, lr: number): [number, number] {
  const xs = lineInputs.map((x) => Math.fround(x));
  let gw = 0;
  let gb = 0;
  for (const x of xs) {
    const target = Math.fround(task.slope * x + task.intercept); // as the sampler stores it
    const r = w * x + b - target;
    gw += (2 * r * x) / xs.length;
    gb += (2 * r) / xs.length;
  }
  return [w - lr * gw, b - lr * gb];
}
