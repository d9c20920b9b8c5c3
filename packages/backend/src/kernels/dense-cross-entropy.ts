import * as tf from '@tensorflow/tfjs-core';
import {
  checkDense,
  dense,
  denseBackwardJs,
  denseBackwardWasm,
  denseDims,
  denseForwardJs,
  denseGradShapes,
} from './dense.ts';
import { type SimdKernels, simdKernels } from './simd/runtime.ts';
import {
  checkLabels,
  softmaxCrossEntropy,
  softmaxCrossEntropyGradRows,
  softmaxRows,
} from './softmax-cross-entropy.ts';
import { type TypedKernel, typedKernelConfigs, type WasmTensor } from './typed-kernel.ts';
import { allocScratch, freeScratch, type Scratch, type WasmBackend } from './wasm-access.ts';

/**
 * A classifier's training head in one kernel each way: the mean softmax cross-entropy of x·kernel + bias against
 * int32 labels. The same arithmetic as `dense` then `softmaxCrossEntropy` (the same products, the same
 * log-sum-exp), but one tape node instead of two: the logits never become a tensor, and the gradient kernel
 * recomputes them (a small product) to give dx, dkernel and dbias directly. First order only.
 */
export const denseCrossEntropyName = 'DenseSoftmaxCrossEntropyMean';
export const denseCrossEntropyGradName = 'DenseSoftmaxCrossEntropyMeanGrad';

type NoAttrs = Record<string, never>;

/** The logits x·kernel + bias into a new scratch region (the caller frees it). */
function wasmLogits(backend: WasmBackend, x: WasmTensor, kernel: WasmTensor, bias: WasmTensor): Scratch {
  const simd = simdKernels(backend) as SimdKernels;
  const [m, k] = x.shape as [number, number];
  const n = kernel.shape[1] as number;
  const logits = allocScratch(backend, m * n);
  simd.gemm_nn(x.address, kernel.address, logits.index << 2, m, k, n, bias.address, 0);
  return logits;
}

/** Heap views taken after every allocation (growing the heap detaches earlier ones). */
const floats = (backend: WasmBackend, scratch: Scratch) =>
  backend.wasm.HEAPF32.subarray(scratch.index, scratch.index + scratch.size);
const labelsOf = (backend: WasmBackend, labels: WasmTensor) =>
  new Int32Array(backend.wasm.HEAPF32.buffer, labels.address, labels.shape[0] ?? 0);

const forward: TypedKernel<NoAttrs> = {
  name: denseCrossEntropyName,
  wasm({ backend, inputs: { x, kernel, bias, labels }, outputs: [loss] }) {
    if (simdKernels(backend) === undefined || !x || !kernel || !bias || !labels || !loss) return false;
    const [m, n] = [x.shape[0] ?? 0, kernel.shape[1] ?? 0];
    const logits = wasmLogits(backend, x, kernel, bias);
    try {
      const total = softmaxRows(floats(backend, logits), undefined, m, n, labelsOf(backend, labels));
      backend.wasm.HEAPF32[loss.address >> 2] = total / m;
    } finally {
      freeScratch(backend, logits);
    }
    return true;
  },
  outputShapes: () => [[]],
  compute({ x, kernel, bias, labels }, [loss], shapes) {
    const [m, k, n] = denseDims(shapes);
    const logits = new Float32Array(m * n);
    denseForwardJs(x as Float32Array, kernel as Float32Array, bias as Float32Array, logits, m, k, n);
    (loss as Float32Array)[0] = softmaxRows(logits, undefined, m, n, labels as Int32Array) / m;
  },
};

const backward: TypedKernel<NoAttrs> = {
  name: denseCrossEntropyGradName,
  wasm({ backend, inputs: { x, kernel, bias, labels, dy }, outputs: [dx, dkernel, dbias] }) {
    if (simdKernels(backend) === undefined || !x || !kernel || !bias || !labels || !dy) return false;
    if (!dx || !dkernel || !dbias) return false;
    const [m, n] = [x.shape[0] ?? 0, kernel.shape[1] ?? 0];
    const logits = wasmLogits(backend, x, kernel, bias);
    const dlogits = allocScratch(backend, m * n);
    try {
      const dLoss = backend.wasm.HEAPF32[dy.address >> 2] as number;
      // biome-ignore format: one argument per array
      softmaxCrossEntropyGradRows(floats(backend, logits), floats(backend, dlogits), m, n, labelsOf(backend, labels),
        dLoss);
      denseBackwardWasm(backend, dlogits.index << 2, x, kernel, dx.address, dkernel.address, dbias.address);
    } finally {
      freeScratch(backend, logits);
      freeScratch(backend, dlogits);
    }
    return true;
  },
  outputShapes: denseGradShapes,
  compute({ x, kernel, bias, labels, dy }, [dx, dkernel, dbias], shapes) {
    const [m, k, n] = denseDims(shapes);
    const logits = new Float32Array(m * n);
    denseForwardJs(x as Float32Array, kernel as Float32Array, bias as Float32Array, logits, m, k, n);
    const dlogits = new Float32Array(m * n);
    // biome-ignore format: one argument per array
    softmaxCrossEntropyGradRows(logits, dlogits, m, n, labels as Int32Array,
      (dy as Float32Array)[0] as number);
    // biome-ignore format: one argument per array
    denseBackwardJs(dlogits, x as Float32Array, kernel as Float32Array, dx as Float32Array,
      dkernel as Float32Array, dbias as Float32Array, m, k, n);
  },
};

export const denseCrossEntropyKernels = [...typedKernelConfigs(forward), ...typedKernelConfigs(backward)];

export const denseCrossEntropyGradient: tf.GradConfig = {
  kernelName: denseCrossEntropyName,
  inputsToSave: ['x', 'kernel', 'bias', 'labels'],
  gradFunc: (dy, saved) => {
    const [x, kernel, bias, labels] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const [dx, dkernel, dbias] = tf
      .engine()
      .runKernel(
        denseCrossEntropyGradName,
        { x, kernel, bias, labels, dy: dy as tf.Tensor },
        {},
      ) as tf.Tensor[];
    return {
      x: () => dx as tf.Tensor,
      kernel: () => dkernel as tf.Tensor,
      bias: () => dbias as tf.Tensor,
      labels: () => tf.zerosLike(labels),
    };
  },
};

/**
 * Mean softmax cross-entropy of x·kernel + bias (x [batch, in], kernel [in, classes], bias [classes]) against
 * int32 class labels [batch]: `softmaxCrossEntropy(dense(x, kernel, bias), labels)` as one op. Differentiable in
 * x, kernel and bias (first order).
 */
export function denseSoftmaxCrossEntropy(
  x: tf.Tensor,
  kernel: tf.Tensor,
  bias: tf.Tensor,
  labels: tf.Tensor,
): tf.Scalar {
  const op = 'denseSoftmaxCrossEntropy';
  checkDense(op, x, kernel, bias);
  checkLabels(op, x.shape[0] ?? 0, labels);
  if (tf.getKernel(denseCrossEntropyName, tf.getBackend()) === undefined)
    return tf.tidy(() => softmaxCrossEntropy(dense(x, kernel, bias), labels));
  return tf.engine().runKernel(denseCrossEntropyName, { x, kernel, bias, labels }, {}) as tf.Scalar;
}
