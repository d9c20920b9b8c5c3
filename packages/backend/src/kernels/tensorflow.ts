import * as tf from '@tensorflow/tfjs-core';
import {
  type BatchNormReluAttrs,
  nativeBatchNormReluGradName,
  nativeBatchNormReluName,
} from './batch-norm.ts';
import { denseGradName, denseName } from './dense.ts';
import { denseCrossEntropyGradName, denseCrossEntropyName } from './dense-cross-entropy.ts';
import { meanSquaredErrorGradName, meanSquaredErrorName } from './mean-squared-error.ts';
import { softmaxCrossEntropyGradName, softmaxCrossEntropyName } from './softmax-cross-entropy.ts';

/**
 * The project's fused ops on the tensorflow backend (tfjs-node), each one kernel (one tape node, one gradient
 * function) built from TensorFlow's own fused ops where it has them — FusedBatchNormV3 and its gradient,
 * SparseSoftmaxCrossEntropyWithLogits — and otherwise from a few TensorFlow ops run as one. Without them the ops
 * fall back to compositions of plain tfjs ops, each of which tfjs records, differentiates and dispatches on its
 * own (scripts/bench-tensorflow-ops.ts measures both; the backend README has the figures).
 *
 * Like tfjs-node's own kernels, these receive the Tensors the op passed to runKernel and run tfjs ops on them
 * inside the kernel (the engine records no tape there), in a tidy that keeps only the outputs.
 */

/** What these kernels use of tfjs-node's NodeJSKernelBackend. */
interface NodeBackend {
  binding: Record<
    'TF_ATTR_TYPE' | 'TF_ATTR_FLOAT' | 'TF_ATTR_BOOL' | 'TF_ATTR_STRING' | 'TF_FLOAT' | 'TF_INT32',
    number
  >;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: tf.Tensor[], outputs: number): tf.Tensor[];
}

interface OpAttr {
  name: string;
  type: number;
  value: number | boolean | string;
}

const float = (b: NodeBackend, name: string): OpAttr => ({
  name,
  type: b.binding.TF_ATTR_TYPE,
  value: b.binding.TF_FLOAT,
});
const int32 = (b: NodeBackend, name: string): OpAttr => ({
  name,
  type: b.binding.TF_ATTR_TYPE,
  value: b.binding.TF_INT32,
});

type Inputs = Record<string, tf.Tensor>;

function kernel(
  name: string,
  fn: (inputs: Inputs, backend: NodeBackend, attrs: tf.NamedAttrMap) => tf.Tensor[],
) {
  return {
    kernelName: name,
    backendName: 'tensorflow',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const out = tf.tidy(() =>
        fn(inputs as unknown as Inputs, backend as unknown as NodeBackend, attrs ?? {}),
      );
      return out.length === 1 ? (out[0] as tf.Tensor) : out;
    },
  } satisfies tf.KernelConfig;
}

/** TensorFlow's FusedBatchNormV3 in training mode on x as NHWC: [y, batch mean, batch variance, 3 reserves]. */
function fusedBatchNorm(b: NodeBackend, x4: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number) {
  const c = gamma.shape[0] as number;
  const empty = tf.zeros([c]);
  // biome-ignore format: one attribute per line would hide the call
  return b.executeMultipleOutputs('FusedBatchNormV3', [float(b, 'T'), float(b, 'U'),
    { name: 'epsilon', type: b.binding.TF_ATTR_FLOAT, value: epsilon },
    { name: 'exponential_avg_factor', type: b.binding.TF_ATTR_FLOAT, value: 1 },
    { name: 'data_format', type: b.binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: b.binding.TF_ATTR_BOOL, value: true }], [x4, gamma, beta, empty, empty], 6);
}

/** x as the 4-D NHWC tensor FusedBatchNormV3 needs (channels last). */
const asNhwc = (x: tf.Tensor) =>
  x.rank === 4 ? x : tf.reshape(x, [1, 1, -1, x.shape[x.rank - 1] as number]);

/**
 * Batch norm + ReLU: FusedBatchNormV3 then Relu forward; backward, ReluGrad and FusedBatchNormGradV3 with the
 * statistics recomputed by a second FusedBatchNormV3. Saves x, gamma, beta and y. (Returning FusedBatchNormV3's
 * reserve outputs as op outputs for the tape instead made the gradient kernel ~0.45 ms a Conv4 step faster and
 * tfjs's bookkeeping of the extra outputs 0.1–0.3 ms slower: no clear gain, so the op keeps its one output.)
 */
const batchNormReluForward = kernel(nativeBatchNormReluName, ({ x, gamma, beta }, b, attrs) => {
  const { epsilon, relu } = attrs as unknown as BatchNormReluAttrs;
  const xt = x as tf.Tensor;
  const [y] = fusedBatchNorm(b, asNhwc(xt), gamma as tf.Tensor, beta as tf.Tensor, epsilon);
  const out = relu ? tf.relu(y as tf.Tensor) : (y as tf.Tensor);
  return [xt.rank === 4 ? out : tf.reshape(out, xt.shape)];
});

const batchNormReluBackward = kernel(nativeBatchNormReluGradName, ({ dy, x, gamma, beta, y }, b, attrs) => {
  const { epsilon, relu } = attrs as unknown as BatchNormReluAttrs;
  const [xt, dyt] = [x as tf.Tensor, dy as tf.Tensor];
  const x4 = asNhwc(xt);
  const [, , , r1, r2, r3] = fusedBatchNorm(b, x4, gamma as tf.Tensor, beta as tf.Tensor, epsilon);
  // dz = dy where the ReLU passed its input (y > 0)
  const dz = relu
    ? (b.executeMultipleOutputs('ReluGrad', [float(b, 'T')], [dyt, y as tf.Tensor], 1)[0] as tf.Tensor)
    : dyt;
  // biome-ignore format: one attribute per line would hide the call
  const [dx4, dgamma, dbeta] = b.executeMultipleOutputs('FusedBatchNormGradV3', [float(b, 'T'), float(b, 'U'),
    { name: 'epsilon', type: b.binding.TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: b.binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: b.binding.TF_ATTR_BOOL, value: true }],
    [asNhwc(dz), x4, gamma as tf.Tensor, r1 as tf.Tensor, r2 as tf.Tensor, r3 as tf.Tensor], 5) as tf.Tensor[];
  const dx = xt.rank === 4 ? (dx4 as tf.Tensor) : tf.reshape(dx4 as tf.Tensor, xt.shape);
  // the conv bias's gradient, Σ dx over every axis but the last (0 up to rounding: the batch mean removes it)
  const dbias = tf.sum(
    dx,
    Array.from({ length: xt.rank - 1 }, (_, i) => i),
  );
  return [dx, dbias, dgamma as tf.Tensor, dbeta as tf.Tensor];
});

export const nativeBatchNormReluGradient: tf.GradConfig = {
  kernelName: nativeBatchNormReluName,
  inputsToSave: ['x', 'gamma', 'beta'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, gamma, beta, y] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const [dx, dbias, dgamma, dbeta] = tf
      .engine()
      .runKernel(
        nativeBatchNormReluGradName,
        { dy: dy as tf.Tensor, x, gamma, beta, y },
        attrs,
      ) as tf.Tensor[];
    return {
      x: () => dx as tf.Tensor,
      bias: () => dbias as tf.Tensor,
      gamma: () => dgamma as tf.Tensor,
      beta: () => dbeta as tf.Tensor,
    };
  },
};

/** TensorFlow's SparseSoftmaxCrossEntropyWithLogits: [loss per row, its gradient with respect to the logits]. */
const sparseCrossEntropy = (b: NodeBackend, logits: tf.Tensor, labels: tf.Tensor) =>
  b.executeMultipleOutputs(
    'SparseSoftmaxCrossEntropyWithLogits',
    [float(b, 'T'), int32(b, 'Tlabels')],
    [logits, labels],
    2,
  ) as [tf.Tensor, tf.Tensor];

const crossEntropyForward = kernel(softmaxCrossEntropyName, ({ logits, labels }, b) => [
  tf.mean(sparseCrossEntropy(b, logits as tf.Tensor, labels as tf.Tensor)[0]),
]);

const crossEntropyBackward = kernel(softmaxCrossEntropyGradName, ({ logits, labels, dy }, b) => {
  const batch = (logits as tf.Tensor).shape[0] as number;
  const [, dlogits] = sparseCrossEntropy(b, logits as tf.Tensor, labels as tf.Tensor);
  return [tf.mul(dlogits, tf.div(dy as tf.Tensor, batch))];
});

/** TensorFlow's MatMul on 2-D operands (one op; tfjs's matMul reshapes to 3-D around a BatchMatMulV2). */
const matMul = (b: NodeBackend, x: tf.Tensor, y: tf.Tensor, transposeA = false, transposeB = false) =>
  // biome-ignore format: one attribute per line would hide the call
  b.executeMultipleOutputs('MatMul', [float(b, 'T'),
    { name: 'transpose_a', type: b.binding.TF_ATTR_BOOL, value: transposeA },
    { name: 'transpose_b', type: b.binding.TF_ATTR_BOOL, value: transposeB }], [x, y], 1)[0] as tf.Tensor;

/** x·kernel + bias: MatMul and BiasAdd. */
const affine = (b: NodeBackend, x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor) =>
  // biome-ignore format: one attribute per line would hide the call
  b.executeMultipleOutputs('BiasAdd', [float(b, 'T'),
    { name: 'data_format', type: b.binding.TF_ATTR_STRING, value: 'NHWC' }], [matMul(b, x, kernel), bias], 1)[0] as tf.Tensor;

/** dx = dz·kernelᵀ, dkernel = xᵀ·dz, dbias = Σ rows of dz. */
const affineGradients = (b: NodeBackend, dz: tf.Tensor, x: tf.Tensor, kernel: tf.Tensor) => [
  matMul(b, dz, kernel, false, true),
  matMul(b, x, dz, true, false),
  tf.sum(dz, 0),
];

const denseForward = kernel(denseName, ({ x, kernel, bias }, b) => [
  affine(b, x as tf.Tensor, kernel as tf.Tensor, bias as tf.Tensor),
]);

const denseBackward = kernel(denseGradName, ({ dy, x, kernel }, b) =>
  affineGradients(b, dy as tf.Tensor, x as tf.Tensor, kernel as tf.Tensor),
);

/** The dense head and the loss in one kernel each way; the gradient recomputes the logits. */
const denseCrossEntropyForward = kernel(denseCrossEntropyName, ({ x, kernel, bias, labels }, b) => [
  tf.mean(
    sparseCrossEntropy(
      b,
      affine(b, x as tf.Tensor, kernel as tf.Tensor, bias as tf.Tensor),
      labels as tf.Tensor,
    )[0],
  ),
]);

const denseCrossEntropyBackward = kernel(denseCrossEntropyGradName, ({ x, kernel, bias, labels, dy }, b) => {
  const [xt, kt] = [x as tf.Tensor, kernel as tf.Tensor];
  const [, dlogits] = sparseCrossEntropy(b, affine(b, xt, kt, bias as tf.Tensor), labels as tf.Tensor);
  return affineGradients(b, tf.mul(dlogits, tf.div(dy as tf.Tensor, xt.shape[0] as number)), xt, kt);
});

const meanSquaredErrorForward = kernel(meanSquaredErrorName, ({ predictions, targets }) => {
  const p = predictions as tf.Tensor;
  return [tf.mean(tf.squaredDifference(p, tf.reshape(targets as tf.Tensor, p.shape)))];
});

const meanSquaredErrorBackward = kernel(meanSquaredErrorGradName, ({ predictions, targets, dy }) => {
  const p = predictions as tf.Tensor;
  const scale = tf.mul(dy as tf.Tensor, 2 / p.size);
  return [tf.mul(tf.sub(p, tf.reshape(targets as tf.Tensor, p.shape)), scale)];
});

const configs = [
  batchNormReluForward,
  batchNormReluBackward,
  crossEntropyForward,
  crossEntropyBackward,
  denseForward,
  denseBackward,
  denseCrossEntropyForward,
  denseCrossEntropyBackward,
  meanSquaredErrorForward,
  meanSquaredErrorBackward,
];

let registered = false;

/**
 * Registers the kernels above for the tensorflow backend (once tfjs-node is loaded; safe to call repeatedly).
 * The losses keep the gradients registered for their wasm and cpu kernels (which differentiate again).
 */
export function registerTensorflowKernels(): void {
  if (registered) return;
  registered = true;
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, 'tensorflow') !== undefined)
      tf.unregisterKernel(config.kernelName, 'tensorflow');
    tf.registerKernel(config);
  }
  if (tf.getGradient(nativeBatchNormReluName) !== undefined) tf.unregisterGradient(nativeBatchNormReluName);
  tf.registerGradient(nativeBatchNormReluGradient);
}

/** The kernel names above, for measuring the ops without them (their plain-tfjs fallbacks). */
export const tensorflowKernelNames: readonly string[] = configs.map((c) => c.kernelName);
