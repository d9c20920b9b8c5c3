import * as tf from '@tensorflow/tfjs-core';
import { numberedKey, type TypedKernel, typedKernelConfigs } from './typed-kernel.ts';

/**
 * One plain gradient-descent step for a whole parameter list in one kernel (instead of two ops per tensor):
 * p ← p − lr·g. Inputs p0.., g0..; outputs p'0.., in order.
 */
export const sgdUpdateName = 'SgdUpdateMany';

interface SgdUpdateAttrs {
  count: number;
  learningRate: number;
  /** The caller hands the parameters over (disposes them right after, unread): their buffers may be reused. */
  consumeParams?: boolean;
}

const kernel: TypedKernel<SgdUpdateAttrs> = {
  name: sgdUpdateName,
  reuse: ({ count, consumeParams }) =>
    consumeParams
      ? Object.fromEntries(Array.from({ length: count }, (_, i) => [i, numberedKey('p', i)]))
      : {},
  outputShapes: (inputs, { count }) =>
    Array.from({ length: count }, (_, i) => inputs[numberedKey('p', i)]?.shape ?? []),
  compute(inputs, outputs, _shapes, { count, learningRate }) {
    for (let i = 0; i < count; i++) {
      const p = inputs[numberedKey('p', i)] as Float32Array;
      const g = inputs[numberedKey('g', i)] as Float32Array;
      const out = outputs[i] as Float32Array;
      for (let k = 0; k < p.length; k++) out[k] = (p[k] as number) - learningRate * (g[k] as number);
    }
  },
};

export const sgdUpdateKernels = typedKernelConfigs(kernel);

/**
 * p − lr·g for every parameter; returns new tensors (nothing is disposed). With `consumeParams` the parameters are
 * handed over: dispose them, unread, after the call (their buffers may hold the new values).
 */
export function sgdUpdate(
  params: tf.Tensor[],
  grads: tf.Tensor[],
  learningRate: number,
  options: { consumeParams?: boolean } = {},
): tf.Tensor[] {
  const count = params.length;
  if (grads.length !== count)
    throw new Error(`sgdUpdate: ${count} parameters need as many gradients, got ${grads.length}`);
  if (tf.getKernel(sgdUpdateName, tf.getBackend()) === undefined)
    return tf.tidy(() => params.map((p, i) => tf.sub(p, tf.mul(grads[i] as tf.Tensor, learningRate))));
  const inputs: Record<string, tf.Tensor> = {};
  params.forEach((p, i) => {
    const g = grads[i] as tf.Tensor;
    if (!tf.util.arraysEqual(g.shape, p.shape))
      throw new Error(`sgdUpdate: gradient ${i} has shape [${g.shape}], parameter ${i} has [${p.shape}]`);
    if (p.dtype !== 'float32' || g.dtype !== 'float32')
      throw new Error(`sgdUpdate: parameter ${i} and its gradient must be float32`);
    inputs[numberedKey('p', i)] = p;
    inputs[numberedKey('g', i)] = g;
  });
  const out = tf.engine().runKernel(sgdUpdateName, inputs, {
    count,
    learningRate,
    consumeParams: options.consumeParams === true,
  } as unknown as tf.NamedAttrMap);
  return Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
}
