import { initBackend, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { fewShotSampler, sineSampler } from '@reptile-bench/datasets';
import { prototypeClasses } from '@reptile-bench/datasets/synthetic';
import { createConv4, createMlp, toTensors } from '@reptile-bench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  adaptToSupport,
  checkEvaluationOptions,
  evaluate,
  predictNonTransductive,
  predictTransductive,
  scoreEpisode,
} from '../src/index.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

const sgdAdapt = { optimizer: 'sgd' as const, learningRate: 0.02, iterations: 5, batchSize: 5 };

describe('adaptToSupport', () => {
  it('runs SGD on the support set exactly as computed by hand (linear model, full-batch steps)', () => {
    // hidden: [] makes the MLP a linear model y = w·x + b, whose MSE gradient is easy to write down.
    const model = createMlp({ inputSize: 1, hidden: [], outputSize: 1 });
    const support = {
      x: new Float32Array([-1, 0.5, 2]),
      y: new Float32Array([1, 0, 3]),
      size: 3,
      inputShape: [1],
    };
    const init = [new Float32Array([0.4]), new Float32Array([-0.2])];
    const lr = 0.1;
    const adapt = { optimizer: 'sgd' as const, learningRate: lr, iterations: 3, batchSize: 3 };
    const { params, losses } = adaptToSupport(model, init, support, adapt, createRng(1));
    let [w, b] = [0.4, -0.2];
    const expectedLosses: number[] = [];
    for (let step = 0; step < 3; step++) {
      let gw = 0;
      let gb = 0;
      let loss = 0;
      for (let i = 0; i < 3; i++) {
        const r = w * support.x[i]! + b - support.y[i]!;
        loss += r * r;
        gw += (2 * r * support.x[i]!) / 3;
        gb += (2 * r) / 3;
      }
      expectedLosses.push(loss / 3);
      w -= lr * gw;
      b -= lr * gb;
    }
    const [wOut, bOut] = params.map((p) => p.dataSync()[0]!);
    tf.dispose(params);
    expect(wOut).toBeCloseTo(w, 5);
    expect(bOut).toBeCloseTo(b, 5);
    losses.forEach((l, i) => {
      expect(l).toBeCloseTo(expectedLosses[i]!, 5);
    });
    // the init is a copy's starting point, never written to
    expect(Array.from(init[0]!)).toEqual([Math.fround(0.4)]);
  });

  it('starts every call from a fresh optimizer state', () => {
    const model = createMlp({ inputSize: 1, hidden: [4], outputSize: 1 });
    const init = model.init(createRng(2));
    const episode = sineSampler({ shots: 10 }).sample(createRng(3));
    const adapt = { optimizer: 'adam' as const, learningRate: 0.01, iterations: 4, batchSize: 5 };
    const first = adaptToSupport(model, init, episode.support, adapt, createRng(4));
    const second = adaptToSupport(model, init, episode.support, adapt, createRng(4));
    const a = first.params.map((p) => Array.from(p.dataSync()));
    const b = second.params.map((p) => Array.from(p.dataSync()));
    tf.dispose([...first.params, ...second.params]);
    expect(b).toEqual(a);
  });
});

describe('predictions', () => {
  const classes = prototypeClasses(6, 4);
  const sampler = fewShotSampler(classes, { ways: 3, shots: 2, queryShots: 2 });
  const model = createConv4({ ways: 3, inputShape: [8, 8, 1], filters: 4 });

  it('non-transductive: each query is scored in a batch with the whole support set', () => {
    const episode = sampler.sample(createRng(5));
    const params = toTensors(model, model.init(createRng(6)));
    const pixels = 64;
    const got = predictNonTransductive(model, params, episode.support, episode.query);
    const expected: number[][] = [];
    for (let q = 0; q < episode.query.size; q++) {
      const x = new Float32Array((episode.support.size + 1) * pixels);
      x.set(episode.support.x);
      x.set(episode.query.x.subarray(q * pixels, (q + 1) * pixels), episode.support.size * pixels);
      const out = model.apply(params, tf.tensor(x, [episode.support.size + 1, 8, 8, 1]));
      expected.push(Array.from(out.dataSync().slice(episode.support.size * 3)));
      out.dispose();
    }
    expect(got.shape).toEqual([episode.query.size, 3]);
    const rows = got.arraySync() as number[][];
    rows.forEach((row, q) => {
      row.forEach((v, k) => {
        expect(v).toBeCloseTo(expected[q]![k]!, 5);
      });
    });
    // batch norm makes the transductive path (all queries in one batch) give different outputs
    const transductive = predictTransductive(model, params, episode.query);
    const maxDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, transductive))).dataSync()[0]!);
    expect(maxDiff).toBeGreaterThan(1e-3);
    tf.dispose([got, transductive, ...params]);
  });

  it('without batch dependence (an MLP) both modes agree', () => {
    const mlp = createMlp({ inputSize: 1, hidden: [8], outputSize: 1 });
    const params = toTensors(mlp, mlp.init(createRng(7)));
    const episode = sineSampler({ shots: 5, queryShots: 7 }).sample(createRng(8));
    const a = predictNonTransductive(mlp, params, episode.support, episode.query);
    const b = predictTransductive(mlp, params, episode.query);
    const aValues = Array.from(a.dataSync());
    Array.from(b.dataSync()).forEach((v, i) => {
      expect(aValues[i]).toBeCloseTo(v, 5);
    });
    expect(new Set(aValues).size).toBe(7);
    tf.dispose([a, b, ...params]);
  });

  it('scores accuracy and MSE from the outputs', () => {
    const mlp = createMlp({ inputSize: 1, hidden: [], outputSize: 1 });
    // w = 0, b = 0 predicts 0 everywhere: MSE is the mean squared target
    const params = toTensors(mlp, [new Float32Array(1), new Float32Array(1)]);
    const episode = sineSampler({ shots: 3, queryShots: 4 }).sample(createRng(9));
    const scores = scoreEpisode(mlp, params, episode, ['non-transductive', 'transductive']);
    const expected = Array.from(episode.query.y).reduce((s, y) => s + y * y, 0) / 4;
    expect(scores['non-transductive']).toBeCloseTo(expected, 5);
    expect(scores.transductive).toBeCloseTo(expected, 5);
    tf.dispose(params);
  });
});

describe('evaluate', () => {
  const classes = prototypeClasses(8, 5);
  const sampler = fewShotSampler(classes, { ways: 3, shots: 1, queryShots: 2 });
  const model = createConv4({ ways: 3, inputShape: [8, 8, 1], filters: 4 });
  const adapt = { optimizer: 'adam' as const, learningRate: 0.01, iterations: 3, batchSize: 3 };

  it('never changes the initialisation and leaks no tensors', async () => {
    const init = model.init(createRng(10));
    const before = init.map((p) => p.slice());
    const tensors = tf.memory().numTensors;
    await evaluate(model, init, sampler, { episodes: 6, adapt }, createRng(11));
    expect(tf.memory().numTensors).toBe(tensors);
    init.forEach((p, i) => {
      expect(p).toEqual(before[i]);
    });
  });

  it('reports the mean ± 1.96·σ/√n of the per-episode scores, for both modes', async () => {
    const init = model.init(createRng(12));
    const rng = createRng(13);
    const result = await evaluate(model, init, sampler, { episodes: 8, adapt }, rng);
    expect(result.metric).toBe('accuracy');
    expect(result.episodes).toBe(8);
    const perEpisode: Record<string, number[]> = { 'non-transductive': [], transductive: [] };
    for (let e = 0; e < 8; e++) {
      const episodeRng = rng.derive('episode', e);
      const episode = sampler.sample(episodeRng.derive('task'));
      const adapted = adaptToSupport(model, init, episode.support, adapt, episodeRng.derive('adapt'));
      const scores = scoreEpisode(model, adapted.params, episode, ['non-transductive', 'transductive']);
      tf.dispose(adapted.params);
      perEpisode['non-transductive']!.push(scores['non-transductive']!);
      perEpisode.transductive!.push(scores.transductive!);
    }
    for (const [mode, summary] of [
      ['non-transductive', result.nonTransductive],
      ['transductive', result.transductive],
    ] as const) {
      const values = perEpisode[mode]!;
      const reported =
        mode === 'transductive' ? result.perEpisode.transductive : result.perEpisode.nonTransductive;
      expect(reported).toEqual(values);
      const mean = values.reduce((a, b) => a + b, 0) / 8;
      const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / 7);
      expect(summary!.n).toBe(8);
      expect(summary!.mean).toBeCloseTo(mean, 12);
      expect(summary!.ci95).toBeCloseTo((1.96 * std) / Math.sqrt(8), 12);
      // accuracies of 2-query-per-class episodes are multiples of 1/6
      for (const v of values) expect(Math.round(v * 6)).toBeCloseTo(v * 6, 9);
    }
  });

  it('is deterministic for a seed, and only computes the modes asked for', async () => {
    const init = model.init(createRng(14));
    const a = await evaluate(
      model,
      init,
      sampler,
      { episodes: 4, adapt, modes: ['transductive'] },
      createRng(15),
    );
    const b = await evaluate(
      model,
      init,
      sampler,
      { episodes: 4, adapt, modes: ['transductive'] },
      createRng(15),
    );
    expect(a.nonTransductive).toBeUndefined();
    expect(b.transductive).toEqual(a.transductive);
  });

  it('draws a fresh init per episode from a function, from the episode stream', async () => {
    const mlp = createMlp({ inputSize: 1, hidden: [16], outputSize: 1 });
    const sine = sineSampler({ shots: 10 });
    const seen: string[] = [];
    const init = (episodeRng: ReturnType<typeof createRng>) => {
      seen.push(episodeRng.path);
      return mlp.init(episodeRng);
    };
    const result = await evaluate(mlp, init, sine, { episodes: 3, adapt: sgdAdapt }, createRng(16));
    expect(result.metric).toBe('mse');
    expect(seen).toEqual(['seed:16/episode/0/init', 'seed:16/episode/1/init', 'seed:16/episode/2/init']);
    // no batch dependence in an MLP: both modes give the same error
    expect(result.nonTransductive!.mean).toBeCloseTo(result.transductive!.mean, 5);
  });

  it('adapting lowers the sine error compared with no adaptation', async () => {
    const mlp = createMlp({ inputSize: 1, hidden: [32, 32], outputSize: 1 });
    const init = mlp.init(createRng(17));
    const sine = sineSampler({ shots: 10, queryShots: 20 });
    const options = (iterations: number) => ({
      episodes: 20,
      adapt: { ...sgdAdapt, iterations, batchSize: 10 },
      modes: ['transductive' as const],
    });
    const none = await evaluate(mlp, init, sine, options(0), createRng(18));
    const adapted = await evaluate(mlp, init, sine, options(32), createRng(18));
    expect(adapted.transductive!.mean).toBeLessThan(0.8 * none.transductive!.mean);
  });

  it('gives the same per-episode scores on replica threads as in this thread', async () => {
    const init = model.init(createRng(20));
    const options = { episodes: 10, adapt };
    const here = await evaluate(model, init, sampler, options, createRng(21));
    const progress: number[] = [];
    const threads = await evaluate(
      model,
      init,
      sampler,
      { ...options, workers: 2, onProgress: (done) => progress.push(done) },
      createRng(21),
    );
    expect(threads.perEpisode).toEqual(here.perEpisode);
    expect(threads.nonTransductive).toEqual(here.nonTransductive);
    expect(progress.at(-1)).toBe(10);
    // a fresh init per episode (plain SGD from scratch) is drawn here and sent along
    const mlp = createMlp({ inputSize: 1, hidden: [8], outputSize: 1 });
    const perEpisodeInit = (r: ReturnType<typeof createRng>) => mlp.init(r);
    const sine = sineSampler({ shots: 5 });
    const a = await evaluate(mlp, perEpisodeInit, sine, { episodes: 9, adapt: sgdAdapt }, createRng(22));
    const b = await evaluate(
      mlp,
      perEpisodeInit,
      sine,
      { episodes: 9, adapt: sgdAdapt, workers: 2 },
      createRng(22),
    );
    expect(b.perEpisode).toEqual(a.perEpisode);
  });

  it('names the field, value or mismatch in its errors', async () => {
    const init = model.init(createRng(19));
    const run = (options: Partial<Parameters<typeof evaluate>[3]>, i: Float32Array[] = init, s = sampler) =>
      evaluate(model, i, s, { episodes: 2, adapt, ...options }, createRng(1));
    await expect(run({ episodes: 0 })).rejects.toThrow(/options.episodes must be an integer ≥ 1, got 0/);
    expect(checkEvaluationOptions({ adapt }).episodes).toBe(1000); // the protocol's default n
    await expect(run({ workers: 0 })).rejects.toThrow(/options.workers must be an integer ≥ 1, got 0/);
    await expect(run({ adapt: { ...adapt, optimizer: 'rmsprop' as 'sgd' } })).rejects.toThrow(
      /options.adapt.optimizer must be 'adam' or 'sgd', got "rmsprop"/,
    );
    await expect(run({ adapt: { ...adapt, learningRate: -1 } })).rejects.toThrow(
      /learningRate must be a positive/,
    );
    await expect(run({ modes: ['inductive' as 'transductive'] })).rejects.toThrow(
      /allowed values: non-transductive/,
    );
    await expect(run({}, init.slice(1))).rejects.toThrow(/expected 18 parameter arrays .* got 17/);
    await expect(run({}, [new Float32Array(3), ...init.slice(1)])).rejects.toThrow(
      /parameter 0 \(conv0\/kernel, shape \[3,3,1,4\]\) needs a Float32Array of 36 values, got 3 values/,
    );
    await expect(run({}, init, fewShotSampler(classes, { ways: 4, shots: 1 }))).rejects.toThrow(
      /4 outputs \(ways\) but the model has 3/,
    );
    await expect(run({}, init, sineSampler({ shots: 2 }))).rejects.toThrow(/draws regression tasks/);
  });

  it('stops when its signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stopped by the user'));
    await expect(
      evaluate(
        model,
        model.init(createRng(1)),
        sampler,
        { episodes: 2, adapt, signal: controller.signal },
        createRng(1),
      ),
    ).rejects.toThrow(/stopped by the user/);
  });
});
