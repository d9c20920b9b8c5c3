import type { Rng } from '@reptile-bench/core';
import type { Batch } from './types.ts';

/**
 * A labelled image set for single-task classification, as bytes: `count` images of `imageShape` (height, width,
 * channels; HWC, row-major) one after another, and one label in [0, numClasses) per image. Pixel values are
 * handed to models as byte / 255.
 */
export interface LabelledImages {
  readonly count: number;
  readonly imageShape: [number, number, number];
  readonly numClasses: number;
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

/** Checks that pixels and labels agree with `count`, `imageShape` and `numClasses`, naming `where`. */
export function checkLabelledImages(set: LabelledImages, where: string): LabelledImages {
  const [h, w, c] = set.imageShape;
  if (set.pixels.length !== set.count * h * w * c)
    throw new Error(
      `${where}: ${set.pixels.length} pixel bytes for ${set.count} images of ${h}×${w}×${c} (expected ${set.count * h * w * c})`,
    );
  if (set.labels.length !== set.count)
    throw new Error(`${where}: ${set.labels.length} labels for ${set.count} images; the counts must match`);
  for (let i = 0; i < set.count; i++)
    if ((set.labels[i] as number) >= set.numClasses)
      throw new Error(
        `${where}: label ${set.labels[i]} of image ${i} is not a class in [0, ${set.numClasses})`,
      );
  return set;
}

/** The images at `indices`, in that order, copied into a set of their own. */
export function selectImages(set: LabelledImages, indices: ArrayLike<number>): LabelledImages {
  const length = set.imageShape[0] * set.imageShape[1] * set.imageShape[2];
  const pixels = new Uint8Array(indices.length * length);
  const labels = new Uint8Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j] as number;
    if (!Number.isInteger(i) || i < 0 || i >= set.count)
      throw new RangeError(`selectImages: index ${i} is outside [0, ${set.count})`);
    pixels.set(set.pixels.subarray(i * length, (i + 1) * length), j * length);
    labels[j] = set.labels[i] as number;
  }
  return {
    count: indices.length,
    imageShape: [...set.imageShape],
    numClasses: set.numClasses,
    pixels,
    labels,
  };
}

/**
 * Carves a validation set of `validation` images out of a training set: the images are shuffled with `rng` and the
 * first `validation` go to the validation set; both parts keep the original order of their images, so the split
 * depends on the seed only.
 */
export function splitValidation(
  set: LabelledImages,
  validation: number,
  rng: Rng,
): { train: LabelledImages; validation: LabelledImages } {
  if (!Number.isInteger(validation) || validation < 0 || validation >= set.count)
    throw new RangeError(
      `splitValidation: validation must be an integer in [0, ${set.count}) (the training images), got ${validation}`,
    );
  const order = rng.shuffle(Array.from({ length: set.count }, (_, i) => i));
  const held = order.slice(0, validation).sort((a, b) => a - b);
  const rest = order.slice(validation).sort((a, b) => a - b);
  return { train: selectImages(set, rest), validation: selectImages(set, held) };
}

/** Examples `indices` of `set` as a batch: x = pixel bytes / 255 (NHWC), y = int32 labels. */
export function imageBatch(set: LabelledImages, indices: ArrayLike<number>): Batch {
  const inputShape = [...set.imageShape];
  const length = inputShape[0]! * inputShape[1]! * inputShape[2]!;
  const x = new Float32Array(indices.length * length);
  const y = new Int32Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j] as number;
    if (!Number.isInteger(i) || i < 0 || i >= set.count)
      throw new RangeError(`imageBatch: index ${i} is outside [0, ${set.count})`);
    const source = set.pixels.subarray(i * length, (i + 1) * length);
    const offset = j * length;
    for (let k = 0; k < length; k++) x[offset + k] = (source[k] as number) / 255;
    y[j] = set.labels[i] as number;
  }
  return { x, y, size: indices.length, inputShape };
}

/** Examples [start, end) of `set` as a batch (for evaluating on a whole set in pieces). */
export function rangeBatch(set: LabelledImages, start: number, end: number): Batch {
  return imageBatch(
    set,
    Array.from({ length: Math.max(0, end - start) }, (_, j) => start + j),
  );
}

/**
 * An endless stream of mini-batches over `count` examples, dealt out from shuffled passes: pass e is a permutation
 * drawn from `rng.derive('epoch', e)`, and batch t takes positions [t·batchSize, (t+1)·batchSize) of the passes laid
 * end to end (a batch straddling two passes takes its tail from the next). Batch t depends only on the stream and
 * t, so a run can start (or resume) at any step.
 */
export interface BatchStream {
  readonly batchSize: number;
  /** The example indices of batch `step`. */
  indices(step: number): Int32Array;
}

export function shuffledBatches(count: number, batchSize: number, rng: Rng): BatchStream {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`shuffledBatches: count must be a positive integer, got ${count}`);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > count)
    throw new RangeError(`shuffledBatches: batchSize must be an integer in [1, ${count}], got ${batchSize}`);
  // The two most recent passes: consecutive steps only ever need the current one and the next.
  const passes = new Map<number, Int32Array>();
  const pass = (e: number): Int32Array => {
    let p = passes.get(e);
    if (p === undefined) {
      p = Int32Array.from(rng.derive('epoch', e).shuffle(Array.from({ length: count }, (_, i) => i)));
      passes.set(e, p);
      for (const key of passes.keys()) if (key < e - 1 || key > e + 1) passes.delete(key);
    }
    return p;
  };
  return {
    batchSize,
    indices(step) {
      if (!Number.isInteger(step) || step < 0)
        throw new RangeError(`shuffledBatches: step must be an integer ≥ 0, got ${step}`);
      const out = new Int32Array(batchSize);
      let position = step * batchSize;
      for (let j = 0; j < batchSize; j++, position++)
        out[j] = pass(Math.floor(position / count))[position % count] as number;
      return out;
    },
  };
}
