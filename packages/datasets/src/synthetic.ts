import { createRng, type Rng } from '@reptile-bench/core';
import { classSetFromImages } from './few-shot.ts';
import type { ClassSet, Episode, EpisodeSampler } from './types.ts';

/**
 * Tiny synthetic task families for tests and quick experiments (`@reptile-bench/datasets/synthetic`): small
 * enough to follow by hand or to train on in milliseconds, with real structure to learn.
 */

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

/**
 * A small image dataset with real class structure: each class is a fixed random 8×8 prototype and its images
 * are noisy copies, so an adapted classifier can beat chance while batch norm still mixes examples.
 */
export function prototypeClasses(numClasses: number, perClass: number, seed = 1): ClassSet {
  const rng = createRng(seed);
  const pixels = 8 * 8;
  const classes = Array.from({ length: numClasses }, (_, c) => {
    const prototype = rng.derive('prototype', c).fillUniform(new Float32Array(pixels), 0, 1);
    return Array.from({ length: perClass }, (_, i) => {
      const noise = rng.derive('noise', c, i);
      return prototype.map((v) => Math.min(1, Math.max(0, v + 0.2 * noise.normal())));
    });
  });
  return classSetFromImages([8, 8, 1], classes);
}
