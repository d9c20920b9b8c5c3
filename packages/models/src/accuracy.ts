import { tf } from '@reptile-bench/backend';
import { type LabelledImages, rangeBatch } from '@reptile-bench/datasets';
import { batchTensors } from './inner-loop.ts';
import { softmaxCrossEntropy } from './losses.ts';
import type { Model } from './model.ts';
import { toTensors } from './train.ts';

export interface TestSetResult {
  /** Fraction of the set classified correctly (the class with the largest logit; ties go to the lower class). */
  accuracy: number;
  correct: number;
  count: number;
  /** Mean softmax cross-entropy over the set. */
  loss: number;
  /** 1 where example i was classified correctly, else 0: paired comparisons of two models go example by example. */
  hits: Uint8Array;
}

/**
 * Plain test-set evaluation of a classifier: every example of `set` predicted once, in batches of `batchSize`
 * (predictions do not depend on the batching for models without batch statistics). `params` are host arrays
 * (uploaded once) or tensors.
 */
export function classifierAccuracy(
  model: Model,
  params: Float32Array[] | tf.Tensor[],
  set: LabelledImages,
  options: { batchSize?: number } = {},
): TestSetResult {
  if (model.task !== 'classification')
    throw new Error(`classifierAccuracy: the ${model.kind} model is a ${model.task} model, not a classifier`);
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`classifierAccuracy: batchSize must be a positive integer, got ${batchSize}`);
  const uploaded = params[0] instanceof Float32Array;
  const p = uploaded ? toTensors(model, params as Float32Array[]) : (params as tf.Tensor[]);
  let correct = 0;
  let lossSum = 0;
  const hits = new Uint8Array(set.count);
  try {
    for (let start = 0; start < set.count; start += batchSize) {
      const batch = rangeBatch(set, start, Math.min(set.count, start + batchSize));
      const { x, y } = batchTensors(batch);
      try {
        const [predicted, loss] = tf.tidy(() => {
          const logits = model.apply(p, x);
          return [
            tf.argMax(logits, 1).dataSync(),
            softmaxCrossEntropy(logits, y).dataSync()[0] as number,
          ] as const;
        });
        for (let i = 0; i < batch.size; i++)
          if (predicted[i] === batch.y[i]) {
            correct++;
            hits[start + i] = 1;
          }
        lossSum += loss * batch.size;
      } finally {
        x.dispose();
        y.dispose();
      }
    }
  } finally {
    if (uploaded) tf.dispose(p);
  }
  return { accuracy: correct / set.count, correct, count: set.count, loss: lossSum / set.count, hits };
}
