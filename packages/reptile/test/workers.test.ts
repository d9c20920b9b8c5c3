import { initBackend } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { sineSampler } from '@reptile-bench/datasets';
import type { MetaTrainContext } from '@reptile-bench/meta';
import { createMlp } from '@reptile-bench/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ReptileOptions, reptile } from '../src/index.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('batched Reptile on replica threads', () => {
  const model = createMlp({ inputSize: 1, hidden: [16, 16], outputSize: 1 });
  const options: ReptileOptions = {
    metaIterations: 4,
    metaBatchSize: 3,
    metaStep: 1,
    metaStepFinal: 0,
    innerIterations: 3,
    innerBatchSize: 5,
    innerOptimizer: 'adam',
    innerLearningRate: 0.01,
  };
  const run = (workers: number, extra: Partial<ReptileOptions> = {}) => {
    const losses: number[] = [];
    const ctx: MetaTrainContext = {
      model,
      train: sineSampler({ shots: 10, queryShots: 0 }),
      rng: createRng(11),
      backend: 'wasm',
      workers,
      onMetrics: (_, m) => losses.push(m.inner_loss!),
    };
    return reptile({ ...options, ...extra })
      .metaTrain(ctx)
      .then(({ init: phi }) => ({ phi, losses }));
  };

  it('gives bit-identical φ with 1, 2 or 3 workers (Adam state carried per task slot)', async () => {
    const one = await run(1);
    const two = await run(2);
    const three = await run(3);
    expect(two.phi).toEqual(one.phi);
    expect(three.phi).toEqual(one.phi);
    expect(two.losses).toEqual(one.losses);
    // and the run did move φ away from its initialisation
    expect(one.phi).not.toEqual(model.init(createRng(11).derive('init')));
  });
});
