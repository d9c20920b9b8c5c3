import { describe, expect, it } from 'vitest';
import { initBackend, ops, tf } from '../src/index.ts';
import { lstmComposite } from '../src/kernels/lstm.ts';
import { checkOp, randomValues } from './gradient-check.ts';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** The LSTM's last hidden state in float64, straight from the equations (gates i, f, g, o). */
function lstmReference(
  x: Float64Array,
  u: Float64Array,
  lengths: number[],
  time: number,
  hidden: number,
  reverse: boolean,
  pool: 'last' | 'max' = 'last',
): Float64Array {
  const batch = lengths.length;
  const g4 = 4 * hidden;
  const out = new Float64Array(batch * hidden);
  for (let b = 0; b < batch; b++) {
    let h = new Float64Array(hidden);
    const c = new Float64Array(hidden);
    const max = new Float64Array(hidden).fill(Number.NEGATIVE_INFINITY);
    const len = Math.min(lengths[b] as number, time);
    for (let s = 0; s < len; s++) {
      const t = reverse ? len - 1 - s : s;
      const z = new Float64Array(g4);
      for (let q = 0; q < g4; q++) {
        let sum = x[(b * time + t) * g4 + q] as number;
        for (let r = 0; r < hidden; r++) sum += (h[r] as number) * (u[r * g4 + q] as number);
        z[q] = sum;
      }
      const next = new Float64Array(hidden);
      for (let k = 0; k < hidden; k++) {
        const i = sigmoid(z[k] as number);
        const f = sigmoid(z[hidden + k] as number);
        const g = Math.tanh(z[2 * hidden + k] as number);
        const o = sigmoid(z[3 * hidden + k] as number);
        c[k] = f * (c[k] as number) + i * g;
        next[k] = o * Math.tanh(c[k] as number);
      }
      h = next;
      for (let k = 0; k < hidden; k++) max[k] = Math.max(max[k] as number, h[k] as number);
    }
    out.set(pool === 'last' ? h : len > 0 ? max : new Float64Array(hidden), b * hidden);
  }
  return out;
}

describe('lstm (the recurrence of an LSTM layer in one kernel, its gradient in one more)', () => {
  const cases: Array<{ hidden: number; time: number; lengths: number[]; reverse: boolean; pool?: 'max' }> = [
    // rows of every kind: full length, shorter, one step, empty (state stays 0)
    { hidden: 4, time: 5, lengths: [5, 3, 1, 0], reverse: false },
    { hidden: 4, time: 5, lengths: [5, 3, 1, 0], reverse: true },
    // a batch of 5 rows (partial GEMM blocks), and a hidden size the vectorised cell does not take (9)
    { hidden: 12, time: 4, lengths: [4, 2, 4, 3, 1], reverse: true },
    { hidden: 9, time: 4, lengths: [4, 2, 4, 3, 1], reverse: false },
    { hidden: 9, time: 4, lengths: [4, 2, 4, 3, 1], reverse: true },
    // max-pooling over time (the SIMD cell and the JavaScript cell)
    { hidden: 4, time: 5, lengths: [5, 3, 1, 0], reverse: false, pool: 'max' },
    { hidden: 4, time: 5, lengths: [5, 3, 1, 0], reverse: true, pool: 'max' },
    { hidden: 9, time: 4, lengths: [4, 2, 4, 3, 1], reverse: true, pool: 'max' },
  ];
  for (const { hidden, time, lengths, reverse, pool = 'last' } of cases) {
    const batch = lengths.length;
    const label = `hidden ${hidden}, lengths [${lengths}]${reverse ? ', reversed' : ''}${pool === 'max' ? ', max-pooled' : ''}`;
    it(`matches the equations and their gradient on wasm and cpu (${label})`, async () => {
      await checkOp({
        name: `lstm ${label}`,
        inputs: [
          {
            shape: [batch, time, 4 * hidden],
            values: randomValues(`lstm x ${label}`, batch * time * 4 * hidden, -1.5, 1.5),
          },
          {
            shape: [hidden, 4 * hidden],
            values: randomValues(`lstm u ${label}`, hidden * 4 * hidden, -0.6, 0.6),
          },
        ],
        reference: ([x, u]) =>
          lstmReference(x as Float64Array, u as Float64Array, lengths, time, hidden, reverse, pool),
        run: ([x, u]) =>
          ops.lstm(x as tf.Tensor, u as tf.Tensor, tf.tensor1d(lengths, 'int32'), { reverse, pool }),
      });
    });
  }

  it('the composite of tfjs ops gives the same values and gradients as the kernel (both directions, both poolings)', async () => {
    await initBackend('cpu');
    const [batch, time, hidden] = [3, 6, 5];
    const x = tf.tensor(Float32Array.from(randomValues('composite x', batch * time * 4 * hidden)), [
      batch,
      time,
      4 * hidden,
    ]);
    const u = tf.tensor(Float32Array.from(randomValues('composite u', hidden * 4 * hidden, -0.5, 0.5)), [
      hidden,
      4 * hidden,
    ]);
    const lengths = tf.tensor1d([6, 2, 4], 'int32');
    for (const [reverse, pool] of [
      [false, 'last'],
      [true, 'last'],
      [false, 'max'],
      [true, 'max'],
    ] as const) {
      const run = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
        tf.tidy(() => {
          const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.square(f(a, b))),
          )([x, u]);
          return [value.dataSync()[0] as number, ...grads.map((g) => Array.from(g.dataSync()))] as const;
        });
      const kernel = run((a, b) => ops.lstm(a, b, lengths, { reverse, pool }));
      const composite = run((a, b) => lstmComposite(a, b, lengths, reverse, pool));
      expect(composite[0]).toBeCloseTo(kernel[0], 5);
      for (let i = 1; i < 3; i++) {
        const k = kernel[i] as number[];
        const c = composite[i] as number[];
        const scale = Math.max(...k.map(Math.abs));
        expect(Math.max(...k.map((v, j) => Math.abs(v - (c[j] as number)))) / scale).toBeLessThan(1e-5);
      }
    }
    tf.dispose([x, u, lengths]);
  });

  it("padding beyond a row's length changes nothing", async () => {
    await initBackend('wasm');
    const [hidden, time] = [3, 4];
    const values = Float32Array.from(randomValues('padding', 2 * time * 4 * hidden));
    const x = tf.tensor(values, [2, time, 4 * hidden]);
    const noisy = values.slice();
    // row 0 has 2 steps: garbage in its steps 2 and 3 must not matter
    for (let t = 2; t < time; t++) for (let q = 0; q < 4 * hidden; q++) noisy[t * 4 * hidden + q] = 1e3;
    const u = tf.tensor(Float32Array.from(randomValues('padding u', hidden * 4 * hidden)), [
      hidden,
      4 * hidden,
    ]);
    const lengths = tf.tensor1d([2, 4], 'int32');
    for (const [reverse, pool] of [
      [false, 'last'],
      [true, 'max'],
    ] as const) {
      const clean = ops.lstm(x, u, lengths, { reverse, pool });
      const padded = ops.lstm(tf.tensor(noisy, [2, time, 4 * hidden]), u, lengths, { reverse, pool });
      expect(Array.from(padded.dataSync())).toEqual(Array.from(clean.dataSync()));
    }
  });

  it('names operands of the wrong shape or type', async () => {
    await initBackend('cpu');
    const x = tf.zeros([2, 3, 8]);
    expect(() => ops.lstm(x, tf.zeros([3, 8]), tf.tensor1d([1, 1], 'int32'))).toThrow(
      /recurrent must be \[hidden, 4·hidden\] = \[2, 8\] for xProj \[2,3,8\], got \[3,8\]/,
    );
    expect(() => ops.lstm(x, tf.zeros([2, 8]), tf.tensor1d([1, 1]))).toThrow(
      /lengths must be int32 \[2\], got float32/,
    );
    expect(() => ops.lstm(tf.zeros([2, 8]), tf.zeros([2, 8]), tf.tensor1d([1, 1], 'int32'))).toThrow(
      /xProj must be float32 \[batch, time, 4·hidden\]/,
    );
  });
});

describe('embedding (row lookup; its gradient adds rows back into the table)', () => {
  it('matches the definition and its gradient on wasm and cpu, repeated ids included', async () => {
    const ids = [3, 0, 3, 1, 4, 3];
    const [vocab, dim] = [5, 3];
    await checkOp({
      name: 'embedding',
      inputs: [{ shape: [vocab, dim], values: randomValues('embedding table', vocab * dim) }],
      reference: ([table]) => {
        const out = new Float64Array(ids.length * dim);
        ids.forEach((id, i) => {
          for (let k = 0; k < dim; k++) out[i * dim + k] = (table as Float64Array)[id * dim + k] as number;
        });
        return out;
      },
      run: ([table]) => ops.embedding(table as tf.Tensor, tf.tensor2d(ids, [2, 3], 'int32')),
    });
  });

  it('names an id outside the table', async () => {
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend(backend);
      expect(() => ops.embedding(tf.zeros([4, 2]), tf.tensor1d([1, 4], 'int32'))).toThrow(
        /embedding: id 4 at position 1 is outside the table's 4 rows/,
      );
    }
  });
});
