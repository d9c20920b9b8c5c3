import {
  type ClassificationRunConfig,
  fewShotConfig,
  isClassificationRun,
  isTextRun,
  type RunConfig,
} from './config/schema.ts';

/**
 * Single-task classification: every step of every replica (MLP ≈ 3.2 ms, CNN ≈ 7.3 ms of one core at batch 64 on
 * wasm), and a forward pass over the test and validation sets at every evaluation.
 */
function classificationCost(config: ClassificationRunConfig) {
  const a = config.algorithm;
  const cnn = config.model.name === 'cnn';
  const step = cnn ? 1 + 0.1 * a.batch : 0.8 + 0.038 * a.batch;
  const train = (a.examples / a.batch) * step;
  const evaluations = Math.floor(a.examples / config.eval.every_examples) + 1;
  const evaluation = evaluations * (10000 + config.dataset.validation) * (cnn ? 0.05 : 0.012);
  const startup = 3000;
  return { startup, train, eval: evaluation, total: startup + train + evaluation };
}

/**
 * A rough relative cost of a run, in about-milliseconds of one core, used only to turn progress into a
 * sweep-wide ETA. A gradient step costs a fixed dispatch overhead plus a per-example part that depends on the
 * model; forward-only predictions cost about a third of a step.
 */
export function estimateCost(runConfig: RunConfig): {
  startup: number;
  train: number;
  eval: number;
  total: number;
} {
  if (isClassificationRun(runConfig)) return classificationCost(runConfig);
  if (isTextRun(runConfig)) return textRunCost(runConfig);
  const config = fewShotConfig(runConfig);
  // Fitted to CPU times measured on the wasm backend (ms of one core): a Conv4 step of batch 10 ≈ 8 ms, of
  // batch 5 ≈ 4.5 ms; an MLP step ≈ 0.8 ms whatever the batch (dispatch overhead).
  const step = (batch: number) => (config.model.name === 'conv4' ? 1 + 0.72 * batch : 0.75 + 0.005 * batch);
  const a = config.algorithm;
  const e = fewShotConfig(config).eval;
  const d = config.dataset;
  const queries = d.name === 'omniglot' ? d.ways * d.query_shots : 'query_shots' in d ? d.query_shots : 0;
  const support = d.name === 'omniglot' ? d.ways * d.shots : 'shots' in d ? d.shots : 0;
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
    // Joint training classifies all training classes at once (4800 outputs on Omniglot): ~2.8× a few-way step.
    const head = config.dataset.name === 'omniglot' ? 2.8 : 1;
    train = a.train_iters * step(a.train_batch) * head;
  }
  const validations = e.every > 0 ? Math.floor(iterations / e.every) : 0;
  const evaluation = (e.episodes + validations * e.val_episodes) * episode;
  // Process start, imports and data loading.
  const startup = 3000;
  return { startup, train, eval: evaluation, total: startup + train + evaluation };
}

/**
 * A text run: ~1.5 ms of dispatch per step plus its multiply-adds (projection and recurrence, forward and
 * backward ≈ 3× the forward's, sentences ~15 tokens long) at ~10 GMAC/s on the wasm backend; scoring the test
 * split and timing single sentences add a few seconds.
 */
function textRunCost(config: RunConfig) {
  const m = config.model;
  const a = config.algorithm;
  const directions = 'bidirectional' in m && m.bidirectional ? 2 : 1;
  const [width, hidden] = 'hidden' in m && 'embedding' in m ? [m.embedding, m.hidden] : [64, 64];
  const batch = 'train_batch' in a ? a.train_batch : 32;
  const iterations = 'train_iters' in a ? a.train_iters : 0;
  const multiplyAdds = 3 * batch * 15 * 4 * hidden * (width + hidden) * directions;
  const train = iterations * (1.5 + multiplyAdds / 1e7);
  const startup = 3000;
  const evaluation = 3000;
  return { startup, train, eval: evaluation, total: startup + train + evaluation };
}
