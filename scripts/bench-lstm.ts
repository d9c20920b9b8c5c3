// Where the time of one training step of the text classifiers goes, kernel by kernel, on one thread:
//   node --import tsx scripts/bench-lstm.ts [wasm|cpu] [student|teacher] [steps] [--composite]
// The batches are real: 32 training sentences of the sentiment data (seed 0 split), a fresh draw each step, so
// the step lengths are those training sees. `--composite` runs the LSTM as plain tfjs ops (the fallback for
// backends without the fused kernel, and where the fused kernel started from) instead of the fused kernel.
// Per kernel: its time per step (median over the steps); then the step and a forward pass (medians) and the
// part of each spent outside kernels.
import { type BackendName, initBackend, parseBackendName, tf } from '../packages/backend/src/index.ts';
import { createRng } from '../packages/core/src/index.ts';
import { loadSentiment, selectExamples, splitSentiment } from '../packages/datasets/src/index.ts';
import {
  adam,
  batchTensors,
  createLstmClassifier,
  toTensors,
  trainStep,
} from '../packages/models/src/index.ts';
import { profileStep } from './kernel-timer.ts';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const composite = process.argv.includes('--composite');
const backend: BackendName = parseBackendName(args[0] ?? 'wasm', 'bench-lstm: backend');
const which = args[1] ?? 'student';
if (which !== 'student' && which !== 'teacher')
  throw new Error(`bench-lstm: the model must be student or teacher, got ${which}`);
const steps = Number(args[2] ?? (backend === 'cpu' ? 5 : 100));
if (!(Number.isInteger(steps) && steps > 0))
  throw new Error(`bench-lstm: steps must be a positive integer, got ${args[2]}`);
await initBackend(backend);
if (composite && tf.getKernel('LstmPool', backend) !== undefined) tf.unregisterKernel('LstmPool', backend);

const data = splitSentiment(await loadSentiment(), { seed: 0, minCount: 2 });
const sizes =
  which === 'student'
    ? { embedding: 64, hidden: 64, bidirectional: false }
    : { embedding: 128, hidden: 128, bidirectional: true };
const model = createLstmClassifier({ vocabSize: data.vocabulary.size, maxLength: data.maxLength, ...sizes });
const rng = createRng('bench-lstm');
const batchAt = (i: number) => {
  const picks = rng.derive('batch', i).sampleWithoutReplacement(data.train.batch.size, 32);
  return batchTensors(selectExamples(data.train.batch, picks));
};
const optimizer = adam({ learningRate: 1e-3, beta1: 0.9 });
let params = toTensors(model, model.init(createRng('bench-lstm/init')));
let counter = 0;
const step = () => {
  const { x, y } = batchAt(counter++);
  params = trainStep(model, optimizer, params, x, y).params;
  tf.dispose([x, y]);
};
const forward = () => {
  const { x, y } = batchAt(counter++);
  tf.tidy(() => model.apply(params, x).dataSync());
  tf.dispose([x, y]);
};
const parameters = model.paramSpecs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
console.log(
  `${which} (${JSON.stringify(sizes)}, ${parameters} parameters), batch 32, ${composite ? 'composite LSTM' : 'fused LSTM kernel'}, ${backend}`,
);
profileStep({ backend, steps, warmUp: backend === 'cpu' ? 1 : 10, step, forward, top: 20 });
