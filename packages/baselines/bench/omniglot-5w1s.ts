// Benchmark: the paper's Omniglot 5-way 1-shot configuration at reduced scale, for Reptile, first-order MAML and
// both plain-SGD baselines, evaluated with the one protocol (default 1000 test episodes, 50 Adam steps on the
// support set, non-transductive and transductive). Prints a Markdown table with 95% intervals; with --out, also
// writes the figures as JSON (after every learner, so an interrupted run keeps what finished).
//
//   node --import tsx packages/baselines/bench/omniglot-5w1s.ts [--meta-iters 3000] [--episodes 1000]
//     [--workers 2] [--learners reptile,fomaml,sgd-pretrain,sgd-scratch] [--seed 0] [--backend wasm]
//     [--pretrain-iters 6000] [--pretrain-batch 50] [--eval-iters 50] [--out results.json]
import { rename, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { initBackend, parseBackendName } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { fewShotSampler, loadOmniglot, splitOmniglot } from '@reptile-bench/datasets';
import { type EvaluationResult, evaluate } from '@reptile-bench/evaluation';
import type { Learner } from '@reptile-bench/meta';
import { createConv4 } from '@reptile-bench/models';
import { type ReptileOptions, reptile } from '@reptile-bench/reptile';
import { fomaml, sgdFromScratch, sgdPretrain } from '../src/index.ts';

const { values: args } = parseArgs({
  options: {
    'meta-iters': { type: 'string', default: '3000' },
    episodes: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '2' },
    learners: { type: 'string', default: 'reptile,fomaml,sgd-pretrain,sgd-scratch' },
    seed: { type: 'string', default: '0' },
    backend: { type: 'string', default: 'wasm' },
    'pretrain-iters': { type: 'string' },
    'pretrain-batch': { type: 'string', default: '50' },
    'eval-iters': { type: 'string', default: '50' },
    out: { type: 'string' },
  },
});

function positiveInt(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} must be a positive integer, got ${text}`);
  return value;
}

const metaIterations = positiveInt('meta-iters', args['meta-iters']);
const episodes = positiveInt('episodes', args.episodes);
const workers = positiveInt('workers', args.workers);
const seed = Number(args.seed);
const backend = parseBackendName(args.backend, '--backend');
const pretrainIterations = positiveInt(
  'pretrain-iters',
  args['pretrain-iters'] ?? String(2 * metaIterations),
);
const pretrainBatch = positiveInt('pretrain-batch', args['pretrain-batch']);
const evalIterations = positiveInt('eval-iters', args['eval-iters']);
const known = ['reptile', 'fomaml', 'sgd-pretrain', 'sgd-scratch'];
const names = (args.learners ?? '').split(',').filter(Boolean);
for (const name of names)
  if (!known.includes(name))
    throw new Error(`--learners: unknown learner "${name}"; use ${known.join(', ')}`);

// The paper's 5-way 1-shot settings (openai/supervised-reptile README), with fewer meta-iterations.
const paper: ReptileOptions = {
  metaIterations,
  metaBatchSize: 5,
  metaStep: 1,
  metaStepFinal: 0,
  innerIterations: 5,
  innerBatchSize: 10,
  innerOptimizer: 'adam',
  innerLearningRate: 0.001,
};
const learners: Record<string, () => Learner> = {
  reptile: () => reptile(paper),
  fomaml: () => fomaml({ ...paper, tailBatches: 1 }),
  'sgd-pretrain': () =>
    sgdPretrain({
      iterations: pretrainIterations,
      batchSize: pretrainBatch,
      optimizer: 'adam',
      learningRate: 0.001,
    }),
  'sgd-scratch': () => sgdFromScratch(),
};
const trainingIterations = (name: string) =>
  name === 'sgd-pretrain' ? pretrainIterations : name === 'sgd-scratch' ? 0 : metaIterations;

const info = await initBackend(backend);
const data = await loadOmniglot();
const { train, test } = splitOmniglot(data, { seed });
const model = createConv4({ ways: 5 });
const trainTasks = fewShotSampler(train, { ways: 5, shots: 10, queryShots: 0 });
const testTasks = fewShotSampler(test, { ways: 5, shots: 1, queryShots: 1 });
const rng = createRng(seed);
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
log(
  `backend ${info.name} (${info.version}), ${workers} worker(s); ${train.numClasses} train / ${test.numClasses} test classes`,
);

interface Row {
  learner: string;
  trainIterations: number;
  trainSeconds: number;
  evalSeconds: number;
  result: EvaluationResult;
}
const rows: Row[] = [];
const settings = {
  metaIterations,
  episodes,
  workers,
  seed,
  backend: info,
  pretrainIterations,
  pretrainBatch,
  evalIterations,
  paper,
};

async function save(): Promise<void> {
  if (args.out === undefined) return;
  const withoutScores = rows.map((r) => ({ ...r, result: { ...r.result, perEpisode: undefined } }));
  const temp = `${args.out}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify({ settings, rows: withoutScores }, null, 2)}\n`);
  await rename(temp, args.out);
}

for (const name of names) {
  const learner = learners[name]!();
  const total = trainingIterations(name);
  const started = performance.now();
  let lastLog = started;
  const { init } = await learner.metaTrain({
    model,
    train: trainTasks,
    trainClasses: train,
    rng: rng.derive('meta-train', name),
    backend,
    workers,
    onMetrics: (iteration, metrics) => {
      const now = performance.now();
      if (now - lastLog < 30_000 && iteration + 1 !== total) return;
      lastLog = now;
      const elapsed = (now - started) / 1000;
      const eta = (elapsed / (iteration + 1)) * (total - iteration - 1);
      const loss = metrics.inner_loss ?? metrics.train_loss;
      log(
        `${name}: ${iteration + 1}/${total} loss ${loss?.toFixed(3)} ${elapsed.toFixed(0)} s, ETA ${eta.toFixed(0)} s`,
      );
    },
  });
  const trainSeconds = (performance.now() - started) / 1000;
  const evalStart = performance.now();
  let lastEvalLog = evalStart;
  const result = await evaluate(
    model,
    init,
    testTasks,
    {
      episodes,
      adapt: { optimizer: 'adam', learningRate: 0.001, iterations: evalIterations, batchSize: 5 },
      workers,
      onProgress: (done) => {
        const now = performance.now();
        if (now - lastEvalLog < 30_000 && done !== episodes) return;
        lastEvalLog = now;
        log(`${name}: evaluated ${done}/${episodes} episodes, ${((now - evalStart) / 1000).toFixed(0)} s`);
      },
    },
    rng.derive('test'),
  );
  rows.push({
    learner: name,
    trainIterations: total,
    trainSeconds,
    evalSeconds: (performance.now() - evalStart) / 1000,
    result,
  });
  await save();
}

const percent = (m: { mean: number; ci95: number } | undefined) =>
  m === undefined ? '–' : `${(100 * m.mean).toFixed(2)} ± ${(100 * m.ci95).toFixed(2)}`;
console.log(
  `\nOmniglot 5-way 1-shot, ${metaIterations} meta-iterations (paper: 100k), ${episodes} test episodes, seed ${seed}, ${info.name}\n`,
);
console.log('| learner | training iterations | non-transductive % | transductive % | train s | eval s |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows)
  console.log(
    `| ${r.learner} | ${r.trainIterations} | ${percent(r.result.nonTransductive)} | ${percent(r.result.transductive)} | ${r.trainSeconds.toFixed(0)} | ${r.evalSeconds.toFixed(0)} |`,
  );
console.log('\nPublished (Reptile, 100k meta-iterations): 95.39 non-transductive, 97.68 transductive.');
