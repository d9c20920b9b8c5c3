import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from './simd/runtime.ts';
import { type TypedKernel, typedKernelConfigs } from './typed-kernel.ts';

/**
 * One Adam step for a whole parameter list in a single kernel (instead of ~8 ops per tensor):
 *   m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − stepSize · m / (√v + ε)
 * where stepSize = lr·√(1−β2ᵗ)/(1−β1ᵗ) is computed by the caller in float64. With β1 = 0 there is no m.
 * Inputs p0.., g0.., v0.. (and m0.. when β1 > 0); outputs p'0.., v'0.. (and m'0..), in that order.
 */
export const adamUpdateName = 'AdamUpdateMany';

export interface AdamUpdateAttrs {
  count: number;
  stepSize: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

const kernel: TypedKernel<AdamUpdateAttrs> = {
  name: adamUpdateName,
  outputShapes: (inputs, { count, beta1 }) => {
    const shapes: number[][] = [];
    const groups = beta1 > 0 ? 3 : 2;
    for (let group = 0; group < groups; group++)
      for (let i = 0; i < count; i++) shapes.push(inputs[`p${i}`]?.shape ?? []);
    return shapes;
  },
  wasm({ backend, inputs, outputs, attrs: { count, stepSize, beta1, beta2, epsilon } }) {
    const simd = simdKernels(backend);
    if (simd === undefined) return false;
    for (let i = 0; i < count; i++) {
      const p = inputs[`p${i}`] as { address: number; shape: number[] };
      const size = p.shape.reduce((a, d) => a * d, 1);
      const m = beta1 > 0 ? (inputs[`m${i}`]?.address ?? 0) : 0;
      const mOut = beta1 > 0 ? (outputs[2 * count + i]?.address ?? 0) : 0;
      // biome-ignore format: one argument per kernel parameter
      simd.adam(p.address, inputs[`g${i}`]?.address ?? 0, inputs[`v${i}`]?.address ?? 0, m, size, stepSize, beta1,
        beta2, epsilon, outputs[i]?.address ?? 0, outputs[count + i]?.address ?? 0, mOut);
    }
    return true;
  },
  compute(inputs, outputs, _shapes, { count, stepSize, beta1, beta2, epsilon }) {
    for (let i = 0; i < count; i++) {
      const p = inputs[`p${i}`] as Float32Array;
      const g = inputs[`g${i}`] as Float32Array;
      const v = inputs[`v${i}`] as Float32Array;
      const pOut = outputs[i] as Float32Array;
      const vOut = outputs[count + i] as Float32Array;
      if (beta1 > 0) {
        const m = inputs[`m${i}`] as Float32Array;
        const mOut = outputs[2 * count + i] as Float32Array;
        for (let k = 0; k < p.length; k++) {
          const gk = g[k] as number;
          const mk = beta1 * (m[k] as number) + (1 - beta1) * gk;
          const vk = beta2 * (v[k] as number) + (1 - beta2) * gk * gk;
          mOut[k] = mk;
          vOut[k] = vk;
          pOut[k] = (p[k] as number) - (stepSize * mk) / (Math.sqrt(vk) + epsilon);
        }
      } else {
        for (let k = 0; k < p.length; k++) {
          const gk = g[k] as number;
          const vk = beta2 * (v[k] as number) + (1 - beta2) * gk * gk;
          vOut[k] = vk;
          pOut[k] = (p[k] as number) - (stepSize * gk) / (Math.sqrt(vk) + epsilon);
        }
      }
    }
  },
};

export const adamUpdateKernels = typedKernelConfigs(kernel);

/** The same update from plain tfjs ops, for backends without the kernel. */
function composite(
  params: tf.Tensor[],
  grads: tf.Tensor[],
  v: tf.Tensor[],
  m: tf.Tensor[] | undefined,
  a: AdamUpdateAttrs,
): { params: tf.Tensor[]; v: tf.Tensor[]; m?: tf.Tensor[] } {
  return tf.tidy(() => {
    const mNext = m?.map((mi, i) => tf.add(tf.mul(mi, a.beta1), tf.mul(grads[i] as tf.Tensor, 1 - a.beta1)));
    const vNext = v.map((vi, i) =>
      tf.add(tf.mul(vi, a.beta2), tf.mul(tf.square(grads[i] as tf.Tensor), 1 - a.beta2)),
    );
    const pNext = params.map((p, i) =>
      tf.sub(
        p,
        tf.mul(
          tf.div(mNext?.[i] ?? (grads[i] as tf.Tensor), tf.add(tf.sqrt(vNext[i] as tf.Tensor), a.epsilon)),
          a.stepSize,
        ),
      ),
    );
    return mNext ? { params: pNext, v: vNext, m: mNext } : { params: pNext, v: vNext };
  });
}

/**
 * Applies one Adam step to every parameter; returns new tensors (nothing is disposed). `m` must be given
 * exactly when beta1 > 0.
 */
export function adamUpdate(
  params: tf.Tensor[],
  grads: tf.Tensor[],
  v: tf.Tensor[],
  m: tf.Tensor[] | undefined,
  options: Omit<AdamUpdateAttrs, 'count'>,
): { params: tf.Tensor[]; v: tf.Tensor[]; m?: tf.Tensor[] } {
  const count = params.length;
  const attrs: AdamUpdateAttrs = { count, ...options };
  if (options.beta1 > 0 !== (m !== undefined)) throw new Error('adamUpdate: pass m exactly when beta1 > 0');
  if (grads.length !== count || v.length !== count || (m && m.length !== count))
    throw new Error(`adamUpdate: ${count} parameters need as many gradients and moments`);
  if (tf.getKernel(adamUpdateName, tf.getBackend()) === undefined)
    return composite(params, grads, v, m, attrs);
  const inputs: Record<string, tf.Tensor> = {};
  params.forEach((p, i) => {
    for (const [key, t] of [
      ['g', grads[i]],
      ['v', v[i]],
      ['m', m?.[i]],
    ] as const) {
      if (t !== undefined && !tf.util.arraysEqual(t.shape, p.shape))
        throw new Error(`adamUpdate: ${key}${i} has shape [${t.shape}], parameter ${i} has [${p.shape}]`);
    }
    inputs[`p${i}`] = p;
    inputs[`g${i}`] = grads[i] as tf.Tensor;
    inputs[`v${i}`] = v[i] as tf.Tensor;
    if (m) inputs[`m${i}`] = m[i] as tf.Tensor;
  });
  const outs = tf.engine().runKernel(adamUpdateName, inputs, attrs as unknown as tf.NamedAttrMap) as
    | tf.Tensor[]
    | tf.Tensor;
  const all = Array.isArray(outs) ? outs : [outs];
  const result = { params: all.slice(0, count), v: all.slice(count, 2 * count) };
  return m ? { ...result, m: all.slice(2 * count) } : result;
}
