// Where the time of one Conv4 training step goes, kernel by kernel, on one thread:
//   node --import tsx scripts/bench-step.ts [wasm|cpu] [steps]
// Per kernel: its time per step (the median over the steps, so that other jobs on a shared machine disturb it
// little); then the step and a forward pass (medians), the part of each spent outside kernels (tfjs's
// bookkeeping: tape, saved-tensor clones, gradient dispatch, tensor tracking) and the step/forward ratio.
import { type BackendName, initBackend, parseBackendName, tf } from '../packages/backend/src/index.ts';
import { createRng } from '../packages/core/src/index.ts';
import { adam, createConv4, toTensors, trainStep } from '../packages/models/src/index.ts';
import { timeKernels } from './kernel-timer.ts';

const backend: BackendName = parseBackendName(process.argv[2] ?? 'wasm', 'bench-step: backend');
const steps = Number(process.argv[3] ?? (backend === 'cpu' ? 3 : 200));
if (!(Number.isInteger(steps) && steps > 0))
  throw new Error(`bench-step: steps must be a positive integer, got ${process.argv[3]}`);
await initBackend(backend);

// Per kernel: calls and time within the current step; a kernel called from inside another counts in its caller.
const current = timeKernels(backend);

const model = createConv4({ ways: 5 });
const x = tf.tensor(
  createRng('bench-step/x').fillUniform(new Float32Array(10 * 28 * 28), 0, 1),
  [10, 28, 28, 1],
);
const y = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], 'int32');
const optimizer = adam({ learningRate: 1e-3 });
let params = toTensors(model, model.init(createRng('bench-step/init')));
const step = () => {
  params = trainStep(model, optimizer, params, x, y).params;
};
const forward = () => tf.tidy(() => model.apply(params, x).dataSync());
const warmUp = backend === 'cpu' ? 1 : 20;
for (let i = 0; i < warmUp; i++) {
  step();
  forward();
}

interface Sample {
  ms: number;
  kernels: Map<string, { calls: number; ms: number }>;
}
const run = (f: () => void): Sample => {
  current.clear();
  const start = performance.now();
  f();
  return { ms: performance.now() - start, kernels: new Map(current) };
};
const stepSamples: Sample[] = [];
const forwardSamples: Sample[] = [];
for (let i = 0; i < steps; i++) {
  stepSamples.push(run(step));
  forwardSamples.push(run(forward));
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? 0;
const kernelTotal = (s: Sample) => [...s.kernels.values()].reduce((sum, k) => sum + k.ms, 0);
const names = [...new Set(stepSamples.flatMap((s) => [...s.kernels.keys()]))];
const rows = names
  .map((name) => ({
    name,
    calls: stepSamples[0]?.kernels.get(name)?.calls ?? 0,
    ms: median(stepSamples.map((s) => s.kernels.get(name)?.ms ?? 0)),
  }))
  .sort((a, b) => b.ms - a.ms);
for (const { name, calls, ms } of rows)
  console.log(`${name.padEnd(36)} ${String(calls).padStart(4)} calls ${ms.toFixed(3).padStart(9)} ms`);
const summary = (label: string, samples: Sample[]) => {
  const total = median(samples.map((s) => s.ms));
  const outside = median(samples.map((s) => s.ms - kernelTotal(s)));
  console.log(`${label} ${total.toFixed(2)} ms, of which outside kernels ${outside.toFixed(2)} ms`);
  return total;
};
const stepMs = summary('step   ', stepSamples);
const forwardMs = summary('forward', forwardSamples);
console.log(`step / forward ${(stepMs / forwardMs).toFixed(2)} (timing each kernel adds a little to both)`);
