import type { RunConfig } from './config/schema.ts';

/**
 * A rough relative cost of a run, in about-milliseconds of one core, used only to turn progress into a
 * sweep-wide ETA. A gradient step costs a fixed dispatch overhead plus a per-example part that depends on the
 * model; forward-only predictions cost about a third of a step.
 */
export function estimateCost(config: RunConfig): {
  startup: number;
  train: number;
  eval: number;
  total: number;
} {
  // Measured on the wasm backend (ms of one core): a Conv4 step of batch 10 ≈ 17 ms, of batch 50 ≈ 115 ms (the
  // per-example cost grows with the batch); an MLP step is nearly all overhead.
  const step = (batch: number) => 3 + batch * (config.model.name === 'conv4' ? 1.4 + 0.016 * batch : 0.02);
  const a = config.algorithm;
  const e = config.eval;
  const d = config.dataset;
  const queries = d.name === 'omniglot' ? d.ways * d.query_shots : d.query_shots;
  const support = d.name === 'omniglot' ? d.ways * d.shots : d.shots;
  const nonTransductive = e.modes.includes('non-transductive') ? (queries * step(support + 1)) / 3 : 0;
  const transductive = e.modes.includes('transductive') ? step(queries) / 3 : 0;
  const episode = e.eval_iters * step(e.eval_batch) + nonTransductive + transductive;
  let train = 0;
  let iterations = 0;
  if ('meta_iters' in a) {
    iterations = a.meta_iters;
    const secondOrder = a.name === 'maml' ? 3 : 1;
    train = a.meta_iters * a.meta_batch * a.inner_iters * step(a.inner_batch) * secondOrder;
  } else if ('train_iters' in a) {
    iterations = a.train_iters;
    train = a.train_iters * step(a.train_batch);
  }
  const validations = e.every > 0 ? Math.floor(iterations / e.every) : 0;
  const evaluation = (e.episodes + validations * e.val_episodes) * episode;
  // Process start, imports and data loading.
  const startup = 4000;
  return { startup, train, eval: evaluation, total: startup + train + evaluation };
}
