import { initBackend, tf } from '@reptile-bench/backend';
import { createRng } from '@reptile-bench/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  adam,
  checkDistillationOptions,
  createMlp,
  distillationLoss,
  distillStep,
  softmaxCrossEntropy,
  softTargets,
  toTensors,
} from '../src/index.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

const softmax64 = (z: number[], t: number) => {
  const m = Math.max(...z.map((v) => v / t));
  const e = z.map((v) => Math.exp(v / t - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/** α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(y, s), batch mean, in float64. */
function loss64(
  student: number[][],
  teacher: number[][],
  labels: number[],
  t: number,
  alpha: number,
): number {
  let total = 0;
  student.forEach((s, n) => {
    const p = softmax64(teacher[n] as number[], t);
    const q = softmax64(s, t);
    const kl = p.reduce((a, pk, k) => a + pk * (Math.log(pk) - Math.log(q[k] as number)), 0);
    const ce = -Math.log(softmax64(s, 1)[labels[n] as number] as number);
    total += alpha * t * t * kl + (1 - alpha) * ce;
  });
  return total / student.length;
}

const random = (seed: string, rows: number, cols: number, scale = 3) => {
  const rng = createRng(seed);
  return Array.from({ length: rows }, () =>
    Array.from({ length: cols }, () => Math.fround(rng.uniform(-scale, scale))),
  );
};

function lossAndGrad(student: number[][], teacher: number[][], labels: number[], t: number, alpha: number) {
  return tf.tidy(() => {
    const s = tf.tensor2d(student);
    const z = tf.tensor2d(teacher);
    const y = tf.tensor1d(labels, 'int32');
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) =>
      distillationLoss(x, z, y, { temperature: t, alpha }),
    )(s);
    return { loss: value.dataSync()[0] as number, grad: Array.from(grad.dataSync()) };
  });
}

describe('distillationLoss', () => {
  it('is α·T²·KL(teacher ‖ student) + (1 − α)·CE, as computed by hand', () => {
    // One example, two classes: teacher logits (2, 0), student (0, 1), label 0, T = 2, α = 0.75.
    const p = [1 / (1 + Math.exp(-1)), 1 / (1 + Math.exp(1))];
    const q = [1 / (1 + Math.exp(0.5)), 1 / (1 + Math.exp(-0.5))];
    const kl =
      (p[0] as number) * Math.log((p[0] as number) / (q[0] as number)) +
      (p[1] as number) * Math.log((p[1] as number) / (q[1] as number));
    const ce = Math.log(1 + Math.exp(1));
    const expected = 0.75 * 4 * kl + 0.25 * ce;
    expect(lossAndGrad([[0, 1]], [[2, 0]], [0], 2, 0.75).loss).toBeCloseTo(expected, 6);
  });

  for (const [t, alpha] of [
    [1, 0.5],
    [2, 0.9],
    [4, 0.5],
    [4, 1],
    [0.5, 0.3],
  ] as const) {
    it(`has a gradient matching central differences of its float64 definition (T = ${t}, α = ${alpha})`, () => {
      const student = random(`s${t}${alpha}`, 5, 7);
      const teacher = random(`t${t}${alpha}`, 5, 7);
      const labels = [0, 3, 6, 2, 2];
      const { loss, grad } = lossAndGrad(student, teacher, labels, t, alpha);
      expect(loss).toBeCloseTo(loss64(student, teacher, labels, t, alpha), 5);
      const h = 1e-5;
      student.forEach((row, n) => {
        row.forEach((_, k) => {
          const shifted = (d: number) =>
            student.map((r, i) => r.map((v, j) => (i === n && j === k ? v + d : v)));
          const numeric =
            (loss64(shifted(h), teacher, labels, t, alpha) - loss64(shifted(-h), teacher, labels, t, alpha)) /
            (2 * h);
          expect(Math.abs((grad[n * 7 + k] as number) - numeric), `∂/∂z_s[${n}, ${k}]`).toBeLessThan(2e-6);
        });
      });
    });
  }

  it('at α = 0 is the cross-entropy with the labels, bit for bit; at α = 1 it needs no labels', () => {
    const student = tf.tensor2d(random('ce-s', 4, 3));
    const teacher = tf.tensor2d(random('ce-t', 4, 3));
    const labels = tf.tensor1d([0, 1, 2, 1], 'int32');
    const hard = distillationLoss(student, teacher, labels, { temperature: 3, alpha: 0 }).dataSync()[0];
    expect(hard).toBe(softmaxCrossEntropy(student, labels).dataSync()[0]);
    const soft = distillationLoss(student, teacher, undefined, {
      temperature: 3,
      alpha: 1,
    }).dataSync()[0] as number;
    expect(soft).toBeGreaterThan(0);
    // the soft term is 0 when the student is the teacher
    const same = distillationLoss(teacher, teacher, undefined, {
      temperature: 3,
      alpha: 1,
    }).dataSync()[0] as number;
    expect(Math.abs(same)).toBeLessThan(1e-6);
    expect(() => distillationLoss(student, teacher, undefined, { temperature: 3, alpha: 0.5 })).toThrow(
      /labels are needed when alpha < 1/,
    );
  });
});

describe('the temperature', () => {
  const logits = [[4, 1, -2, 0.5]];
  it("T → ∞ gives uniform soft targets; T → 0 the one-hot of the teacher's choice; T = 1 the softmax", () => {
    const at = (t: number) => Array.from(softTargets(tf.tensor2d(logits), t).dataSync());
    for (const v of at(1e4)) expect(v).toBeCloseTo(0.25, 3);
    expect(Math.max(...at(1e3).map((v) => Math.abs(v - 0.25)))).toBeLessThan(
      Math.max(...at(10).map((v) => Math.abs(v - 0.25))),
    );
    expect(at(1e-2)).toEqual([1, 0, 0, 0]);
    at(1).forEach((v, k) => {
      expect(v).toBeCloseTo(softmax64(logits[0] as number[], 1)[k] as number, 6);
    });
  });

  it("at large T the soft term's gradient is logit matching, (z_s − z_t − mean)/K per example", () => {
    const student = random('limit-s', 3, 5, 1);
    const teacher = random('limit-t', 3, 5, 1);
    const { grad } = lossAndGrad(student, teacher, [0, 0, 0], 1000, 1);
    student.forEach((s, n) => {
      const d = s.map((v, k) => v - (teacher[n]?.[k] as number));
      const mean = d.reduce((a, b) => a + b, 0) / d.length;
      d.forEach((dk, k) => {
        expect(grad[n * 5 + k] as number).toBeCloseTo((dk - mean) / 5 / 3, 4);
      });
    });
  });

  it('T and α are validated, naming the field and the allowed values', () => {
    for (const temperature of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => checkDistillationOptions({ temperature, alpha: 0.5 }, 'sgd-distill')).toThrow(
        /sgd-distill: temperature must be a finite number > 0/,
      );
    for (const alpha of [-0.1, 1.5, Number.NaN])
      expect(() => checkDistillationOptions({ temperature: 2, alpha }, 'sgd-distill')).toThrow(
        /sgd-distill: alpha \(the weight of the soft targets\) must be a number in \[0, 1\]/,
      );
  });
});

describe('distillStep', () => {
  it('moves the student towards the teacher and leaks no tensors', () => {
    const student = createMlp({ inputSize: 3, hidden: [8], outputSize: 4, task: 'classification' });
    const x = tf.tensor2d(random('x', 16, 3, 1));
    const y = tf.tensor1d(
      Array.from({ length: 16 }, (_, i) => i % 4),
      'int32',
    );
    const teacher = tf.tensor2d(random('teacher', 16, 4));
    const options = { temperature: 2, alpha: 0.9 };
    const optimizer = adam({ learningRate: 0.02, beta1: 0.9 });
    let params = toTensors(student, student.init(createRng('student')));
    params = distillStep(student, optimizer, params, x, y, teacher, options).params;
    const count = tf.memory().numTensors;
    const losses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const step = distillStep(student, optimizer, params, x, y, teacher, options);
      params = step.params;
      losses.push(step.loss);
    }
    expect(tf.memory().numTensors).toBe(count);
    expect(losses.at(-1)).toBeLessThan((losses[0] as number) * 0.6);
    tf.dispose([...params, x, y, teacher]);
    optimizer.dispose();
  });
});
