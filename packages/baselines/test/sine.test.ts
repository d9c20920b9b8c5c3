import { initBackend } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { sineSampler } from '@reptile-bench/datasets';
import { evaluate } from '@reptile-bench/evaluation';
import { createMlp } from '@reptile-bench/models';
import { reptile } from '@reptile-bench/reptile';
import { beforeAll, describe, expect, it } from 'vitest';
import { sgdPretrain } from '../src/index.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('sine waves: Reptile against joint training (the paper, section 5.1)', () => {
  it("after a short meta-training, Reptile's post-adaptation MSE is far below joint training's", async () => {
    // The paper's setting, shortened: MLP 1→64→64→1 (tanh); tasks y = a·sin(x + b); adaptation: 32 SGD steps
    // (lr 0.02) on 10 points, scored on 50 fresh points of the same task.
    const model = createMlp({ inputSize: 1, hidden: [64, 64], outputSize: 1 });
    const train = sineSampler({ shots: 10, queryShots: 0 });
    const test = sineSampler({ shots: 10, queryShots: 50 });
    const metaIterations = 1000;
    const innerIterations = 5;
    const rng = createRng(1);
    const context = { model, train, rng: rng.derive('train'), backend: 'wasm' as const };
    const { init: meta } = await reptile({
      metaIterations,
      metaBatchSize: 1,
      metaStep: 0.3,
      metaStepFinal: 0,
      innerIterations,
      innerBatchSize: 10,
      innerOptimizer: 'sgd',
      innerLearningRate: 0.02,
    }).metaTrain(context);
    // joint training gets the same number of gradient steps on the same task distribution
    const { init: joint } = await sgdPretrain({
      iterations: metaIterations * innerIterations,
      batchSize: 10,
      optimizer: 'sgd',
      learningRate: 0.02,
    }).metaTrain(context);
    const options = {
      episodes: 50,
      adapt: { optimizer: 'sgd' as const, learningRate: 0.02, iterations: 32, batchSize: 10 },
      modes: ['transductive' as const],
    };
    const reptileMse = (await evaluate(model, meta, test, options, rng.derive('test'))).transductive!;
    const jointMse = (await evaluate(model, joint, test, options, rng.derive('test'))).transductive!;
    // measured: Reptile ≈ 2.0 ± 0.7, joint training ≈ 5.2 ± 1.0 (it learns the mean function, which is 0)
    expect(reptileMse.mean).toBeLessThan(0.5 * jointMse.mean);
    expect(reptileMse.mean + reptileMse.ci95).toBeLessThan(jointMse.mean - jointMse.ci95);
  });
});
