import type { Rng } from '@reptile-bench/core';
import type { Batch } from './types.ts';

/** Number of values in one example of `shape`. */
export function exampleLength(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Values of `y` per example: 1 for class labels, the target width for regression. */
function targetLength(batch: Batch): number {
  return batch.size === 0 ? 1 : batch.y.length / batch.size;
}

/** The examples of `batch` at `indices`, in that order (indices may repeat). */
export function selectExamples(batch: Batch, indices: readonly number[]): Batch {
  const xLen = exampleLength(batch.inputShape);
  const yLen = targetLength(batch);
  const x = new Float32Array(indices.length * xLen);
  const y =
    batch.y instanceof Int32Array
      ? new Int32Array(indices.length * yLen)
      : new Float32Array(indices.length * yLen);
  indices.forEach((src, dst) => {
    if (!Number.isInteger(src) || src < 0 || src >= batch.size)
      throw new RangeError(`selectExamples: index ${src} is outside the batch of ${batch.size} examples`);
    x.set(batch.x.subarray(src * xLen, (src + 1) * xLen), dst * xLen);
    y.set(batch.y.subarray(src * yLen, (src + 1) * yLen), dst * yLen);
  });
  return { x, y, size: indices.length, inputShape: [...batch.inputShape] };
}

/** Examples of several batches with the same input shape, one after the other. */
export function concatBatches(batches: readonly Batch[]): Batch {
  const first = batches[0];
  if (first === undefined) throw new RangeError('concatBatches: no batches given');
  const shape = first.inputShape.join('×');
  for (const b of batches)
    if (b.inputShape.join('×') !== shape)
      throw new RangeError(`concatBatches: input shapes differ (${shape} and ${b.inputShape.join('×')})`);
  const size = batches.reduce((n, b) => n + b.size, 0);
  const x = new Float32Array(batches.reduce((n, b) => n + b.x.length, 0));
  const yLength = batches.reduce((n, b) => n + b.y.length, 0);
  const y = first.y instanceof Int32Array ? new Int32Array(yLength) : new Float32Array(yLength);
  let xo = 0;
  let yo = 0;
  for (const b of batches) {
    x.set(b.x, xo);
    y.set(b.y, yo);
    xo += b.x.length;
    yo += b.y.length;
  }
  return { x, y, size, inputShape: [...first.inputShape] };
}

/**
 * The inner loop's mini-batches over a task's examples, as in the paper's code (`_mini_batches`):
 * - `replacement: true`: every batch is an independent draw of `batchSize` distinct examples;
 * - `replacement: false`: the examples are shuffled and dealt out in order, reshuffling after each full pass;
 *   a batch that straddles two passes takes its tail from the next shuffle.
 */
export function miniBatches(
  batch: Batch,
  batchSize: number,
  iterations: number,
  o: { replacement: boolean },
  rng: Rng,
): Batch[] {
  if (!Number.isInteger(batchSize) || batchSize <= 0)
    throw new RangeError(`miniBatches: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(iterations) || iterations < 0)
    throw new RangeError(`miniBatches: iterations must be a non-negative integer, got ${iterations}`);
  if (batch.size === 0 && iterations > 0) throw new RangeError('miniBatches: the batch is empty');
  if (o.replacement) {
    if (batchSize > batch.size)
      throw new RangeError(
        `miniBatches: batchSize ${batchSize} exceeds the ${batch.size} examples; each batch holds distinct examples`,
      );
    return Array.from({ length: iterations }, () =>
      selectExamples(batch, rng.sampleWithoutReplacement(batch.size, batchSize)),
    );
  }
  const out: Batch[] = [];
  let order: number[] = [];
  let next = 0;
  for (let it = 0; it < iterations; it++) {
    const indices: number[] = [];
    while (indices.length < batchSize) {
      if (next === order.length) {
        order = rng.shuffle(Array.from({ length: batch.size }, (_, i) => i));
        next = 0;
      }
      indices.push(order[next++] as number);
    }
    out.push(selectExamples(batch, indices));
  }
  return out;
}

/**
 * Splits a classification batch into `heldOut`, holding the first `perClass` examples of every label, and `rest`
 * (the paper's `_split_train_test`; first-order MAML takes its final inner batch this way).
 */
export function holdOutPerClass(batch: Batch, perClass: number): { rest: Batch; heldOut: Batch } {
  if (!(batch.y instanceof Int32Array))
    throw new TypeError('holdOutPerClass: needs a batch of integer class labels');
  const taken = new Map<number, number>();
  const held: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < batch.size; i++) {
    const label = batch.y[i] as number;
    const n = taken.get(label) ?? 0;
    if (n < perClass) {
      taken.set(label, n + 1);
      held.push(i);
    } else rest.push(i);
  }
  for (const [label, n] of taken)
    if (n < perClass)
      throw new RangeError(
        `holdOutPerClass: label ${label} has ${n} examples, fewer than the ${perClass} to hold out`,
      );
  return { rest: selectExamples(batch, rest), heldOut: selectExamples(batch, held) };
}
