// The project's fused ops on the tensorflow backend: as one kernel built from TensorFlow's fused ops
// (packages/backend/src/kernels/tensorflow.ts) against their plain-tfjs fallbacks, at Conv4's sizes:
//   node --import tsx scripts/bench-tensorflow-ops.ts [repeats]
// Both variants run interleaved in one process (a shared machine disturbs them alike); each figure is the median
// over the repeats of one call (forward) or one value-and-gradients call (forward + backward), then a Conv4
// training step (batch 10, Adam) and a forward pass with all kernels on and all off.
import { initBackend, ops, tf } from '../packages/backend/src/index.ts';
import { tensorflowKernelNames } from '../packages/backend/src/kernels/tensorflow.ts';
import { createRng } from '../packages/core/src/index.ts';
import { adam, createConv4, toTensors, trainStep } from '../packages/models/src/index.ts';

const repeats = Number(process.argv[2] ?? 200);
if (!(Number.isInteger(repeats) && repeats > 0))
  throw new Error(`bench-tensorflow-ops: repeats must be a positive integer, got ${process.argv[2]}`);
const info = await initBackend('tensorflow');

const saved = tensorflowKernelNames.map((name) => tf.getKernel(name, 'tensorflow') as tf.KernelConfig);
const useKernels = (on: boolean) => {
  for (const config of saved) {
    const present = tf.getKernel(config.kernelName, 'tensorflow') !== undefined;
    if (on && !present) tf.registerKernel(config);
    if (!on && present) tf.unregisterKernel(config.kernelName, 'tensorflow');
  }
};

const rng = createRng('bench-tensorflow-ops');
const uniform = (shape: number[], lo = -1, hi = 1) =>
  tf.tensor(rng.fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), lo, hi), shape);
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? 0;

interface Case {
  name: string;
  inputs: tf.Tensor[];
  run(inputs: tf.Tensor[]): tf.Tensor;
}
const labels = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], 'int32');
const cases: Case[] = [
  {
    name: 'batchNormRelu [10,14,14,64]',
    inputs: [uniform([10, 14, 14, 64]), uniform([64]), uniform([64], 0.5, 1.5), uniform([64])],
    run: ([x, b, g, be]) =>
      ops.batchNormRelu(x as tf.Tensor, b as tf.Tensor, g as tf.Tensor, be as tf.Tensor),
  },
  {
    name: 'batchNormRelu [10,2,2,64]',
    inputs: [uniform([10, 2, 2, 64]), uniform([64]), uniform([64], 0.5, 1.5), uniform([64])],
    run: ([x, b, g, be]) =>
      ops.batchNormRelu(x as tf.Tensor, b as tf.Tensor, g as tf.Tensor, be as tf.Tensor),
  },
  {
    name: 'denseSoftmaxCrossEntropy [10,256]x[256,5]',
    inputs: [uniform([10, 256]), uniform([256, 5]), uniform([5])],
    run: ([x, w, b]) => ops.denseSoftmaxCrossEntropy(x as tf.Tensor, w as tf.Tensor, b as tf.Tensor, labels),
  },
  {
    name: 'dense [10,256]x[256,5]',
    inputs: [uniform([10, 256]), uniform([256, 5]), uniform([5])],
    run: ([x, w, b]) => ops.dense(x as tf.Tensor, w as tf.Tensor, b as tf.Tensor),
  },
  {
    name: 'softmaxCrossEntropy [10,5]',
    inputs: [uniform([10, 5], -3, 3)],
    run: ([l]) => ops.softmaxCrossEntropy(l as tf.Tensor, labels),
  },
  {
    name: 'meanSquaredError [10,1]',
    inputs: [uniform([10, 1]), uniform([10])],
    run: ([p, t]) => ops.meanSquaredError(p as tf.Tensor, t as tf.Tensor),
  },
];

const time = (f: () => void) => {
  const start = performance.now();
  f();
  return performance.now() - start;
};
const forward = (c: Case) => () => tf.tidy(() => void c.run(c.inputs).dataSync());
const withGradients = (c: Case) => () =>
  tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => tf.sum(c.run(xs)) as tf.Scalar)(
      c.inputs,
    );
    value.dataSync();
    for (const g of grads) g.dataSync();
  });

console.log(
  `tensorflow backend: ${info.version}, ${info.threads} intra-op threads; ${repeats} repeats, medians (ms)`,
);
console.log(
  `${'op'.padEnd(44)} ${'forward: fused'.padStart(15)} ${'fallback'.padStart(9)}   ${'fwd+bwd: fused'.padStart(15)} ${'fallback'.padStart(9)}`,
);
for (const c of cases) {
  const samples = {
    fusedF: [] as number[],
    plainF: [] as number[],
    fusedG: [] as number[],
    plainG: [] as number[],
  };
  for (let i = 0; i < repeats + 5; i++) {
    useKernels(true);
    const fusedF = time(forward(c));
    const fusedG = time(withGradients(c));
    useKernels(false);
    const plainF = time(forward(c));
    const plainG = time(withGradients(c));
    if (i < 5) continue; // warm-up
    samples.fusedF.push(fusedF);
    samples.fusedG.push(fusedG);
    samples.plainF.push(plainF);
    samples.plainG.push(plainG);
  }
  const f = (values: number[]) => median(values).toFixed(3);
  console.log(
    `${c.name.padEnd(44)} ${f(samples.fusedF).padStart(15)} ${f(samples.plainF).padStart(9)}   ${f(samples.fusedG).padStart(15)} ${f(samples.plainG).padStart(9)}`,
  );
}

// The whole Conv4 step (Adam β1 = 0, batch 10) and a forward pass, kernels on and off, interleaved.
const model = createConv4({ ways: 5 });
const x = uniform([10, 28, 28, 1], 0, 1);
const optimizer = adam({ learningRate: 1e-3 });
let params = toTensors(model, model.init(createRng('bench-tensorflow-ops/init')));
const step = () => {
  params = trainStep(model, optimizer, params, x, labels).params;
};
const apply = () => tf.tidy(() => void model.apply(params, x).dataSync());
const conv4 = {
  fusedStep: [] as number[],
  plainStep: [] as number[],
  fusedForward: [] as number[],
  plainForward: [] as number[],
};
for (let i = 0; i < repeats + 5; i++) {
  useKernels(true);
  const fusedStep = time(step);
  const fusedForward = time(apply);
  useKernels(false);
  const plainStep = time(step);
  const plainForward = time(apply);
  if (i < 5) continue;
  conv4.fusedStep.push(fusedStep);
  conv4.plainStep.push(plainStep);
  conv4.fusedForward.push(fusedForward);
  conv4.plainForward.push(plainForward);
}
const m = (values: number[]) => median(values).toFixed(2);
console.log(
  `Conv4 training step: fused ${m(conv4.fusedStep)} ms, fallback ${m(conv4.plainStep)} ms; forward: fused ${m(conv4.fusedForward)} ms, fallback ${m(conv4.plainForward)} ms`,
);
