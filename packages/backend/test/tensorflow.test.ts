// The project's ops on the tensorflow backend (tfjs-node), each against its float64 definition and the cpu
// reference, forward and gradient, and second order where MAML needs it. Skipped, with the reason printed, where
// tfjs-node is not installed (`node scripts/tfjs-node.mjs` installs it).
import { createRng } from '@reptile-bench/core';
import { describe, expect, it } from 'vitest';
import { initBackend, ops, tf } from '../src/index.ts';
import { checkOp, randomValues } from './gradient-check.ts';
import { batchNormRelu64, type Conv2DSpec, conv2d64, matMul64, softmaxCrossEntropy64 } from './reference.ts';

const unavailable = await initBackend('tensorflow').then(
  () => undefined,
  (error: Error) => error.message,
);
if (unavailable !== undefined) console.warn(`SKIPPED: the tensorflow backend tests: ${unavailable}`);
const onTensorflow = describe.skipIf(unavailable !== undefined);
const suffix = unavailable === undefined ? '' : ' (skipped: tfjs-node is not installed)';

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);

/** Runs `fn` on tensorflow and on cpu and returns both results. */
async function onBoth<T>(fn: () => T): Promise<{ tensorflow: T; cpu: T }> {
  await initBackend('tensorflow');
  const tensorflow = fn();
  await initBackend('cpu');
  return { tensorflow, cpu: fn() };
}

onTensorflow(`the tensorflow backend${suffix}`, () => {
  it('records the TensorFlow C library it runs on', async () => {
    const info = await initBackend('tensorflow');
    expect(info.name).toBe('tensorflow');
    expect(info.version).toMatch(
      /^tfjs-core 4\.22\.0, @tensorflow\/tfjs-node(-gpu)? 4\.22\.0, TensorFlow \d+\.\d+\.\d+ \((CPU|GPU)\)$/,
    );
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(tf.getBackend()).toBe('tensorflow');
  });

  describe('conv2d and its gradients', () => {
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
        'mixed strides',
        { xShape: [1, 9, 7, 4], filterShape: [3, 2, 4, 12], strides: [2, 1], dilations: [1, 1], pad: 'same' },
      ],
      [
        'stride 2 same, like Conv4 layer 3',
        {
          xShape: [2, 7, 7, 64],
          filterShape: [3, 3, 64, 64],
          strides: [2, 2],
          dilations: [1, 1],
          pad: 'same',
        },
      ],
    ];
    for (const [label, spec] of cases) {
      it(label, async () => {
        await checkOp(
          {
            name: `conv2d ${label}`,
            inputs: [
              { shape: spec.xShape, values: randomValues(`tf/${label}/x`, sizeOf(spec.xShape)) },
              { shape: spec.filterShape, values: randomValues(`tf/${label}/f`, sizeOf(spec.filterShape)) },
            ],
            reference: ([x, f]) => conv2d64(spec, x as Float64Array, f as Float64Array),
            run: ([x, f]) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, spec.strides, spec.pad),
          },
          1e-4,
          ['tensorflow'],
        );
      });
    }
  });

  describe('matMul and fused matMul', () => {
    type Shape3 = [number, number, number];
    const cases: Array<[string, Shape3, Shape3, boolean, boolean]> = [
      ['plain', [1, 10, 13], [1, 13, 5], false, false],
      ['transposeA', [1, 10, 13], [1, 10, 5], true, false],
      ['transposeB', [1, 10, 5], [1, 13, 5], false, true],
      ['both transposed', [1, 9, 6], [1, 11, 9], true, true],
      ['batched', [3, 7, 4], [3, 4, 9], false, false],
    ];
    for (const [label, aShape, bShape, transposeA, transposeB] of cases) {
      it(label, async () => {
        await checkOp(
          {
            name: `matMul ${label}`,
            inputs: [
              { shape: aShape, values: randomValues(`tf/${label}/a`, sizeOf(aShape)) },
              { shape: bShape, values: randomValues(`tf/${label}/b`, sizeOf(bShape)) },
            ],
            reference: ([a, b]) =>
              matMul64(a as Float64Array, aShape, b as Float64Array, bShape, { transposeA, transposeB }),
            run: ([a, b]) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, transposeA, transposeB),
          },
          1e-4,
          ['tensorflow'],
        );
      });
    }
    for (const activation of ['linear', 'relu', 'sigmoid'] as const) {
      it(`fused with bias and ${activation}`, async () => {
        const fn = {
          linear: undefined,
          relu: (v: number) => Math.max(0, v),
          sigmoid: (v: number) => 1 / (1 + Math.exp(-v)),
        }[activation];
        await checkOp(
          {
            name: `fused matMul ${activation}`,
            inputs: [
              { shape: [10, 12], values: randomValues(`tf/fused/${activation}/a`, 120) },
              { shape: [12, 7], values: randomValues(`tf/fused/${activation}/b`, 84) },
              { shape: [7], values: randomValues(`tf/fused/${activation}/bias`, 7) },
            ],
            reference: ([a, b, bias]) =>
              matMul64(a as Float64Array, [1, 10, 12], b as Float64Array, [1, 12, 7], {
                bias: bias as Float64Array,
                ...(fn ? { activation: fn } : {}),
              }),
            run: ([a, b, bias]) =>
              tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation }),
          },
          1e-4,
          ['tensorflow'],
        );
      });
    }
  });

  describe('dense', () => {
    for (const [label, m, k, n] of [
      ["Conv4's 5-way head", 10, 16, 5],
      ['a batch of one', 1, 7, 3],
      ['a long batch and odd widths', 75, 13, 9],
    ] as const) {
      it(label, async () => {
        await checkOp(
          {
            name: `dense ${label}`,
            inputs: [
              { shape: [m, k], values: randomValues(`tf/dense/${label}/x`, m * k) },
              { shape: [k, n], values: randomValues(`tf/dense/${label}/w`, k * n) },
              { shape: [n], values: randomValues(`tf/dense/${label}/b`, n) },
            ],
            reference: ([x, w, b]) =>
              matMul64(x as Float64Array, [1, m, k], w as Float64Array, [1, k, n], {
                bias: b as Float64Array,
              }),
            run: ([x, w, b]) => ops.dense(x as tf.Tensor, w as tf.Tensor, b as tf.Tensor),
          },
          1e-4,
          ['tensorflow'],
        );
      });
    }
  });

  describe('denseSoftmaxCrossEntropy', () => {
    for (const [label, m, k, n] of [
      ["Conv4's 5-way head", 10, 16, 5],
      ['40 rows, 7 classes', 40, 9, 7],
    ] as const) {
      it(label, async () => {
        const labels = Int32Array.from({ length: m }, (_, i) => (i * 7 + 3) % n);
        await checkOp(
          {
            name: `denseSoftmaxCrossEntropy ${label}`,
            inputs: [
              { shape: [m, k], values: randomValues(`tf/dce/${label}/x`, m * k) },
              { shape: [k, n], values: randomValues(`tf/dce/${label}/w`, k * n) },
              { shape: [n], values: randomValues(`tf/dce/${label}/b`, n) },
            ],
            reference: ([x, w, b]) =>
              softmaxCrossEntropy64(
                matMul64(x as Float64Array, [1, m, k], w as Float64Array, [1, k, n], {
                  bias: b as Float64Array,
                }),
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
          },
          1e-4,
          ['tensorflow'],
        );
      });
    }

    it('gives the value and gradients of dense then softmaxCrossEntropy', async () => {
      await initBackend('tensorflow');
      const [m, k, n] = [10, 16, 5];
      const labels = tf.tensor1d(
        Int32Array.from({ length: m }, (_, i) => i % n),
        'int32',
      );
      const [fused, separate] = tf.tidy(() => {
        const x = tf.tensor(Float32Array.from(randomValues('tf/dce/same/x', m * k)), [m, k]);
        const w = tf.tensor(Float32Array.from(randomValues('tf/dce/same/w', k * n)), [k, n]);
        const b = tf.tensor(Float32Array.from(randomValues('tf/dce/same/b', n)), [n]);
        const a = tf.valueAndGrads((...p: tf.Tensor[]) =>
          ops.denseSoftmaxCrossEntropy(p[0] as tf.Tensor, p[1] as tf.Tensor, p[2] as tf.Tensor, labels),
        )([x, w, b]);
        const s = tf.valueAndGrads((...p: tf.Tensor[]) =>
          ops.softmaxCrossEntropy(ops.dense(p[0] as tf.Tensor, p[1] as tf.Tensor, p[2] as tf.Tensor), labels),
        )([x, w, b]);
        return [a, s].map((r) => [r.value, ...r.grads].map((t) => Array.from(t.dataSync())));
      }) as [number[][], number[][]];
      fused.forEach((values, i) => {
        const scale = Math.max(1e-6, maxAbs(separate[i] as number[]));
        expect(maxAbsDiff(values, separate[i] as number[]) / scale, `output ${i}`).toBeLessThan(1e-5);
      });
      labels.dispose();
    });
  });

  describe('Sum (bias gradients and other reductions)', () => {
    const cases: Array<[string, number[], number | number[], boolean]> = [
      ['a dense-layer bias gradient', [10, 5], 0, false],
      ['two leading axes, kept', [3, 4, 6], [1, 0], true],
      ['a conv bias gradient', [2, 3, 3, 8], [0, 1, 2], false],
      ['an inner axis', [4, 6], 1, false],
    ];
    for (const [label, shape, axis, keepDims] of cases) {
      it(label, async () => {
        const values = randomValues(`tf/sum/${label}`, sizeOf(shape));
        const out = await onBoth(() =>
          tf.tidy(() => {
            const y = tf.sum(tf.tensor(Float32Array.from(values), shape), axis, keepDims);
            return { shape: y.shape, values: Array.from(y.dataSync()) };
          }),
        );
        expect(out.tensorflow.shape).toEqual(out.cpu.shape);
        expect(maxAbsDiff(out.tensorflow.values, out.cpu.values)).toBeLessThan(1e-5);
      });
    }
  });

  describe('batchNormRelu', () => {
    const cases: Array<[string, number[], boolean]> = [
      ['4 channels, ReLU', [6, 5, 5, 4], true],
      ['64 channels like Conv4, ReLU', [3, 2, 3, 64], true],
      ['3 channels, ReLU', [4, 3, 3, 3], true],
      ['8 channels, no ReLU, rank 2', [20, 8], false],
      ['a batch of 4 single pixels', [4, 1, 1, 4], true],
      ['12 channels, no ReLU', [7, 2, 2, 12], false],
    ];
    for (const [label, shape, relu] of cases) {
      it(label, async () => {
        const c = shape.at(-1) as number;
        await checkOp(
          {
            name: `batchNormRelu ${label}`,
            inputs: [
              { shape, values: randomValues(`tf/${label}/x`, sizeOf(shape), -2, 3) },
              { shape: [c], values: randomValues(`tf/${label}/bias`, c) },
              { shape: [c], values: randomValues(`tf/${label}/gamma`, c, 0.5, 1.5) },
              { shape: [c], values: randomValues(`tf/${label}/beta`, c) },
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
          },
          1e-4,
          ['tensorflow'],
        );
      });
    }

    it('two batch norms of one input', async () => {
      const c = 8;
      const shape = [5, 3, c];
      const bn = (x: Float64Array, gamma: Float64Array, beta: Float64Array) =>
        batchNormRelu64(x, new Float64Array(c), gamma, beta, 1e-3, true);
      await checkOp(
        {
          name: 'batchNormRelu twice',
          inputs: [
            { shape, values: randomValues('tf/bn2/x', 15 * c, -2, 3) },
            { shape: [c], values: randomValues('tf/bn2/gamma1', c, 0.5, 1.5) },
            { shape: [c], values: randomValues('tf/bn2/beta1', c) },
            { shape: [c], values: randomValues('tf/bn2/gamma2', c, -1.5, -0.5) },
            { shape: [c], values: randomValues('tf/bn2/beta2', c, 0, 2) },
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
        },
        1e-4,
        ['tensorflow'],
      );
    });
  });

  describe('losses', () => {
    it('softmaxCrossEntropy', async () => {
      const labels = Int32Array.from([0, 4, 2, 2, 1, 3, 0]);
      await checkOp(
        {
          name: 'softmaxCrossEntropy',
          inputs: [{ shape: [7, 5], values: randomValues('tf/ce/logits', 35, -4, 4) }],
          reference: ([logits]) => softmaxCrossEntropy64(logits as Float64Array, labels, 5),
          run: ([logits]) => ops.softmaxCrossEntropy(logits as tf.Tensor, tf.tensor1d(labels, 'int32')),
        },
        1e-4,
        ['tensorflow'],
      );
    });

    it('meanSquaredError (predictions [n, 1], targets [n])', async () => {
      await checkOp(
        {
          name: 'meanSquaredError',
          inputs: [
            { shape: [9, 1], values: randomValues('tf/mse/pred', 9, -3, 3) },
            { shape: [9], values: randomValues('tf/mse/target', 9, -3, 3) },
          ],
          reference: ([p, t]) =>
            Float64Array.of(
              (p as Float64Array).reduce((s, v, i) => s + (v - (t?.[i] as number)) ** 2, 0) / 9,
            ),
          run: ([p, t]) => ops.meanSquaredError(p as tf.Tensor, t as tf.Tensor),
        },
        1e-4,
        ['tensorflow'],
      );
    });
  });

  describe('optimizer updates', () => {
    const shapes = [[7], [3, 4], [13]];
    for (const beta1 of [0, 0.9]) {
      it(`adamUpdate matches the update rule in float64 and cpu (beta1 = ${beta1})`, async () => {
        const rng = createRng(`tf/adam/${beta1}`);
        const draw = (shape: number[], lo: number, hi: number) =>
          Float32Array.from({ length: sizeOf(shape) }, () => rng.uniform(lo, hi));
        const p = shapes.map((s) => draw(s, -1, 1));
        const g = shapes.map((s) => draw(s, -1, 1));
        const v = Float32Array.from(shapes.flatMap((s) => [...draw(s, 0, 0.1)]));
        const m = Float32Array.from(shapes.flatMap((s) => [...draw(s, -0.1, 0.1)]));
        const options = { stepSize: 0.01, beta1, beta2: 0.999, epsilon: 1e-8, consumeParams: true };
        const out = await onBoth(() =>
          tf.tidy(() => {
            const t = (arrays: Float32Array[]) => arrays.map((a, i) => tf.tensor(a, shapes[i]));
            const r = ops.adamUpdate(
              t(p),
              t(g),
              tf.tensor1d(v),
              beta1 > 0 ? tf.tensor1d(m) : undefined,
              options,
            );
            return {
              p: r.params.map((x) => Array.from(x.dataSync())),
              v: Array.from(r.v.dataSync()),
              m: r.m && Array.from(r.m.dataSync()),
            };
          }),
        );
        let j = 0;
        p.forEach((pi, i) => {
          pi.forEach((pk, k) => {
            const gk = g[i]?.[k] as number;
            const vNew = 0.999 * (v[j] as number) + 0.001 * gk * gk;
            const mNew = beta1 > 0 ? beta1 * (m[j] as number) + (1 - beta1) * gk : gk;
            const pNew = pk - (0.01 * mNew) / (Math.sqrt(vNew) + 1e-8);
            expect(out.tensorflow.v[j]).toBeCloseTo(vNew, 6);
            if (beta1 > 0) expect(out.tensorflow.m?.[j]).toBeCloseTo(mNew, 6);
            expect(Math.abs((out.tensorflow.p[i]?.[k] as number) - pNew)).toBeLessThanOrEqual(
              1e-6 * Math.max(1, Math.abs(pNew)),
            );
            expect(
              Math.abs((out.tensorflow.p[i]?.[k] as number) - (out.cpu.p[i]?.[k] as number)),
            ).toBeLessThan(1e-6);
            j++;
          });
        });
      });
    }

    it('sgdUpdate computes p − lr·g', async () => {
      await initBackend('tensorflow');
      const p = [Float32Array.of(1, -2, 3), Float32Array.of(0.5, 0.25, -1, 4, 2)];
      const g = [Float32Array.of(0.1, 0.2, -0.3), Float32Array.of(1, -1, 2, 0, 0.5)];
      const out = tf.tidy(() =>
        ops
          .sgdUpdate(
            p.map((a) => tf.tensor1d(a)),
            g.map((a) => tf.tensor1d(a)),
            0.5,
            { consumeParams: true },
          )
          .map((t) => Array.from(t.dataSync())),
      );
      expect(out).toEqual(
        p.map((pi, i) => Array.from(pi, (v, k) => expect.closeTo(v - 0.5 * (g[i]?.[k] as number), 6))),
      );
    });
  });

  describe('second-order derivatives (MAML)', () => {
    const hvp = (loss: (x: tf.Tensor) => tf.Scalar, x: tf.Tensor, w: tf.Tensor) =>
      tf.grad((z: tf.Tensor) => tf.sum(tf.mul(tf.grad(loss)(z), w)))(x);

    it('meanSquaredError: H·w = 2w/n', async () => {
      await initBackend('tensorflow');
      const w = randomValues('tf/hvp/mse/w', 6);
      const out = tf.tidy(() => {
        const targets = tf.tensor1d(Float32Array.from(randomValues('tf/hvp/mse/t', 6)));
        return hvp(
          (p) => ops.meanSquaredError(p, targets),
          tf.tensor2d(Float32Array.from(randomValues('tf/hvp/mse/p', 6)), [6, 1]),
          tf.tensor2d(Float32Array.from(w), [6, 1]),
        ).dataSync();
      });
      expect(Array.from(out)).toEqual(Array.from(w, (v) => expect.closeTo((2 * v) / 6, 6)));
    });

    it('softmaxCrossEntropy: the Hessian-vector product of cpu', async () => {
      const [n, k] = [4, 5];
      const out = await onBoth(() =>
        tf.tidy(() => {
          const labels = tf.tensor1d([0, 3, 1, 4], 'int32');
          return Array.from(
            hvp(
              (l) => ops.softmaxCrossEntropy(l, labels),
              tf.tensor2d(Float32Array.from(randomValues('tf/hvp/ce/l', n * k, -2, 2)), [n, k]),
              tf.tensor2d(Float32Array.from(randomValues('tf/hvp/ce/w', n * k)), [n, k]),
            ).dataSync(),
          );
        }),
      );
      expect(maxAbsDiff(out.tensorflow, out.cpu) / maxAbs(out.cpu)).toBeLessThan(1e-5);
    });

    it("a tanh MLP's meta-gradient through one SGD step: the cpu reference's", async () => {
      // d/dθ L_query(θ − lr·∇L_support(θ)) for a 1→8→8→1 tanh MLP with the project's loss and dense ops: the
      // second-order terms go through Tanh's gradient, the dense layers' and the loss's gradient kernels.
      const sizes = [1, 8, 8, 1];
      const init = sizes
        .slice(1)
        .flatMap((out, l) => [
          randomValues(`tf/maml/w${l}`, (sizes[l] as number) * out),
          randomValues(`tf/maml/b${l}`, out, -0.1, 0.1),
        ]);
      const xs = randomValues('tf/maml/x', 20, -5, 5);
      const ys = xs.map((x) => 2 * Math.sin(x + 0.5));
      const out = await onBoth(() =>
        tf.tidy(() => {
          const params = init.map((values, i) => {
            const l = Math.floor(i / 2);
            const shape =
              i % 2 === 0 ? [sizes[l] as number, sizes[l + 1] as number] : [sizes[l + 1] as number];
            return tf.tensor(Float32Array.from(values), shape);
          });
          const x = tf.tensor2d(Float32Array.from(xs), [20, 1]);
          const y = tf.tensor1d(Float32Array.from(ys));
          const [xs1, xq] = tf.split(x, 2);
          const [ys1, yq] = tf.split(y, 2);
          const loss = (p: tf.Tensor[], input: tf.Tensor, target: tf.Tensor) => {
            let h = input;
            for (let l = 0; l < 3; l++) {
              h = tf.fused.matMul({
                a: h as tf.Tensor2D,
                b: p[2 * l] as tf.Tensor2D,
                bias: p[2 * l + 1] as tf.Tensor,
              });
              if (l < 2) h = tf.tanh(h);
            }
            return ops.meanSquaredError(h, target);
          };
          const meta = tf.grads((...p: tf.Tensor[]) => {
            const inner = tf.grads((...q: tf.Tensor[]) => loss(q, xs1 as tf.Tensor, ys1 as tf.Tensor))(p);
            const adapted = p.map((pi, i) => tf.sub(pi, tf.mul(inner[i] as tf.Tensor, 0.1)));
            return loss(adapted, xq as tf.Tensor, yq as tf.Tensor);
          })(params);
          return meta.map((g) => Array.from(g.dataSync()));
        }),
      );
      out.cpu.forEach((cpuGrad, i) => {
        expect(
          maxAbsDiff(out.tensorflow[i] as number[], cpuGrad) / maxAbs(cpuGrad),
          `meta-gradient ${i}`,
        ).toBeLessThan(1e-4);
      });
    });
  });

  it('keeps the tensor count flat across fused training ops', async () => {
    await initBackend('tensorflow');
    const x = tf.randomUniform([6, 5, 5, 8]);
    const labels = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
    let params = [tf.randomNormal([3, 3, 8, 8]), tf.zeros([8]), tf.ones([8]), tf.zeros([8])];
    let head = [tf.randomNormal([72, 3]), tf.zeros([3])];
    let v = tf.zeros([params.concat(head).reduce((n, p) => n + p.size, 0)]);
    const step = () => {
      const all = [...params, ...head];
      const next = tf.tidy(() => {
        const { grads } = tf.valueAndGrads((...p: tf.Tensor[]) => {
          const z = tf.conv2d(x as tf.Tensor4D, p[0] as tf.Tensor4D, 2, 'same');
          const h = ops.batchNormRelu(z, p[1] as tf.Tensor, p[2] as tf.Tensor, p[3] as tf.Tensor);
          return ops.denseSoftmaxCrossEntropy(
            tf.reshape(h, [6, 72]),
            p[4] as tf.Tensor,
            p[5] as tf.Tensor,
            labels,
          );
        })(all);
        return ops.adamUpdate(all, grads, v, undefined, {
          stepSize: 1e-3,
          beta1: 0,
          beta2: 0.999,
          epsilon: 1e-8,
        });
      });
      tf.dispose([...all, v]);
      params = next.params.slice(0, 4);
      head = next.params.slice(4);
      v = next.v;
    };
    step();
    const count = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      step();
      expect(tf.memory().numTensors).toBe(count);
    }
    tf.dispose([...params, ...head, v, x, labels]);
  });
});
