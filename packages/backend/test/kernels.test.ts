import { createRng } from '@reptile-bench/core';
import { describe, expect, it } from 'vitest';
import { initBackend, ops, tf } from '../src/index.ts';
import { checkOp, randomValues } from './gradient-check.ts';
import { batchNormRelu64, type Conv2DSpec, conv2d64, matMul64, softmaxCrossEntropy64 } from './reference.ts';

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

describe('conv2d and its gradients (Conv2D, Conv2DBackpropFilter, Conv2DBackpropInput)', () => {
  const cases: Array<[string, Conv2DSpec]> = [
    [
      'stride 1 same, odd',
      { xShape: [2, 7, 7, 3], filterShape: [3, 3, 3, 5], strides: [1, 1], dilations: [1, 1], pad: 'same' },
    ],
    [
      'stride 2 same, even',
      { xShape: [2, 8, 8, 4], filterShape: [3, 3, 4, 8], strides: [2, 2], dilations: [1, 1], pad: 'same' },
    ],
    [
      'stride 2 same, odd',
      { xShape: [2, 7, 7, 4], filterShape: [3, 3, 4, 8], strides: [2, 2], dilations: [1, 1], pad: 'same' },
    ],
    [
      'stride 2 valid, odd',
      { xShape: [2, 9, 8, 3], filterShape: [3, 3, 3, 5], strides: [2, 2], dilations: [1, 1], pad: 'valid' },
    ],
    [
      'stride 1 valid, even',
      { xShape: [3, 6, 8, 2], filterShape: [2, 3, 2, 4], strides: [1, 1], dilations: [1, 1], pad: 'valid' },
    ],
    [
      'one input channel',
      { xShape: [2, 8, 8, 1], filterShape: [3, 3, 1, 8], strides: [2, 2], dilations: [1, 1], pad: 'same' },
    ],
    [
      'mixed strides',
      { xShape: [1, 9, 7, 4], filterShape: [3, 2, 4, 12], strides: [2, 1], dilations: [1, 1], pad: 'same' },
    ],
    // whole SIMD blocks of input channels, positions not a multiple of the GEMM's 4-row block, and Conv4's sizes
    [
      'stride 2 same, odd, 8 input channels',
      { xShape: [3, 5, 5, 8], filterShape: [3, 3, 8, 8], strides: [2, 2], dilations: [1, 1], pad: 'same' },
    ],
    [
      'stride 1 valid, 16 input channels',
      { xShape: [2, 6, 5, 16], filterShape: [2, 3, 16, 4], strides: [1, 1], dilations: [1, 1], pad: 'valid' },
    ],
    [
      'mixed strides, 8 input channels',
      { xShape: [1, 9, 7, 8], filterShape: [3, 2, 8, 12], strides: [2, 1], dilations: [1, 1], pad: 'same' },
    ],
    [
      'stride 2 same, even, like Conv4 layer 3',
      { xShape: [2, 7, 7, 64], filterShape: [3, 3, 64, 64], strides: [2, 2], dilations: [1, 1], pad: 'same' },
    ],
  ];
  for (const [label, spec] of cases) {
    it(label, async () => {
      await checkOp({
        name: `conv2d ${label}`,
        inputs: [
          { shape: spec.xShape, values: randomValues(`${label}/x`, sizeOf(spec.xShape)) },
          { shape: spec.filterShape, values: randomValues(`${label}/f`, sizeOf(spec.filterShape)) },
        ],
        reference: ([x, f]) => conv2d64(spec, x as Float64Array, f as Float64Array),
        run: ([x, f]) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, spec.strides, spec.pad),
      });
    });
  }

  it('filter gradient without a preceding forward pass (no kept patches) matches cpu', async () => {
    const x = randomValues('direct/x', 2 * 7 * 6 * 4);
    const dy = randomValues('direct/dy', 2 * 4 * 3 * 8);
    const results: Float32Array[] = [];
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend(backend);
      results.push(
        tf.tidy(() => {
          const inputs = {
            x: tf.tensor4d(Float32Array.from(x), [2, 7, 6, 4]),
            dy: tf.tensor4d(Float32Array.from(dy), [2, 4, 3, 8]),
          };
          const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 4, 8] };
          return (
            tf.engine().runKernel('Conv2DBackpropFilter', inputs, attrs) as tf.Tensor
          ).dataSync() as Float32Array;
        }),
      );
    }
    const [wasm, cpu] = results as [Float32Array, Float32Array];
    const scale = Math.max(...Array.from(cpu, Math.abs));
    expect(
      Math.max(...Array.from(wasm, (v, i) => Math.abs(v - (cpu[i] as number)))) / scale,
    ).toBeLessThanOrEqual(1e-4);
  });

  it('dilated forward convolution matches the definition', async () => {
    const spec: Conv2DSpec = {
      xShape: [2, 9, 9, 4],
      filterShape: [3, 3, 4, 4],
      strides: [1, 1],
      dilations: [2, 2],
      pad: 'same',
    };
    const x = randomValues('dilated/x', sizeOf(spec.xShape));
    const f = randomValues('dilated/f', sizeOf(spec.filterShape));
    const expected = conv2d64(spec, x, f);
    await initBackend('wasm');
    const out = tf.tidy(() =>
      tf
        .conv2d(
          tf.tensor(Float32Array.from(x), spec.xShape) as tf.Tensor4D,
          tf.tensor(Float32Array.from(f), spec.filterShape) as tf.Tensor4D,
          1,
          'same',
          'NHWC',
          2,
        )
        .dataSync(),
    );
    const error = Math.max(...Array.from(out, (v, i) => Math.abs(v - (expected[i] as number))));
    expect(error / Math.max(...Array.from(expected, Math.abs))).toBeLessThanOrEqual(1e-4);
  });
});

describe('matMul and fused matMul (BatchMatMul, _FusedMatMul)', () => {
  type Shape3 = [number, number, number];
  const cases: Array<[string, Shape3, Shape3, boolean, boolean]> = [
    ['plain', [1, 10, 13], [1, 13, 5], false, false],
    ['transposeA (dense-layer weight gradient)', [1, 10, 13], [1, 10, 5], true, false],
    ['transposeB (dense-layer input gradient)', [1, 10, 5], [1, 13, 5], false, true],
    ['both transposed', [1, 9, 6], [1, 11, 9], true, true],
    ['batched', [3, 7, 4], [3, 4, 9], false, false],
    ['batched, A transposed', [2, 5, 6], [2, 5, 3], true, false],
    // the transposed-A product walks K in chunks of 32 rows: two full chunks and a partial one
    ['transposeA over several K chunks', [1, 75, 13], [1, 75, 9], true, false],
  ];
  for (const [label, aShape, bShape, transposeA, transposeB] of cases) {
    it(label, async () => {
      await checkOp({
        name: `matMul ${label}`,
        inputs: [
          { shape: aShape, values: randomValues(`${label}/a`, sizeOf(aShape)) },
          { shape: bShape, values: randomValues(`${label}/b`, sizeOf(bShape)) },
        ],
        reference: ([a, b]) =>
          matMul64(a as Float64Array, aShape, b as Float64Array, bShape, { transposeA, transposeB }),
        run: ([a, b]) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, transposeA, transposeB),
      });
    });
  }

  // tfjs's own gradient cannot un-broadcast batch dimensions, so broadcasting is checked forward only.
  it('broadcasts a shared batch operand', async () => {
    const a = randomValues('broadcast/a', 3 * 7 * 4);
    const b = randomValues('broadcast/b', 9 * 4);
    const expected = matMul64(a, [3, 7, 4], b, [1, 9, 4], { transposeB: true });
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend(backend);
      const out = tf.tidy(() =>
        tf
          .matMul(
            tf.tensor3d(Float32Array.from(a), [3, 7, 4]),
            tf.tensor3d(Float32Array.from(b), [1, 9, 4]),
            false,
            true,
          )
          .dataSync(),
      );
      expect(Math.max(...Array.from(out, (v, i) => Math.abs(v - (expected[i] as number))))).toBeLessThan(
        1e-5,
      );
    }
  });

  for (const activation of ['linear', 'relu', 'sigmoid'] as const) {
    it(`fused with bias and ${activation}`, async () => {
      const fn = {
        linear: undefined,
        relu: (v: number) => Math.max(0, v),
        sigmoid: (v: number) => 1 / (1 + Math.exp(-v)),
      }[activation];
      await checkOp({
        name: `fused matMul ${activation}`,
        inputs: [
          { shape: [10, 12], values: randomValues(`fused/${activation}/a`, 120) },
          { shape: [12, 7], values: randomValues(`fused/${activation}/b`, 84) },
          { shape: [7], values: randomValues(`fused/${activation}/bias`, 7) },
        ],
        reference: ([a, b, bias]) =>
          matMul64(a as Float64Array, [1, 10, 12], b as Float64Array, [1, 12, 7], {
            bias: bias as Float64Array,
            ...(fn ? { activation: fn } : {}),
          }),
        run: ([a, b, bias]) =>
          tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation }),
      });
    });
  }

  it('fused with bias and relu, A transposed, K over several chunks', async () => {
    await checkOp({
      name: 'fused matMul transposeA relu',
      inputs: [
        { shape: [70, 10], values: randomValues('fused-tn/a', 700) },
        { shape: [70, 9], values: randomValues('fused-tn/b', 630) },
        { shape: [9], values: randomValues('fused-tn/bias', 9) },
      ],
      reference: ([a, b, bias]) =>
        matMul64(a as Float64Array, [1, 70, 10], b as Float64Array, [1, 70, 9], {
          transposeA: true,
          bias: bias as Float64Array,
          activation: (v: number) => Math.max(0, v),
        }),
      run: ([a, b, bias]) =>
        tf.fused.matMul({
          a: a as tf.Tensor2D,
          b: b as tf.Tensor2D,
          transposeA: true,
          bias,
          activation: 'relu',
        }),
    });
  });
});

describe('dense (x·kernel + bias in one kernel, its gradient in one more)', () => {
  const cases: Array<[string, number, number, number]> = [
    ["Conv4's 5-way head", 10, 16, 5],
    ['a batch of one', 1, 7, 3],
    // the weight gradient reads x transposed in chunks of 32 rows: more than two of them, and a partial one
    ['a long batch and odd widths', 75, 13, 9],
  ];
  for (const [label, m, k, n] of cases) {
    it(label, async () => {
      await checkOp({
        name: `dense ${label}`,
        inputs: [
          { shape: [m, k], values: randomValues(`dense/${label}/x`, m * k) },
          { shape: [k, n], values: randomValues(`dense/${label}/w`, k * n) },
          { shape: [n], values: randomValues(`dense/${label}/b`, n) },
        ],
        reference: ([x, w, b]) =>
          matMul64(x as Float64Array, [1, m, k], w as Float64Array, [1, k, n], { bias: b as Float64Array }),
        run: ([x, w, b]) => ops.dense(x as tf.Tensor, w as tf.Tensor, b as tf.Tensor),
      });
    });
  }

  it('names mismatched shapes', async () => {
    await initBackend('cpu');
    expect(() => ops.dense(tf.zeros([2, 3]), tf.zeros([4, 5]), tf.zeros([5]))).toThrow(
      'dense: x must be [batch, 4] and kernel [in, out], got [2,3] and [4,5]',
    );
    expect(() => ops.dense(tf.zeros([2, 4]), tf.zeros([4, 5]), tf.zeros([4]))).toThrow(
      'dense: bias must have shape [5] (kernel is [4,5]), got [4]',
    );
  });
});

describe('denseSoftmaxCrossEntropy (dense head and loss in one kernel each way)', () => {
  const cases: Array<[string, number, number, number]> = [
    ["Conv4's 5-way head", 10, 16, 5],
    ['more rows than one K chunk of the weight gradient', 40, 9, 7],
  ];
  for (const [label, m, k, n] of cases) {
    it(`${label}: the definition and its gradients`, async () => {
      const labels = Int32Array.from({ length: m }, (_, i) => (i * 7 + 3) % n);
      await checkOp({
        name: `denseSoftmaxCrossEntropy ${label}`,
        inputs: [
          { shape: [m, k], values: randomValues(`dce/${label}/x`, m * k) },
          { shape: [k, n], values: randomValues(`dce/${label}/w`, k * n) },
          { shape: [n], values: randomValues(`dce/${label}/b`, n) },
        ],
        reference: ([x, w, b]) =>
          softmaxCrossEntropy64(
            matMul64(x as Float64Array, [1, m, k], w as Float64Array, [1, k, n], { bias: b as Float64Array }),
            labels,
            n,
          ),
        run: ([x, w, b]) =>
          ops.denseSoftmaxCrossEntropy(
            x as tf.Tensor,
            w as tf.Tensor,
            b as tf.Tensor,
            tf.tensor1d(labels, 'int32'),
          ),
      });
    });
  }

  it('gives the bits of dense then softmaxCrossEntropy, value and gradients', async () => {
    const [m, k, n] = [10, 16, 5];
    const labels = Int32Array.from({ length: m }, (_, i) => i % n);
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend(backend);
      const values = tf.tidy(() => {
        const x = tf.tensor(Float32Array.from(randomValues('dce/same/x', m * k)), [m, k]);
        const w = tf.tensor(Float32Array.from(randomValues('dce/same/w', k * n)), [k, n]);
        const b = tf.tensor(Float32Array.from(randomValues('dce/same/b', n)), [n]);
        const y = tf.tensor1d(labels, 'int32');
        const fused = tf.valueAndGrads((...p: tf.Tensor[]) =>
          ops.denseSoftmaxCrossEntropy(p[0] as tf.Tensor, p[1] as tf.Tensor, p[2] as tf.Tensor, y),
        )([x, w, b]);
        const separate = tf.valueAndGrads((...p: tf.Tensor[]) =>
          ops.softmaxCrossEntropy(ops.dense(p[0] as tf.Tensor, p[1] as tf.Tensor, p[2] as tf.Tensor), y),
        )([x, w, b]);
        return [fused, separate].map((r) => [r.value, ...r.grads].map((t) => Array.from(t.dataSync())));
      });
      expect(values[0]).toEqual(values[1]);
    }
  });

  it('names bad operands', async () => {
    await initBackend('cpu');
    expect(() =>
      ops.denseSoftmaxCrossEntropy(tf.zeros([2, 3]), tf.zeros([3, 4]), tf.zeros([4]), tf.tensor1d([0, 1, 2])),
    ).toThrow('denseSoftmaxCrossEntropy: labels must have shape [2], got [3]');
    expect(() =>
      ops.denseSoftmaxCrossEntropy(tf.zeros([2, 3]), tf.zeros([3, 4]), tf.zeros([4]), tf.tensor1d([0, 1])),
    ).toThrow('denseSoftmaxCrossEntropy: labels must be int32, got float32');
    expect(() =>
      ops.denseSoftmaxCrossEntropy(
        tf.zeros([2, 3]),
        tf.zeros([4, 4]),
        tf.zeros([4]),
        tf.tensor1d([0, 1], 'int32'),
      ),
    ).toThrow('denseSoftmaxCrossEntropy: x must be [batch, 4] and kernel [in, out], got [2,3] and [4,4]');
  });
});

describe('Sum over leading axes (bias gradients) and other reductions', () => {
  const cases: Array<[string, number[], number | number[], boolean]> = [
    ['a dense-layer bias gradient', [10, 5], 0, false],
    ['two leading axes, kept', [3, 4, 6], [1, 0], true],
    ['a conv bias gradient (all but channels)', [2, 3, 3, 8], [0, 1, 2], false],
    ["an inner axis (the backend's own kernel)", [4, 6], 1, false],
    ['every axis', [5, 7], [0, 1], false],
  ];
  for (const [label, shape, axis, keepDims] of cases) {
    it(label, async () => {
      const values = randomValues(`sum/${label}`, sizeOf(shape));
      const results: Array<{ shape: number[]; values: Float32Array }> = [];
      for (const backend of ['wasm', 'cpu'] as const) {
        await initBackend(backend);
        results.push(
          tf.tidy(() => {
            const out = tf.sum(tf.tensor(Float32Array.from(values), shape), axis, keepDims);
            return { shape: out.shape, values: out.dataSync() as Float32Array };
          }),
        );
      }
      const [wasm, cpu] = results as [(typeof results)[0], (typeof results)[0]];
      expect(wasm.shape).toEqual(cpu.shape);
      wasm.values.forEach((v, i) => {
        expect(v).toBeCloseTo(cpu.values[i] as number, 5);
      });
    });
  }
});

describe('batchNormRelu', () => {
  const cases: Array<[string, number[], boolean]> = [
    ['4 channels (SIMD path), ReLU', [6, 5, 5, 4], true],
    ['64 channels like Conv4, ReLU', [3, 2, 3, 64], true],
    ['3 channels (scalar path), ReLU', [4, 3, 3, 3], true],
    ['8 channels, no ReLU, rank 2', [20, 8], false],
    ['a batch of 4 single pixels (Conv4 last block on small inputs)', [4, 1, 1, 4], true],
    ['20 channels: register blocks plus a remainder group', [5, 3, 3, 20], true],
    ['12 channels, no ReLU', [7, 2, 2, 12], false],
  ];
  for (const [label, shape, relu] of cases) {
    it(label, async () => {
      const c = shape.at(-1) as number;
      await checkOp({
        name: `batchNormRelu ${label}`,
        inputs: [
          { shape, values: randomValues(`${label}/x`, sizeOf(shape), -2, 3) },
          { shape: [c], values: randomValues(`${label}/bias`, c) },
          { shape: [c], values: randomValues(`${label}/gamma`, c, 0.5, 1.5) },
          { shape: [c], values: randomValues(`${label}/beta`, c) },
        ],
        reference: ([x, bias, gamma, beta]) =>
          batchNormRelu64(
            x as Float64Array,
            bias as Float64Array,
            gamma as Float64Array,
            beta as Float64Array,
            1e-3,
            relu,
          ),
        run: ([x, bias, gamma, beta]) =>
          ops.batchNormRelu(x as tf.Tensor, bias as tf.Tensor, gamma as tf.Tensor, beta as tf.Tensor, {
            epsilon: 1e-3,
            relu,
          }),
        zeroGradient: [1],
      });
    });
  }

  it('refuses a second-order gradient instead of returning a wrong one', async () => {
    await initBackend('cpu');
    const [bias, gamma, beta] = [tf.zeros([4]), tf.ones([4]), tf.zeros([4])];
    const w = tf.tensor2d(Float32Array.from(randomValues('second-order/w', 24)), [6, 4]);
    const inner = (u: tf.Tensor) => tf.sum(tf.mul(ops.batchNormRelu(u, bias, gamma, beta), w));
    const x = tf.tensor2d(Float32Array.from(randomValues('second-order/x', 24)), [6, 4]);
    expect(() => tf.grad((z: tf.Tensor) => tf.sum(tf.grad(inner)(z)))(x)).toThrow(
      'gradient function not found for BatchNormReluTrainingGrad',
    );
  });

  // the gradient finds its forward pass's statistics by the call, not by the input: two calls on one x
  for (const [label, c] of [
    ['two batch norms of one input (SIMD path)', 8],
    ['two batch norms of one input (scalar path)', 3],
  ] as const) {
    it(label, async () => {
      const shape = [5, 3, c];
      const bn = (x: Float64Array, gamma: Float64Array, beta: Float64Array) =>
        batchNormRelu64(x, new Float64Array(c), gamma, beta, 1e-3, true);
      await checkOp({
        name: `batchNormRelu ${label}`,
        inputs: [
          { shape, values: randomValues(`${label}/x`, 15 * c, -2, 3) },
          { shape: [c], values: randomValues(`${label}/gamma1`, c, 0.5, 1.5) },
          { shape: [c], values: randomValues(`${label}/beta1`, c) },
          { shape: [c], values: randomValues(`${label}/gamma2`, c, -1.5, -0.5) },
          { shape: [c], values: randomValues(`${label}/beta2`, c, 0, 2) },
        ],
        reference: ([x, g1, b1, g2, b2]) => {
          const first = bn(x as Float64Array, g1 as Float64Array, b1 as Float64Array);
          const second = bn(x as Float64Array, g2 as Float64Array, b2 as Float64Array);
          return first.map((v, i) => v + 2 * (second[i] as number));
        },
        run: ([x, g1, b1, g2, b2]) => {
          const bias = tf.zeros([c]);
          const first = ops.batchNormRelu(x as tf.Tensor, bias, g1 as tf.Tensor, b1 as tf.Tensor);
          const second = ops.batchNormRelu(x as tf.Tensor, bias, g2 as tf.Tensor, b2 as tf.Tensor);
          return tf.add(first, tf.mul(second, 2));
        },
      });
    });
  }

  it('the gradient kernel refuses to run without its forward pass', async () => {
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend(backend);
      expect(() =>
        tf.engine().runKernel(
          'BatchNormReluTrainingGrad',
          { dy: tf.ones([2, 4]), x: tf.ones([2, 4]) },
          {
            epsilon: 1e-3,
            relu: true,
          },
        ),
      ).toThrow('BatchNormReluTrainingGrad: no statistics from its forward pass');
    }
  });

  it('rejects parameters of the wrong shape', async () => {
    await initBackend('wasm');
    const x = tf.zeros([2, 4]);
    expect(() => ops.batchNormRelu(x, tf.zeros([3]), tf.ones([4]), tf.zeros([4]))).toThrow(
      'batchNormRelu: bias must have shape [4] (x is [2,4]), got [3]',
    );
  });
});

describe('softmaxCrossEntropy', () => {
  it('matches the definition and its gradient', async () => {
    const labels = Int32Array.from([0, 4, 2, 2, 1, 3, 0]);
    await checkOp({
      name: 'softmaxCrossEntropy',
      inputs: [{ shape: [7, 5], values: randomValues('ce/logits', 35, -4, 4) }],
      reference: ([logits]) => softmaxCrossEntropy64(logits as Float64Array, labels, 5),
      run: ([logits]) => ops.softmaxCrossEntropy(logits as tf.Tensor, tf.tensor1d(labels, 'int32')),
    });
  });

  it('names a label outside the classes', async () => {
    await initBackend('wasm');
    expect(() => ops.softmaxCrossEntropy(tf.zeros([2, 3]), tf.tensor1d([0, 3], 'int32'))).toThrow(
      'softmaxCrossEntropy: label 3 at row 1 is outside [0, 3)',
    );
  });
});

describe('adamUpdate', () => {
  // Sizes 7 and 13 leave a scalar tail after the SIMD loop.
  const shapes = [[7], [3, 4], [13]];
  for (const beta1 of [0, 0.9]) {
    it(`matches the update rule in float64 (beta1 = ${beta1})`, async () => {
      const rng = createRng(`adam/${beta1}`);
      const draw = (shape: number[], lo: number, hi: number) =>
        Float32Array.from({ length: sizeOf(shape) }, () => rng.uniform(lo, hi));
      const p = shapes.map((s) => draw(s, -1, 1));
      const g = shapes.map((s) => draw(s, -1, 1));
      const v = shapes.map((s) => draw(s, 0, 0.1));
      const m = shapes.map((s) => draw(s, -0.1, 0.1));
      const options = { stepSize: 0.01, beta1, beta2: 0.999, epsilon: 1e-8 };
      for (const backend of ['wasm', 'cpu'] as const) {
        await initBackend(backend);
        // the moments are one flat tensor, parameter after parameter; split back for the comparison
        const flat = (arrays: Float32Array[]) =>
          tf.tensor1d(Float32Array.from(arrays.flatMap((a) => [...a])));
        const split = (values: Float32Array) => {
          const starts = p.map((_, i) => p.slice(0, i).reduce((n, a) => n + a.length, 0));
          return p.map((pi, i) => values.slice(starts[i], (starts[i] as number) + pi.length));
        };
        const out = tf.tidy(() => {
          const t = (arrays: Float32Array[]) => arrays.map((a, i) => tf.tensor(a, shapes[i]));
          const r = ops.adamUpdate(t(p), t(g), flat(v), beta1 > 0 ? flat(m) : undefined, options);
          return {
            p: r.params.map((x) => x.dataSync()),
            v: split(r.v.dataSync() as Float32Array),
            m: r.m && split(r.m.dataSync() as Float32Array),
          };
        });
        p.forEach((pi, i) => {
          pi.forEach((pk, k) => {
            const gk = g[i]?.[k] as number;
            const vNew = 0.999 * (v[i]?.[k] as number) + 0.001 * gk * gk;
            const mNew = beta1 > 0 ? beta1 * (m[i]?.[k] as number) + (1 - beta1) * gk : gk;
            const pNew = pk - (0.01 * mNew) / (Math.sqrt(vNew) + 1e-8);
            expect(out.v[i]?.[k]).toBeCloseTo(vNew, 6);
            if (beta1 > 0) expect(out.m?.[i]?.[k]).toBeCloseTo(mNew, 6);
            expect(Math.abs((out.p[i]?.[k] as number) - pNew)).toBeLessThanOrEqual(
              1e-6 * Math.max(1, Math.abs(pNew)),
            );
          });
        });
      }
    });
  }
});

describe('adamUpdate taking over buffers on wasm (consumeParams)', () => {
  const options = { stepSize: 0.01, beta1: 0, beta2: 0.999, epsilon: 1e-8 };
  const p = randomValues('adam-reuse/p', 12);
  const g = randomValues('adam-reuse/g', 12);
  const v = randomValues('adam-reuse/v', 12, 0, 0.1);

  it("writes the new parameters and moments into the old buffers, with the functional result's values", async () => {
    await initBackend('wasm');
    const fresh = () => ({
      params: [
        tf.tensor(Float32Array.from(p.slice(0, 5)), [5]),
        tf.tensor(Float32Array.from(p.slice(5)), [7]),
      ],
      grads: [
        tf.tensor(Float32Array.from(g.slice(0, 5)), [5]),
        tf.tensor(Float32Array.from(g.slice(5)), [7]),
      ],
      v: tf.tensor1d(Float32Array.from(v)),
    });
    const a = fresh();
    const functional = ops.adamUpdate(a.params, a.grads, a.v, undefined, options);
    const b = fresh();
    const consumed = ops.adamUpdate(b.params, b.grads, b.v, undefined, { ...options, consumeParams: true });
    expect(consumed.params.map((t) => t.dataId)).toEqual(b.params.map((t) => t.dataId));
    expect(consumed.v.dataId).toBe(b.v.dataId);
    expect(functional.params[0]?.dataId).not.toBe(a.params[0]?.dataId);
    functional.params.forEach((t, i) => {
      expect(Array.from(consumed.params[i]?.dataSync() ?? [])).toEqual(Array.from(t.dataSync()));
    });
    expect(Array.from(consumed.v.dataSync())).toEqual(Array.from(functional.v.dataSync()));
    // handed over: disposing the old tensors leaves the new ones intact
    tf.dispose([...b.params, b.v]);
    expect(Array.from(consumed.params[1]?.dataSync() ?? [])).toEqual(
      Array.from(functional.params[1]?.dataSync() ?? []),
    );
    tf.dispose([
      ...a.params,
      ...a.grads,
      a.v,
      ...b.grads,
      ...functional.params,
      functional.v,
      ...consumed.params,
      consumed.v,
    ]);
  });

  it('leaves a parameter alone that another tensor shares', async () => {
    await initBackend('wasm');
    const param = tf.tensor(Float32Array.from(p), [12]);
    const snapshot = tf.clone(param); // shares param's buffer
    const out = ops.adamUpdate(
      [param],
      [tf.tensor(Float32Array.from(g), [12])],
      tf.tensor1d(Float32Array.from(v)),
      undefined,
      {
        ...options,
        consumeParams: true,
      },
    );
    expect(out.params[0]?.dataId).not.toBe(param.dataId);
    expect(Array.from(snapshot.dataSync())).toEqual(Array.from(Float32Array.from(p)));
    tf.dispose([param, snapshot, ...out.params, out.v]);
  });
});

describe('adamUpdate without its kernel (the tensorflow backend) and with bad moments', () => {
  it("the composite of tfjs ops gives the kernel's result", async () => {
    await initBackend('cpu');
    const rng = createRng('adam/composite');
    const shapes = [[5], [2, 3]];
    const draw = (n: number, lo: number, hi: number) =>
      Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
    const p = shapes.map((s) => draw(sizeOf(s), -1, 1));
    const g = shapes.map((s) => draw(sizeOf(s), -1, 1));
    const v = draw(11, 0, 0.1);
    const m = draw(11, -0.1, 0.1);
    const run = () =>
      tf.tidy(() => {
        const r = ops.adamUpdate(
          p.map((a, i) => tf.tensor(a, shapes[i])),
          g.map((a, i) => tf.tensor(a, shapes[i])),
          tf.tensor1d(v),
          tf.tensor1d(m),
          { stepSize: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
        );
        return [...r.params, r.v, r.m as tf.Tensor].map((t) => Array.from(t.dataSync()));
      });
    const withKernel = run();
    const config = tf.getKernel('AdamUpdateMany', 'cpu') as tf.KernelConfig;
    tf.unregisterKernel('AdamUpdateMany', 'cpu');
    try {
      const composite = run();
      composite.forEach((values, i) => {
        values.forEach((x, k) => {
          expect(x).toBeCloseTo(withKernel[i]?.[k] as number, 6);
        });
      });
    } finally {
      tf.registerKernel(config);
    }
  });

  it('names the moment tensor whose size does not match the parameters', async () => {
    await initBackend('cpu');
    const p = [tf.zeros([3]), tf.zeros([2, 2])];
    expect(() =>
      ops.adamUpdate(p, p, tf.zeros([6]), undefined, { stepSize: 0.1, beta1: 0, beta2: 0.9, epsilon: 1e-8 }),
    ).toThrow('adamUpdate: v must be flat with one entry per parameter element ([7]), got [6]');
    tf.dispose(p);
  });
});

describe('meanSquaredError', () => {
  it('matches the definition and its gradients (predictions [n, 1], targets [n])', async () => {
    await checkOp({
      name: 'meanSquaredError',
      inputs: [
        { shape: [9, 1], values: randomValues('mse/pred', 9, -3, 3) },
        { shape: [9], values: randomValues('mse/target', 9, -3, 3) },
      ],
      reference: ([p, t]) =>
        Float64Array.of((p as Float64Array).reduce((s, v, i) => s + (v - (t?.[i] as number)) ** 2, 0) / 9),
      run: ([p, t]) => ops.meanSquaredError(p as tf.Tensor, t as tf.Tensor),
    });
  });
});

describe('second-order derivatives through the fused losses (Hessian-vector products)', () => {
  const hvp = (loss: (x: tf.Tensor) => tf.Scalar, x: tf.Tensor, w: tf.Tensor) =>
    tf.grad((z: tf.Tensor) => tf.sum(tf.mul(tf.grad(loss)(z), w)))(x);

  it('meanSquaredError: H·w = 2w/n', async () => {
    const w = randomValues('hvp/mse/w', 6);
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend(backend);
      const out = tf.tidy(() => {
        const targets = tf.tensor1d(Float32Array.from(randomValues('hvp/mse/t', 6)));
        const loss = (p: tf.Tensor) => ops.meanSquaredError(p, targets);
        return hvp(
          loss,
          tf.tensor2d(Float32Array.from(randomValues('hvp/mse/p', 6)), [6, 1]),
          tf.tensor2d(Float32Array.from(w), [6, 1]),
        ).dataSync();
      });
      expect(Array.from(out)).toEqual(Array.from(w, (v) => expect.closeTo((2 * v) / 6, 6)));
    }
  });

  it('softmaxCrossEntropy: H·w = (s ⊙ w − s (s·w)) / n per row', async () => {
    const [n, k] = [4, 5];
    const logits = randomValues('hvp/ce/l', n * k, -2, 2);
    const w = randomValues('hvp/ce/w', n * k);
    const expected: number[] = [];
    for (let r = 0; r < n; r++) {
      const row = Array.from(logits.subarray(r * k, (r + 1) * k));
      const max = Math.max(...row);
      const e = row.map((v) => Math.exp(v - max));
      const sum = e.reduce((a, b) => a + b, 0);
      const sm = e.map((v) => v / sum);
      const dot = sm.reduce((a, v, i) => a + v * (w[r * k + i] as number), 0);
      expected.push(...sm.map((v, i) => (v * (w[r * k + i] as number) - v * dot) / n));
    }
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend(backend);
      const out = tf.tidy(() => {
        const labels = tf.tensor1d([0, 3, 1, 4], 'int32');
        const loss = (l: tf.Tensor) => ops.softmaxCrossEntropy(l, labels);
        return hvp(
          loss,
          tf.tensor2d(Float32Array.from(logits), [n, k]),
          tf.tensor2d(Float32Array.from(w), [n, k]),
        ).dataSync();
      });
      expect(Array.from(out)).toEqual(expected.map((v) => expect.closeTo(v, 6)));
    }
  });
});

describe('sgdUpdate', () => {
  it('computes p − lr·g for every parameter on wasm and cpu', async () => {
    const p = [Float32Array.of(1, -2, 3), Float32Array.of(0.5, 0.25, -1, 4, 2)];
    const g = [Float32Array.of(0.1, 0.2, -0.3), Float32Array.of(1, -1, 2, 0, 0.5)];
    for (const backend of ['wasm', 'cpu'] as const) {
      await initBackend(backend);
      const out = tf.tidy(() =>
        ops
          .sgdUpdate(
            p.map((a) => tf.tensor1d(a)),
            g.map((a) => tf.tensor1d(a)),
            0.5,
          )
          .map((t) => Array.from(t.dataSync())),
      );
      expect(out).toEqual(
        p.map((pi, i) => Array.from(pi, (v, k) => expect.closeTo(v - 0.5 * (g[i]?.[k] as number), 6))),
      );
    }
    expect(() => ops.sgdUpdate([tf.zeros([2])], [tf.zeros([3])], 0.1)).toThrow(
      'sgdUpdate: gradient 0 has shape [3], parameter 0 has [2]',
    );
  });
});

describe('wasm Identity', () => {
  it('shares memory with its input, which survives the original', async () => {
    await initBackend('wasm');
    const a = tf.tensor1d([1, 2, 3]);
    const before = tf.memory().numDataBuffers;
    const b = a.clone();
    expect(tf.memory().numDataBuffers).toBe(before); // no second buffer
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
  });
});
