import type { RunConfig } from './config/schema.ts';

/**
 * A rough relative cost of a run (examples pushed through the model, weighted by the model's size), used only
 * to turn progress into a sweep-wide ETA. A Conv4 example costs about a hundred times an MLP example here.
 */
export function estimateCost(config: RunConfig): {
  startup: number;
  train: number;
  eval: number;
  total: number;
} {
  const perExample = config.model.name === 'conv4' ? 1 : 0.01;
  const a = config.algorithm;
  const e = config.eval;
  const queries = config.dataset.name === 'omniglot' ? config.dataset.ways * config.dataset.query_shots : 1;
  const episodeCost = e.eval_iters * e.eval_batch + queries * (config.dataset.shots + 1);
  let train = 0;
  let iterations = 0;
  if ('meta_iters' in a) {
    iterations = a.meta_iters;
    train = a.meta_iters * a.meta_batch * a.inner_iters * a.inner_batch;
  } else if ('train_iters' in a) {
    iterations = a.train_iters;
    train = a.train_iters * a.train_batch;
  }
  const validations = e.every > 0 ? Math.floor(iterations / e.every) + 1 : 0;
  const evalCost = e.episodes * episodeCost + validations * e.val_episodes * episodeCost;
  // A fixed start-up cost (process, backend, data) so tiny runs still move the bar.
  const startup = 2000;
  const trainCost = train * perExample;
  const evalWeighted = evalCost * perExample;
  return { startup, train: trainCost, eval: evalWeighted, total: startup + trainCost + evalWeighted };
}
