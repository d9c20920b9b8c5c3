import { initBackend, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import type { Batch } from '@reptile-bench/datasets';
import type { TrainingState } from '@reptile-bench/meta';
import { createLstmClassifier, createMlp, logitsOf, type Model } from '@reptile-bench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { dropTokens, type SupervisedContext, type SupervisedOptions, trainClassifier } from '../src/index.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

/**
 * Two classes of points in the plane, separated by a curved boundary (x₁ > sin(2x₀)), which a linear model gets
 * only partly right: n examples drawn from the seed.
 */
function curve(n: number, seed: string): Batch {
  const rng = createRng(seed);
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = rng.uniform(-2, 2);
    const b = rng.uniform(-2, 2);
    x[2 * i] = a;
    x[2 * i + 1] = b;
    y[i] = b > Math.sin(2 * a) ? 1 : 0;
  }
  return { x, y, size: n, inputShape: [2] };
}

const accuracy = (model: Model, params: Float32Array[], batch: Batch) => {
  const logits = logitsOf(model, params, batch);
  let right = 0;
  for (let i = 0; i < batch.size; i++) {
    const predicted = (logits[2 * i + 1] as number) > (logits[2 * i] as number) ? 1 : 0;
    if (predicted === batch.y[i]) right++;
  }
  return right / batch.size;
};

const mlp = (hidden: number[]) => createMlp({ inputSize: 2, hidden, outputSize: 2, task: 'classification' });
const context = (model: Model, train: Batch, extra: Partial<SupervisedContext> = {}): SupervisedContext => ({
  model,
  train,
  rng: createRng(7).derive('train'),
  backend: 'cpu',
  ...extra,
});
const options: SupervisedOptions = { iterations: 300, batchSize: 32, optimizer: 'adam', learningRate: 0.02 };

describe('trainClassifier', () => {
  const train = curve(600, 'train');
  const test = curve(400, 'test');
  let teacher: { model: Model; params: Float32Array[] };

  it('trains a classifier on its labels far above chance', async () => {
    const model = mlp([32, 32]);
    const result = await trainClassifier(context(model, train), options);
    teacher = { model, params: result.params };
    expect(result.labelled).toBe(600);
    expect(accuracy(model, result.params, test)).toBeGreaterThan(0.93);
  });

  it('with 5% of the labels: labels alone train on ~30 examples; the teacher labels the other ~570 and the student does better', async () => {
    const student = mlp([16]);
    const hard = await trainClassifier(context(student, train), { ...options, labelFraction: 0.05 });
    // 5% of each class, rounded up
    const positives = Array.from(train.y).reduce((n, y) => n + y, 0);
    const labelled = Math.ceil(0.05 * positives) + Math.ceil(0.05 * (600 - positives));
    expect(hard.labelled).toBe(labelled);
    expect(hard.examples).toBe(labelled);
    const distilled = await trainClassifier(context(student, train), {
      ...options,
      labelFraction: 0.05,
      distill: { teacher, temperature: 2, alpha: 0.9 },
    });
    expect(distilled.labelled).toBe(labelled);
    expect(distilled.examples).toBe(600);
    // the teacher labelled the 570 others as well as it classifies test points
    expect(distilled.teacherAgreement).toBeGreaterThan(0.93);
    const [hardAccuracy, distilledAccuracy] = [
      accuracy(student, hard.params, test),
      accuracy(student, distilled.params, test),
    ];
    expect(distilledAccuracy).toBeGreaterThan(hardAccuracy + 0.03);
    expect(distilledAccuracy).toBeGreaterThan(0.9);
  });

  it('continues from a checkpoint with the numbers of an uninterrupted run', async () => {
    const model = mlp([8]);
    const o: SupervisedOptions = {
      ...options,
      iterations: 40,
      labelFraction: 0.5,
      distill: { teacher, temperature: 4, alpha: 0.5 },
    };
    const whole = await trainClassifier(context(model, train), o);
    let saved: TrainingState | undefined;
    const controller = new AbortController();
    const first = trainClassifier(
      context(model, train, {
        checkpoint: {
          due: () => false,
          save: async (state) => {
            saved = state;
          },
        },
        signal: controller.signal,
        onMetrics: (i) => {
          if (i === 16) controller.abort(new Error('stop'));
        },
      }),
      o,
    );
    await expect(first).rejects.toThrow('stop');
    expect(saved?.iteration).toBe(17);
    const resumed = await trainClassifier(
      context(model, train, {
        checkpoint: { resume: saved as TrainingState, due: () => false, save: async () => {} },
      }),
      o,
    );
    expect(resumed.params).toEqual(whole.params);
  });

  it('names bad settings and a teacher of other classes', async () => {
    const model = mlp([4]);
    await expect(trainClassifier(context(model, train), { ...options, labelFraction: 0 })).rejects.toThrow(
      /labelFraction must be in \(0, 1\], got 0/,
    );
    await expect(trainClassifier(context(model, train), { ...options, tokenDropout: 1 })).rejects.toThrow(
      /tokenDropout must be in \[0, 1\), got 1/,
    );
    await expect(
      trainClassifier(context(model, train), {
        ...options,
        distill: { teacher, temperature: 0, alpha: 0.5 },
      }),
    ).rejects.toThrow(/temperature must be a finite number > 0/);
    const three = createMlp({ inputSize: 2, hidden: [4], outputSize: 3, task: 'classification' });
    await expect(
      trainClassifier(context(model, train), {
        ...options,
        distill: { teacher: { model: three, params: three.init(createRng(1)) }, temperature: 2, alpha: 0.5 },
      }),
    ).rejects.toThrow(/the teacher has 3 classes, the student 2/);
  });
});

describe('word dropout', () => {
  it('replaces tokens by <unk> at the given rate, never padding, the same for a stream', () => {
    const x = Float32Array.from({ length: 20_000 }, (_, i) => (i % 4 === 3 ? 0 : 2 + (i % 50)));
    const a = dropTokens(x.slice(), 0.25, createRng(3));
    const b = dropTokens(x.slice(), 0.25, createRng(3));
    expect(a).toEqual(b);
    let dropped = 0;
    let tokens = 0;
    a.forEach((v, i) => {
      if (x[i] === 0) expect(v).toBe(0);
      else {
        tokens++;
        if (v === 1) dropped++;
        else expect(v).toBe(x[i]);
      }
    });
    expect(dropped / tokens).toBeGreaterThan(0.24);
    expect(dropped / tokens).toBeLessThan(0.26);
  });

  it('trains an LSTM on token ids with word dropout, leaking no tensors', async () => {
    const model = createLstmClassifier({ vocabSize: 12, maxLength: 5, embedding: 4, hidden: 4 });
    // class 1 sentences contain token 2, class 0 ones token 3
    const rows = Array.from({ length: 64 }, (_, i) => (i % 2 ? [2, 5, 6, 0, 0] : [4, 3, 7, 8, 0]));
    const train: Batch = {
      x: Float32Array.from(rows.flat()),
      y: Int32Array.from(rows, (_, i) => i % 2),
      size: 64,
      inputShape: [5],
    };
    const before = tf.memory().numTensors;
    const result = await trainClassifier(context(model, train), {
      iterations: 60,
      batchSize: 16,
      optimizer: 'adam',
      learningRate: 0.05,
      tokenDropout: 0.3,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(accuracy(model, result.params, train)).toBe(1);
  });
});
