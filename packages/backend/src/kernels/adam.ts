import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from './simd/runtime.ts';
import { numberedKey, type TypedKernel, typedKernelConfigs, type WasmTensor } from './typed-kernel.ts';

/**
 * One Adam step for a whole parameter list in a single kernel (instead of ~8 ops per tensor):
 *   m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − stepSize · m / (√v + ε)
 * where stepSize = lr·√(1−β2ᵗ)/(1−β1ᵗ) is computed by the caller in float64. With β1 = 0 there is no m.
 * The moments of all parameters live in one flat tensor each (parameter after parameter, in order), so a step
 * makes count + 1 (or + 2) tensors rather than 2·count (or 3·count): each costs tfjs bookkeeping and an allocation.
 * The new moments take over the old moments' buffers, and with `consumeParams` the new parameters the old
 * parameters' (when nothing else shares them): no allocation at all in a training step.
 * Inputs p0.., g0.., v (and m when β1 > 0); outputs p'0.., v' (and m'), in that order.
 */
export const adamUpdateName = 'AdamUpdateMany';

export interface AdamUpdateAttrs {
  count: number;
  stepSize: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** The caller hands the parameters over (disposes them right after, unread): their buffers may be reused. */
  consumeParams?: boolean;
}

const sizeOf = (shape: number[]) => shape.reduce((a, d) => a * d, 1);

const kernel: TypedKernel<AdamUpdateAttrs> = {
  name: adamUpdateName,
  reuse: ({ count, beta1, consumeParams }) => {
    const reuse: Record<number, string> = { [count]: 'v' };
    if (beta1 > 0) reuse[count + 1] = 'm';
    if (consumeParams) for (let i = 0; i < count; i++) reuse[i] = numberedKey('p', i);
    return reuse;
  },
  outputShapes: (inputs, { count, beta1 }) => {
    const shapes = Array.from({ length: count }, (_, i) => inputs[numberedKey('p', i)]?.shape ?? []);
    shapes.push(inputs.v?.shape ?? []);
    if (beta1 > 0) shapes.push(inputs.m?.shape ?? []);
    return shapes;
  },
  wasm({ backend, inputs, outputs, attrs: { count, stepSize, beta1, beta2, epsilon } }) {
    const simd = simdKernels(backend);
    const v = inputs.v;
    if (simd === undefined || v === undefined) return false;
    const m = beta1 > 0 ? (inputs.m?.address ?? 0) : 0;
    const vOut = outputs[count]?.address ?? 0;
    const mOut = beta1 > 0 ? (outputs[count + 1]?.address ?? 0) : 0;
    let offset = 0; // bytes into the moments
    for (let i = 0; i < count; i++) {
      const p = inputs[numberedKey('p', i)] as WasmTensor;
      const size = sizeOf(p.shape);
      // biome-ignore format: one argument per kernel parameter
      simd.adam(p.address, inputs[numberedKey('g', i)]?.address ?? 0, v.address + offset, m === 0 ? 0 : m + offset, size,
        stepSize, beta1, beta2, epsilon, outputs[i]?.address ?? 0, vOut + offset, mOut === 0 ? 0 : mOut + offset);
      offset += 4 * size;
    }
    return true;
  },
  compute(inputs, outputs, _shapes, { count, stepSize, beta1, beta2, epsilon }) {
    const v = inputs.v as Float32Array;
    const vOut = outputs[count] as Float32Array;
    const m = inputs.m as Float32Array | undefined;
    const mOut = outputs[count + 1];
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const p = inputs[numberedKey('p', i)] as Float32Array;
      const g = inputs[numberedKey('g', i)] as Float32Array;
      const pOut = outputs[i] as Float32Array;
      for (let k = 0; k < p.length; k++) {
        const j = offset + k;
        const gk = g[k] as number;
        const vk = beta2 * (v[j] as number) + (1 - beta2) * gk * gk;
        vOut[j] = vk;
        let step = gk;
        if (beta1 > 0 && m !== undefined && mOut !== undefined) {
          step = beta1 * (m[j] as number) + (1 - beta1) * gk;
          mOut[j] = step;
        }
        pOut[k] = (p[k] as number) - (stepSize * step) / (Math.sqrt(vk) + epsilon);
      }
      offset += p.length;
    }
  },
};

export const adamUpdateKernels = typedKernelConfigs(kernel);

/** The same update from plain tfjs ops, for backends without the kernel. */
function composite(
  params: tf.Tensor[],
  grads: tf.Tensor[],
  v: tf.Tensor,
  m: tf.Tensor | undefined,
  a: AdamUpdateAttrs,
): { params: tf.Tensor[]; v: tf.Tensor; m?: tf.Tensor } {
  return tf.tidy(() => {
    const g = tf.concat(grads.map((gi) => tf.reshape(gi, [-1])));
    const vNext = tf.add(tf.mul(v, a.beta2), tf.mul(tf.square(g), 1 - a.beta2));
    const mNext = m && tf.add(tf.mul(m, a.beta1), tf.mul(g, 1 - a.beta1));
    const steps = tf.split(
      tf.mul(tf.div(mNext ?? g, tf.add(tf.sqrt(vNext), a.epsilon)), a.stepSize),
      params.map((p) => p.size),
    );
    const next = params.map((p, i) => tf.sub(p, tf.reshape(steps[i] as tf.Tensor, p.shape)));
    return mNext ? { params: next, v: vNext, m: mNext } : { params: next, v: vNext };
  });
}

/**
 * Applies one Adam step to every parameter; returns new tensors (nothing is disposed). `v` (and `m`, given exactly
 * when beta1 > 0) hold the moments of all parameters, flat, in parameter order: start them with
 * `tf.zeros([total size])`. The moments passed in are handed over: dispose them, unread, after the call (their
 * buffers may hold the new moments). With `consumeParams` the same holds for the parameters.
 */
export function adamUpdate(
  params: tf.Tensor[],
  grads: tf.Tensor[],
  v: tf.Tensor,
  m: tf.Tensor | undefined,
  options: Omit<AdamUpdateAttrs, 'count'>,
): { params: tf.Tensor[]; v: tf.Tensor; m?: tf.Tensor } {
  const count = params.length;
  const attrs: AdamUpdateAttrs = { count, ...options };
  if (options.beta1 > 0 !== (m !== undefined)) throw new Error('adamUpdate: pass m exactly when beta1 > 0');
  if (grads.length !== count)
    throw new Error(`adamUpdate: ${count} parameters need as many gradients, got ${grads.length}`);
  let total = 0;
  const inputs: Record<string, tf.Tensor> = {};
  params.forEach((p, i) => {
    const g = grads[i] as tf.Tensor;
    if (!tf.util.arraysEqual(g.shape, p.shape))
      throw new Error(`adamUpdate: g${i} has shape [${g.shape}], parameter ${i} has [${p.shape}]`);
    total += p.size;
    inputs[numberedKey('p', i)] = p;
    inputs[numberedKey('g', i)] = g;
  });
  for (const [key, t] of [
    ['v', v],
    ['m', m],
  ] as const) {
    if (t !== undefined && (t.rank !== 1 || t.size !== total))
      throw new Error(
        `adamUpdate: ${key} must be flat with one entry per parameter element ([${total}]), got [${t.shape}]`,
      );
  }
  if (tf.getKernel(adamUpdateName, tf.getBackend()) === undefined)
    return composite(params, grads, v, m, attrs);
  inputs.v = v;
  if (m) inputs.m = m;
  const outs = tf
    .engine()
    .runKernel(adamUpdateName, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  const result = { params: outs.slice(0, count), v: outs[count] as tf.Tensor };
  return m ? { ...result, m: outs[count + 1] as tf.Tensor } : result;
}
