import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from './simd/runtime.ts';
import { type TypedKernel, typedKernelConfigs } from './typed-kernel.ts';
import { allocScratch, freeScratch } from './wasm-access.ts';

/**
 * The recurrence of an LSTM layer (Hochreiter & Schmidhuber 1997, with a forget gate), returning what a sequence
 * classifier reads of it: the last hidden state, or the maximum of each unit over the steps (max-pooling over
 * time, as the BiLSTM-max sentence encoder of Conneau et al. 2017):
 *   z_t = x_t + h_{t−1}·U,  [i, f, g, o] = [σ(z_i), σ(z_f), tanh(z_g), σ(z_o)]  (gates in Keras' order)
 *   c_t = f ⊙ c_{t−1} + i ⊙ g,  h_t = o ⊙ tanh(c_t),  h_0 = c_0 = 0
 * `xProj` [batch, time, 4·hidden] is the input already projected (x·W + b, one matrix product for all steps);
 * `recurrent` is U [hidden, 4·hidden]; row b reads its first `lengths[b]` steps (sentences padded at the end),
 * so padding never changes the result. `reverse` reads each row's steps last to first (the backward half of a
 * bidirectional layer). Output [batch, hidden]; 0 for a row without steps.
 */
export const lstmName = 'LstmPool';
export const lstmGradName = 'LstmPoolGrad';

export type LstmPooling = 'last' | 'max';

export interface LstmAttrs {
  reverse: boolean;
  pool: LstmPooling;
}

/** Checks the operands, naming `op` and what is wrong. Returns [batch, time, hidden]. */
export function checkLstm(
  op: string,
  xProj: tf.Tensor,
  recurrent: tf.Tensor,
  lengths: tf.Tensor,
): [number, number, number] {
  if (xProj.rank !== 3 || xProj.dtype !== 'float32')
    throw new Error(
      `${op}: xProj must be float32 [batch, time, 4·hidden], got ${xProj.dtype} [${xProj.shape}]`,
    );
  const [batch, time, gates] = xProj.shape as [number, number, number];
  if (
    gates % 4 !== 0 ||
    recurrent.rank !== 2 ||
    recurrent.shape[0] !== gates / 4 ||
    recurrent.shape[1] !== gates
  )
    throw new Error(
      `${op}: recurrent must be [hidden, 4·hidden] = [${gates / 4}, ${gates}] for xProj [${xProj.shape}], got [${recurrent.shape}]`,
    );
  if (recurrent.dtype !== 'float32')
    throw new Error(`${op}: recurrent must be float32, got ${recurrent.dtype}`);
  if (lengths.rank !== 1 || lengths.shape[0] !== batch || lengths.dtype !== 'int32')
    throw new Error(`${op}: lengths must be int32 [${batch}], got ${lengths.dtype} [${lengths.shape}]`);
  return [batch, time, gates / 4];
}

/**
 * What a forward pass leaves for its gradient, per step s of the walk and row b (rows past their length are
 * skipped): the gate activations [i, f, g, o], tanh(c_s), and the state the step started from (h_{s−1},
 * c_{s−1}). Kept in a WeakMap keyed by the op's attributes object, which tfjs hands unchanged to the forward
 * kernel, the tape and the gradient, as batch norm keeps its statistics: the gradient then needs no extra
 * output (tfjs would build a zero gradient for it on every backward pass) and no recomputation, and an entry
 * lives exactly as long as the tape node that needs it (or, outside a gradient, until the call returns).
 */
interface KeptSteps {
  steps: number;
  lengths: Int32Array;
  gates: Float32Array;
  tanhC: Float32Array;
  hPrev: Float32Array;
  cPrev: Float32Array;
  /** With max-pooling: the step at which each unit of each row had its maximum ([batch, hidden]). */
  argmax?: Int32Array;
}
const kept = new WeakMap<object, KeptSteps>();

function keptOf(attrs: object): KeptSteps {
  const k = kept.get(attrs);
  if (k === undefined)
    throw new Error(
      `${lstmGradName}: no saved steps from its forward pass; the kernel runs only as the gradient of ops.lstm`,
    );
  return k;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
/** tanh from one exponential (V8's Math.tanh costs several): 1 − 2/(e^{2v} + 1), exact at ±∞. */
const tanh = (v: number) => 1 - 2 / (Math.exp(2 * v) + 1);

/** Lengths clamped to [0, time], and the longest: the number of steps the walk takes. */
function walkLengths(lengths: Int32Array, time: number): { lens: Int32Array; steps: number } {
  const lens = Int32Array.from(lengths, (len) => Math.max(0, Math.min(len, time)));
  let steps = 0;
  for (const len of lens) steps = Math.max(steps, len);
  return { lens, steps };
}

/**
 * Max-pooling's bookkeeping after step s: each running row's units that reached a new maximum (the first step
 * sets it; ties keep the earlier step) record it and the step.
 */
function trackMax(
  s: number,
  batch: number,
  hidden: number,
  h: Float32Array,
  hAt: number,
  max: Float32Array,
  keep: KeptSteps,
): void {
  const argmax = keep.argmax as Int32Array;
  for (let b = 0; b < batch; b++) {
    if (s >= (keep.lengths[b] as number)) continue;
    for (let k = b * hidden; k < (b + 1) * hidden; k++) {
      const v = h[hAt + k] as number;
      if (s === 0 || v > (max[k] as number)) {
        max[k] = v;
        argmax[k] = s;
      }
    }
  }
}

/**
 * Step s of the walk for every row still running: gates from z (= h·U, at z[zAt..]) plus the projected input,
 * the new cell and hidden state (written into c and into h at h[hAt..]), and what the gradient needs. Arithmetic
 * in float64, stored in float32; shared by the SIMD path (z and h on the wasm heap) and the JavaScript path.
 */
function stepForward(
  s: number,
  dims: { batch: number; time: number; hidden: number; reverse: boolean },
  x: Float32Array,
  xAt: number,
  z: Float32Array,
  zAt: number,
  h: Float32Array,
  hAt: number,
  c: Float32Array,
  keep: KeptSteps,
): void {
  const { batch, time, hidden, reverse } = dims;
  const gates = 4 * hidden;
  for (let b = 0; b < batch; b++) {
    const len = keep.lengths[b] as number;
    const row = (s * batch + b) * hidden;
    for (let k = 0; k < hidden; k++) {
      keep.hPrev[row + k] = h[hAt + b * hidden + k] as number;
      keep.cPrev[row + k] = c[b * hidden + k] as number;
    }
    if (s >= len) continue;
    const t = reverse ? len - 1 - s : s;
    const xs = xAt + (b * time + t) * gates;
    const zs = zAt + b * gates;
    const gs = (s * batch + b) * gates;
    for (let k = 0; k < hidden; k++) {
      const i = sigmoid((z[zs + k] as number) + (x[xs + k] as number));
      const f = sigmoid((z[zs + hidden + k] as number) + (x[xs + hidden + k] as number));
      const g = tanh((z[zs + 2 * hidden + k] as number) + (x[xs + 2 * hidden + k] as number));
      const o = sigmoid((z[zs + 3 * hidden + k] as number) + (x[xs + 3 * hidden + k] as number));
      const cNext = Math.fround(f * (c[b * hidden + k] as number) + i * g);
      const tc = tanh(cNext);
      keep.gates[gs + k] = i;
      keep.gates[gs + hidden + k] = f;
      keep.gates[gs + 2 * hidden + k] = g;
      keep.gates[gs + 3 * hidden + k] = o;
      keep.tanhC[row + k] = tc;
      c[b * hidden + k] = cNext;
      h[hAt + b * hidden + k] = o * tc;
    }
  }
}

/**
 * Step s backwards for every row that ran it: from dh (at dh[dhAt..]) and dc (carried, updated in place) to the
 * gate pre-activations' gradient dz, written at dz[dzAt..] (rows that did not run get 0) and into the input
 * gradient dx at the row's own time step. Rows that did not run keep their dh and dc.
 */
function stepBackward(
  s: number,
  dims: { batch: number; time: number; hidden: number; reverse: boolean },
  keep: KeptSteps,
  dh: Float32Array,
  dhAt: number,
  dc: Float64Array,
  dz: Float32Array,
  dzAt: number,
  dx: Float32Array,
  dxAt: number,
): void {
  const { batch, time, hidden, reverse } = dims;
  const gates = 4 * hidden;
  for (let b = 0; b < batch; b++) {
    const len = keep.lengths[b] as number;
    const zs = dzAt + b * gates;
    if (s >= len) {
      dz.fill(0, zs, zs + gates);
      continue;
    }
    const t = reverse ? len - 1 - s : s;
    const xs = dxAt + (b * time + t) * gates;
    const row = (s * batch + b) * hidden;
    const gs = (s * batch + b) * gates;
    for (let k = 0; k < hidden; k++) {
      const i = keep.gates[gs + k] as number;
      const f = keep.gates[gs + hidden + k] as number;
      const g = keep.gates[gs + 2 * hidden + k] as number;
      const o = keep.gates[gs + 3 * hidden + k] as number;
      const tc = keep.tanhC[row + k] as number;
      const dhk = dh[dhAt + b * hidden + k] as number;
      const dcTotal = (dc[b * hidden + k] as number) + dhk * o * (1 - tc * tc);
      const dzi = dcTotal * g * i * (1 - i);
      const dzf = dcTotal * (keep.cPrev[row + k] as number) * f * (1 - f);
      const dzg = dcTotal * i * (1 - g * g);
      const dzo = dhk * tc * o * (1 - o);
      dc[b * hidden + k] = dcTotal * f;
      dz[zs + k] = dzi;
      dz[zs + hidden + k] = dzf;
      dz[zs + 2 * hidden + k] = dzg;
      dz[zs + 3 * hidden + k] = dzo;
      dx[xs + k] = dz[zs + k] as number;
      dx[xs + hidden + k] = dz[zs + hidden + k] as number;
      dx[xs + 2 * hidden + k] = dz[zs + 2 * hidden + k] as number;
      dx[xs + 3 * hidden + k] = dz[zs + 3 * hidden + k] as number;
    }
  }
}

function newKept(
  lens: Int32Array,
  steps: number,
  batch: number,
  hidden: number,
  pool: LstmPooling,
): KeptSteps {
  return {
    ...(pool === 'max' ? { argmax: new Int32Array(batch * hidden) } : {}),
    steps,
    lengths: lens,
    gates: new Float32Array(steps * batch * 4 * hidden),
    tanhC: new Float32Array(steps * batch * hidden),
    hPrev: new Float32Array(steps * batch * hidden),
    cPrev: new Float32Array(steps * batch * hidden),
  };
}

/** c[m×n] = a[m×k]·b[k×n] in float64 (the JavaScript path's products; `aT`: a stored [k×m]). */
function matmulJs(
  a: Float32Array,
  aAt: number,
  b: Float32Array,
  c: Float32Array,
  cAt: number,
  m: number,
  k: number,
  n: number,
  aT = false,
): void {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++)
        sum += (a[aAt + (aT ? p * m + i : i * k + p)] as number) * (b[p * n + j] as number);
      c[cAt + i * n + j] = sum;
    }
}

type Dims = { batch: number; time: number; hidden: number; reverse: boolean };

/** The pooled output from the final state h (last) or the running maxima (max; 0 for rows without steps). */
function writePooled(
  out: Float32Array,
  outAt: number,
  h: Float32Array,
  hAt: number,
  max: Float32Array | undefined,
  keep: KeptSteps,
  hidden: number,
): void {
  const batch = keep.lengths.length;
  for (let b = 0; b < batch; b++)
    for (let k = b * hidden; k < (b + 1) * hidden; k++)
      out[outAt + k] = max
        ? (keep.lengths[b] as number) > 0
          ? (max[k] as number)
          : 0
        : (h[hAt + k] as number);
}

/**
 * The output gradient's share of step s: all of it at the last step of each row for `last` (it starts dh), for
 * `max` each unit's at the step of its maximum.
 */
function addPooledGradient(
  s: number,
  keep: KeptSteps,
  dy: Float32Array,
  dh: Float32Array,
  dhAt: number,
  hidden: number,
): void {
  const argmax = keep.argmax;
  if (argmax === undefined) return;
  const batch = keep.lengths.length;
  for (let b = 0; b < batch; b++) {
    if (s >= (keep.lengths[b] as number)) continue;
    for (let k = b * hidden; k < (b + 1) * hidden; k++)
      if (argmax[k] === s) dh[dhAt + k] = (dh[dhAt + k] as number) + (dy[k] as number);
  }
}
const dimsOf = (shapes: Record<string, number[]>, attrs: LstmAttrs): Dims => {
  const [batch, time, gates] = shapes.xProj as [number, number, number];
  return { batch, time, hidden: gates / 4, reverse: attrs.reverse };
};

const forward: TypedKernel<LstmAttrs> = {
  name: lstmName,
  wasm({ backend, inputs: { xProj, recurrent, lengths }, outputs: [out], attrs }) {
    const simd = simdKernels(backend);
    if (simd === undefined || !xProj || !recurrent || !lengths || !out) return false;
    const dims = dimsOf({ xProj: xProj.shape }, attrs);
    const { batch, time, hidden, reverse } = dims;
    const gates = 4 * hidden;
    const heapLengths = new Int32Array(backend.wasm.HEAPF32.buffer, lengths.address, batch);
    const { lens, steps } = walkLengths(heapLengths, time);
    const keep = newKept(lens, steps, batch, hidden, attrs.pool);
    const max = attrs.pool === 'max' ? new Float32Array(batch * hidden) : undefined;
    const perStep = batch * hidden;
    // [h | z = h·U | c | gates of every step | tanh(c) | h_{s−1} | c_{s−1}], copied out to `keep` at the end
    const sizes = [
      perStep,
      batch * gates,
      perStep,
      steps * batch * gates,
      steps * perStep,
      steps * perStep,
      steps * perStep,
    ];
    const scratch = allocScratch(
      backend,
      sizes.reduce((a, b) => a + b, 0),
    );
    try {
      const at = sizes.map((_, i) => scratch.index + sizes.slice(0, i).reduce((a, b) => a + b, 0));
      const [h, z, c, g, tc, hp, cp] = at as [number, number, number, number, number, number, number];
      const heap = backend.wasm.HEAPF32;
      heap.fill(0, h, h + perStep);
      heap.fill(0, c, c + perStep);
      const x = xProj.address >> 2;
      if (hidden % 4 !== 0) {
        // The vectorised cell takes whole groups of 4 units; other sizes take the JavaScript cell.
        const cState = new Float32Array(perStep);
        for (let s = 0; s < steps; s++) {
          simd.gemm_nn(h << 2, recurrent.address, z << 2, batch, hidden, gates, 0, 0);
          stepForward(s, dims, heap, x, heap, z, heap, h, cState, keep);
          if (max) trackMax(s, batch, hidden, heap, h, max, keep);
        }
        writePooled(heap, out.address >> 2, heap, h, max, keep, hidden);
        kept.set(attrs, keep);
        return true;
      }
      for (let s = 0; s < steps; s++) {
        simd.gemm_nn(h << 2, recurrent.address, z << 2, batch, hidden, gates, 0, 0);
        for (let b = 0; b < batch; b++) {
          const len = lens[b] as number;
          if (s >= len) continue;
          const t = reverse ? len - 1 - s : s;
          const row = s * perStep + b * hidden;
          // biome-ignore format: one argument per kernel parameter
          simd.lstm_cell((z + b * gates) << 2, (x + (b * time + t) * gates) << 2, (c + b * hidden) << 2,
            (h + b * hidden) << 2, (g + (s * batch + b) * gates) << 2, (tc + row) << 2, (hp + row) << 2,
            (cp + row) << 2, hidden);
        }
        if (max) trackMax(s, batch, hidden, heap, h, max, keep);
      }
      writePooled(heap, out.address >> 2, heap, h, max, keep, hidden);
      keep.gates.set(heap.subarray(g, g + keep.gates.length));
      keep.tanhC.set(heap.subarray(tc, tc + keep.tanhC.length));
      keep.hPrev.set(heap.subarray(hp, hp + keep.hPrev.length));
      keep.cPrev.set(heap.subarray(cp, cp + keep.cPrev.length));
    } finally {
      freeScratch(backend, scratch);
    }
    kept.set(attrs, keep);
    return true;
  },
  outputShapes: ({ xProj }) => [[xProj?.shape[0] ?? 0, (xProj?.shape[2] ?? 0) / 4]],
  compute({ xProj, recurrent, lengths }, [out], shapes, attrs) {
    const dims = dimsOf(shapes, attrs);
    const { batch, hidden } = dims;
    const { lens, steps } = walkLengths(lengths as Int32Array, dims.time);
    const keep = newKept(lens, steps, batch, hidden, attrs.pool);
    const max = attrs.pool === 'max' ? new Float32Array(batch * hidden) : undefined;
    const h = new Float32Array(batch * hidden);
    const c = new Float32Array(batch * hidden);
    const z = new Float32Array(batch * 4 * hidden);
    for (let s = 0; s < steps; s++) {
      matmulJs(h, 0, recurrent as Float32Array, z, 0, batch, hidden, 4 * hidden);
      stepForward(s, dims, xProj as Float32Array, 0, z, 0, h, 0, c, keep);
      if (max) trackMax(s, batch, hidden, h, 0, max, keep);
    }
    writePooled(out as Float32Array, 0, h, 0, max, keep, hidden);
    kept.set(attrs, keep);
  },
};

const backward: TypedKernel<LstmAttrs> = {
  name: lstmGradName,
  wasm({ backend, inputs: { dh, xProj, recurrent }, outputs: [dx, drecurrent], attrs }) {
    const simd = simdKernels(backend);
    if (simd === undefined || !dh || !xProj || !recurrent || !dx || !drecurrent) return false;
    const dims = dimsOf({ xProj: xProj.shape }, attrs);
    const { batch, time, hidden } = dims;
    const gates = 4 * hidden;
    const keep = keptOf(attrs);
    const steps = keep.steps;
    // [Uᵀ | dz of every step | h_{s−1} of every step | dh | the next dh]
    const sizes = [
      gates * hidden,
      steps * batch * gates,
      steps * batch * hidden,
      batch * hidden,
      batch * hidden,
    ];
    const scratch = allocScratch(
      backend,
      sizes.reduce((a, b) => a + b, 0),
    );
    try {
      const at = sizes.map((_, i) => scratch.index + sizes.slice(0, i).reduce((a, b) => a + b, 0));
      const [uT, dz, hPrev, dhNow, dhNext] = at as [number, number, number, number, number];
      const heap = backend.wasm.HEAPF32;
      heap.fill(0, dx.address >> 2, (dx.address >> 2) + batch * time * gates);
      // `last`: the output gradient is dh after the last step; `max`: it joins dh at each maximum's step.
      const dy = heap.slice(dh.address >> 2, (dh.address >> 2) + batch * hidden);
      if (keep.argmax) heap.fill(0, dhNow, dhNow + batch * hidden);
      else heap.set(dy, dhNow);
      heap.set(keep.hPrev, hPrev);
      simd.transpose(recurrent.address, uT << 2, hidden, gates);
      const dc = new Float64Array(batch * hidden);
      for (let s = steps - 1; s >= 0; s--) {
        const dzStep = dz + s * batch * gates;
        addPooledGradient(s, keep, dy, heap, dhNow, hidden);
        stepBackward(s, dims, keep, heap, dhNow, dc, heap, dzStep, heap, dx.address >> 2);
        simd.gemm_nn(dzStep << 2, uT << 2, dhNext << 2, batch, gates, hidden, 0, 0);
        for (let b = 0; b < batch; b++)
          if (s < (keep.lengths[b] as number))
            heap.copyWithin(dhNow + b * hidden, dhNext + b * hidden, dhNext + (b + 1) * hidden);
      }
      if (steps > 0)
        simd.gemm_tn(hPrev << 2, dz << 2, drecurrent.address, hidden, steps * batch, gates, 0, 0);
      else heap.fill(0, drecurrent.address >> 2, (drecurrent.address >> 2) + hidden * gates);
    } finally {
      freeScratch(backend, scratch);
    }
    return true;
  },
  outputShapes: ({ xProj, recurrent }) => [xProj?.shape ?? [], recurrent?.shape ?? []],
  compute({ dh, recurrent }, [dx, drecurrent], shapes, attrs) {
    const dims = dimsOf(shapes, attrs);
    const { batch, hidden } = dims;
    const gates = 4 * hidden;
    const keep = keptOf(attrs);
    const steps = keep.steps;
    const u = recurrent as Float32Array;
    const uT = new Float32Array(gates * hidden);
    for (let r = 0; r < hidden; r++)
      for (let q = 0; q < gates; q++) uT[q * hidden + r] = u[r * gates + q] as number;
    const dz = new Float32Array(Math.max(1, steps) * batch * gates);
    const dy = dh as Float32Array;
    const dhNow = keep.argmax ? new Float32Array(batch * hidden) : Float32Array.from(dy);
    const dhNext = new Float32Array(batch * hidden);
    const dc = new Float64Array(batch * hidden);
    (dx as Float32Array).fill(0);
    for (let s = steps - 1; s >= 0; s--) {
      const dzStep = s * batch * gates;
      addPooledGradient(s, keep, dy, dhNow, 0, hidden);
      stepBackward(s, dims, keep, dhNow, 0, dc, dz, dzStep, dx as Float32Array, 0);
      matmulJs(dz, dzStep, uT, dhNext, 0, batch, gates, hidden);
      for (let b = 0; b < batch; b++)
        if (s < (keep.lengths[b] as number))
          dhNow.set(dhNext.subarray(b * hidden, (b + 1) * hidden), b * hidden);
    }
    if (steps > 0)
      matmulJs(keep.hPrev, 0, dz, drecurrent as Float32Array, 0, hidden, steps * batch, gates, true);
    else (drecurrent as Float32Array).fill(0);
  },
};

export const lstmKernels = [...typedKernelConfigs(forward), ...typedKernelConfigs(backward)];

export const lstmGradient: tf.GradConfig = {
  kernelName: lstmName,
  inputsToSave: ['xProj', 'recurrent', 'lengths'],
  gradFunc: (dy, saved, attrs) => {
    const [xProj, recurrent, lengths] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    const [dx, drecurrent] = tf
      .engine()
      .runKernel(lstmGradName, { dh: dy as tf.Tensor, xProj, recurrent, lengths }, attrs) as tf.Tensor[];
    return {
      xProj: () => dx as tf.Tensor,
      recurrent: () => drecurrent as tf.Tensor,
      lengths: () => tf.zerosLike(lengths),
    };
  },
};

/**
 * The same recurrence from plain tfjs ops (a matrix product, a split, five activations and the gate arithmetic
 * per time step, with masks for the rows that have ended), for backends without the fused kernel and as the
 * measured starting point of the fused one (scripts/bench-lstm.ts).
 */
export function lstmComposite(
  xProj: tf.Tensor,
  recurrent: tf.Tensor,
  lengths: tf.Tensor,
  reverse: boolean,
  pool: LstmPooling = 'last',
): tf.Tensor2D {
  const [batch, time, hidden] = checkLstm('lstm', xProj, recurrent, lengths);
  const lens = Int32Array.from(lengths.dataSync() as Int32Array, (len) => Math.max(0, Math.min(len, time)));
  const longest = Math.max(0, ...lens);
  return tf.tidy(() => {
    // Reversed, the padding comes first and each row starts once its own steps begin, so the state it ends with
    // is the state after its first step. (A gather could put each row's steps in place instead, but tfjs's gather
    // gradient needs a kernel the wasm backend lacks.)
    const perStep = tf.unstack(reverse ? tf.reverse(xProj, 1) : xProj, 1);
    const [first, last] = reverse ? [time - longest, time] : [0, longest];
    const active = (s: number, len: number) => (reverse ? s >= time - len : s < len);
    let h: tf.Tensor = tf.zeros([batch, hidden]);
    let c: tf.Tensor = tf.zeros([batch, hidden]);
    // max-pooling: each step's h where the row runs, −∞ elsewhere (m·h + (1 − m)·(−∞) is exact for m ∈ {0, 1})
    const pooled: tf.Tensor[] = [];
    for (let s = first; s < last; s++) {
      const z = tf.add(perStep[s] as tf.Tensor, tf.matMul(h, recurrent));
      const [zi, zf, zg, zo] = tf.split(z, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const cNext = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zg)));
      const hNext = tf.mul(tf.sigmoid(zo), tf.tanh(cNext));
      // Rows whose sentence has ended keep their state: m·new + (1 − m)·old is exact for m ∈ {0, 1}.
      const m = tf.tensor2d(
        Float32Array.from(lens, (len) => (active(s, len) ? 1 : 0)),
        [batch, 1],
      );
      const keep = tf.sub(1, m);
      c = tf.add(tf.mul(m, cNext), tf.mul(keep, c));
      h = tf.add(tf.mul(m, hNext), tf.mul(keep, h));
      if (pool === 'max') pooled.push(tf.add(tf.mul(m, hNext), tf.mul(keep, -3.4e38)));
    }
    if (pool === 'last') return h as tf.Tensor2D;
    if (pooled.length === 0) return tf.zeros([batch, hidden]) as tf.Tensor2D;
    const nonEmpty = tf.tensor2d(
      Float32Array.from(lens, (len) => (len > 0 ? 1 : 0)),
      [batch, 1],
    );
    return tf.mul(tf.max(tf.stack(pooled, 1), 1), nonEmpty) as tf.Tensor2D;
  });
}

/**
 * The last hidden state, or each unit's maximum over the steps (`pool: 'max'`), of an LSTM layer over `xProj`
 * [batch, time, 4·hidden] (see above); differentiable in
 * `xProj` and `recurrent`.
 */
export function lstm(
  xProj: tf.Tensor,
  recurrent: tf.Tensor,
  lengths: tf.Tensor,
  options: { reverse?: boolean; pool?: LstmPooling } = {},
): tf.Tensor2D {
  const reverse = options.reverse ?? false;
  const pool = options.pool ?? 'last';
  if (pool !== 'last' && pool !== 'max')
    throw new Error(`lstm: pool must be 'last' or 'max', got ${JSON.stringify(pool)}`);
  checkLstm('lstm', xProj, recurrent, lengths);
  if (tf.getKernel(lstmName, tf.getBackend()) === undefined)
    return lstmComposite(xProj, recurrent, lengths, reverse, pool);
  return tf
    .engine()
    .runKernel(lstmName, { xProj, recurrent, lengths }, { reverse, pool } as never) as tf.Tensor2D;
}
