// Where the time of one Conv4 training step goes, kernel by kernel, on one thread:
//   node --import tsx scripts/bench-step.ts [wasm|cpu] [steps]
// Times are process CPU time (less disturbed by other jobs on a shared machine than wall time); the last lines
// give the step, a forward pass and their ratio.
import { type BackendName, initBackend, parseBackendName, tf } from '../packages/backend/src/index.ts';
import { createRng } from '../packages/core/src/index.ts';
import { adam, createConv4, toTensors, trainStep } from '../packages/models/src/index.ts';

const backend: BackendName = parseBackendName(process.argv[2] ?? 'wasm', 'bench-step: backend');
const steps = Number(process.argv[3] ?? (backend === 'cpu' ? 3 : 100));
if (!(Number.isInteger(steps) && steps > 0))
  throw new Error(`bench-step: steps must be a positive integer, got ${process.argv[3]}`);
await initBackend(backend);

const cpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};
const perKernel = new Map<string, { calls: number; ms: number }>();
for (const config of tf.getKernelsForBackend(backend)) {
  const kernelFunc = config.kernelFunc;
  config.kernelFunc = (args) => {
    const start = cpuMs();
    const out = kernelFunc(args);
    const entry = perKernel.get(config.kernelName) ?? { calls: 0, ms: 0 };
    entry.calls++;
    entry.ms += cpuMs() - start;
    perKernel.set(config.kernelName, entry);
    return out;
  };
}

const model = createConv4({ ways: 5 });
const x = tf.tensor(
  createRng('bench-step/x').fillUniform(new Float32Array(10 * 28 * 28), 0, 1),
  [10, 28, 28, 1],
);
const y = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], 'int32');
const optimizer = adam({ learningRate: 1e-3 });
let params = toTensors(model, model.init(createRng('bench-step/init')));
const warmUp = backend === 'cpu' ? 1 : 20;
for (let i = 0; i < warmUp; i++) params = trainStep(model, optimizer, params, x, y).params;

perKernel.clear();
let start = cpuMs();
for (let i = 0; i < steps; i++) params = trainStep(model, optimizer, params, x, y).params;
const stepMs = (cpuMs() - start) / steps;
const rows = [...perKernel].sort((a, b) => b[1].ms - a[1].ms);
let kernelMs = 0;
for (const [name, { calls, ms }] of rows) {
  kernelMs += ms / steps;
  console.log(
    `${name.padEnd(36)} ${String(calls / steps).padStart(4)} calls ${(ms / steps).toFixed(3).padStart(9)} ms`,
  );
}
start = cpuMs();
for (let i = 0; i < steps; i++) tf.tidy(() => model.apply(params, x).dataSync());
const forwardMs = (cpuMs() - start) / steps;
console.log(
  `kernels ${kernelMs.toFixed(2)} ms, outside kernels ${(stepMs - kernelMs).toFixed(2)} ms (timing included)`,
);
console.log(
  `step ${stepMs.toFixed(2)} ms, forward ${forwardMs.toFixed(2)} ms, ratio ${(stepMs / forwardMs).toFixed(2)}`,
);
