import { initBackend, tf } from './packages/backend/src/index.ts';
import { createRng } from './packages/core/src/index.ts';
import { loadSentiment, selectExamples, splitSentiment } from './packages/datasets/src/index.ts';
import { adam, batchTensors, createLstmClassifier, toTensors, trainStep } from './packages/models/src/index.ts';
await initBackend('wasm');
const [E, H, bi, lr, iters, minCount] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4] === 'bi', Number(process.argv[5]), Number(process.argv[6]), Number(process.argv[7] ?? 2)];
const drop = Number(process.argv[8] ?? 0);
const data = splitSentiment(await loadSentiment(), { seed: Number(process.argv[10] ?? 0), minCount });
const model = createLstmClassifier({ vocabSize: data.vocabulary.size, maxLength: data.maxLength, embedding: E, hidden: H, bidirectional: bi, pool: (process.argv[9] ?? 'last') as 'last' | 'max', bagOfEmbeddings: process.argv[11] === 'bag' });
const rng = createRng('proto');
const opt = adam({ learningRate: lr, beta1: 0.9 });
let params = toTensors(model, model.init(rng.derive('init')));
const acc = (split: any) => tf.tidy(() => { const { x, y } = batchTensors(split.batch); const p = model.apply(params, x).argMax(1).dataSync(); const yy = y.dataSync(); let c = 0; for (let i = 0; i < p.length; i++) c += p[i] === yy[i] ? 1 : 0; return c / p.length; });
const t0 = performance.now();
import { toArrays } from './packages/models/src/index.ts';
let ema: Float32Array[] | undefined; const decay = 0.99;
const accP = (split: any, p: Float32Array[]) => tf.tidy(() => { const t = toTensors(model, p); const { x, y } = batchTensors(split.batch); const pr = model.apply(t, x).argMax(1).dataSync(); const yy = y.dataSync(); let c = 0; for (let i = 0; i < pr.length; i++) c += pr[i] === yy[i] ? 1 : 0; return c / pr.length; });
let order: number[] = [];
for (let i = 0; i < iters; i++) {
  if (order.length < 32) order = [...order, ...rng.derive('epoch', i).shuffle([...Array(data.train.batch.size).keys()])];
  const picks = order.splice(0, 32);
  const b = selectExamples(data.train.batch, picks);
  const r = rng.derive('drop', i);
  if (drop > 0) for (let k = 0; k < b.x.length; k++) if (b.x[k]! > 1 && r.float() < drop) b.x[k] = 1;
  const { x, y } = batchTensors(b);
  const s = trainStep(model, opt, params, x, y); params = s.params; tf.dispose([x, y]);
  if (i >= 150) { const cur = toArrays(params); if (!ema) ema = cur; else ema.forEach((e, j) => { const c = cur[j]!; for (let k = 0; k < e.length; k++) e[k] = decay * e[k]! + (1 - decay) * c[k]!; }); }
  if ((i + 1) % 100 === 0) console.log(i + 1, 'loss', s.loss.toFixed(3), 'val', acc(data.validation).toFixed(3), 'test', acc(data.test).toFixed(3), ema ? 'ema val ' + accP(data.validation, ema).toFixed(3) + ' test ' + accP(data.test, ema).toFixed(3) : '', ((performance.now() - t0) / 1000).toFixed(0), 's');
}
