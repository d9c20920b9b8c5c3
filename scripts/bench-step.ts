// Where the time of one Conv4 training step goes, kernel by kernel, on one thread:
//   node --import tsx scripts/bench-step.ts [wasm|cpu] [steps]
// Per kernel: its time per step (the median over the steps); then the step and a forward pass (medians) and the
// part of each spent outside kernels (kernel-timer.ts).
import { type BackendName, initBackend, parseBackendName, tf } from '../packages/backend/src/index.ts';
import { createRng } from '../packages/core/src/index.ts';
import { adam, createConv4, toTensors, trainStep } from '../packages/models/src/index.ts';
import { profileStep } from './kernel-timer.ts';

const backend: BackendName = parseBackendName(process.argv[2] ?? 'wasm', 'bench-step: backend');
const steps = Number(process.argv[3] ?? (backend === 'cpu' ? 3 : 200));
if (!(Number.isInteger(steps) && steps > 0))
  throw new Error(`bench-step: steps must be a positive integer, got ${process.argv[3]}`);
await initBackend(backend);

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
profileStep({ backend, steps, warmUp: backend === 'cpu' ? 1 : 20, step, forward });
