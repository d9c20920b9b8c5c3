import { tf } from '@reptile-bench/backend';
import { type MeanWithCi, meanWithCi } from '@reptile-bench/core';
import { type Batch, exampleLength } from '@reptile-bench/datasets';
import { logitsOf, type Model } from '@reptile-bench/models';

/** A classifier scored on a labelled set (e.g. a text classifier on its test split). */
export interface ClassifierScore {
  /** Mean ± 1.96·σ/√n of the per-example correctness (0/1) over the set. */
  accuracy: MeanWithCi;
  /** Each example's predicted class and whether it was right, in order. */
  predictions: Int32Array;
  correct: Uint8Array;
}

/**
 * Scores `params` on every example of `batch`: the class with the largest logit against the label. The
 * companion of the few-shot protocol for models trained once on a labelled set rather than adapted per task.
 */
export function scoreClassifier(
  model: Model,
  params: Float32Array[],
  batch: Batch,
  chunk = 256,
): ClassifierScore {
  if (!(batch.y instanceof Int32Array))
    throw new Error('scoreClassifier: the set must hold integer class labels');
  if (batch.size === 0) throw new Error('scoreClassifier: the set is empty');
  const logits = logitsOf(model, params, batch, chunk);
  const classes = model.outputSize;
  const predictions = new Int32Array(batch.size);
  const correct = new Uint8Array(batch.size);
  for (let i = 0; i < batch.size; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++)
      if ((logits[i * classes + c] as number) > (logits[i * classes + best] as number)) best = c;
    predictions[i] = best;
    correct[i] = best === batch.y[i] ? 1 : 0;
  }
  return { accuracy: meanWithCi(correct), predictions, correct };
}

/**
 * Inference cost: one example per forward pass, and the examples in batches. In CPU milliseconds of this process
 * (one thread does the work): unlike wall time, hardly changed by other jobs on the machine.
 */
export interface InferenceTime {
  /** Median CPU milliseconds of a forward pass of one example. */
  msPerExample: number;
  /** CPU milliseconds per example when the first `examples` are classified in batches of `batchSize`. */
  batchedMsPerExample: number;
  /** The same single-example median in wall-clock milliseconds. */
  wallMsPerExample: number;
  examples: number;
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

/**
 * Measures how long the model takes to classify one example (a sentence), the median over the first `examples`
 * examples of the set, each on its own after a few warm-up passes, and per example when they go in batches.
 * Timings, not results: they depend on the machine and its load, and are reported as such.
 */
export function inferenceTime(
  model: Model,
  params: Float32Array[],
  batch: Batch,
  options: { examples?: number; batchSize?: number; warmUp?: number } = {},
): InferenceTime {
  const examples = Math.min(options.examples ?? 200, batch.size);
  const batchSize = options.batchSize ?? 64;
  const length = exampleLength(batch.inputShape);
  const tensors = params.map((p, i) => tf.tensor(p, model.paramSpecs[i]?.shape, 'float32'));
  try {
    const run = (start: number, n: number) =>
      tf.tidy(() => {
        const x = tf.tensor(batch.x.subarray(start * length, (start + n) * length), [n, ...batch.inputShape]);
        model.apply(tensors, x).dataSync();
      });
    for (let i = 0; i < (options.warmUp ?? 10); i++) run(i % examples, 1);
    const single: number[] = [];
    const wall: number[] = [];
    for (let i = 0; i < examples; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      run(i, 1);
      single.push(cpuMs(c0));
      wall.push(performance.now() - t0);
    }
    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] as number;
    const c0 = process.cpuUsage();
    for (let start = 0; start < examples; start += batchSize)
      run(start, Math.min(batchSize, examples - start));
    return {
      msPerExample: median(single),
      batchedMsPerExample: cpuMs(c0) / examples,
      wallMsPerExample: median(wall),
      examples,
    };
  } finally {
    tf.dispose(tensors);
  }
}
