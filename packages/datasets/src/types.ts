import type { Rng } from '@reptile-bench/core';

/**
 * A batch of examples as plain typed arrays, so the same seed gives the same numbers on every backend.
 * `x` holds `size` examples of `inputShape` each, row-major (NHWC for images).
 * `y` holds integer class labels (classification, one per example) or float targets (regression,
 * `size × outputSize`).
 */
export interface Batch {
  x: Float32Array;
  y: Int32Array | Float32Array;
  size: number;
  inputShape: number[];
}

/** One few-shot task: the support set to adapt on and the query set to measure on. */
export interface Episode {
  support: Batch;
  query: Batch;
}

/** Draws episodes; each one is fully determined by the stream it is given. */
export interface EpisodeSampler {
  readonly task: 'classification' | 'regression';
  /** `[28, 28, 1]` for Omniglot, `[1]` for sine waves. */
  readonly inputShape: number[];
  /** Number of classes (ways) or regression outputs (1). */
  readonly outputSize: number;
  sample(rng: Rng): Episode;
}

/** Classes of images, each holding `count(c)` images of `imageShape` (height, width, channels). */
export interface ClassSet {
  readonly numClasses: number;
  readonly imageShape: [number, number, number];
  count(c: number): number;
  /** A fresh copy of image `i` of class `c`, HWC, values in [0, 1]. */
  image(c: number, i: number): Float32Array;
  /** Optional fast path: writes image `i` of class `c` into `out` at `offset` without allocating. */
  writeImage?(c: number, i: number, out: Float32Array, offset: number): void;
}
