import { ops, tf } from '@reptile-bench/backend';
import type { Optimizer, OptimizerState } from './optimizers.ts';

export interface MomentumOptions {
  /** A step size, or the step size of each step t = 0, 1, … (e.g. a warm-up); it must stay positive. */
  learningRate: number | ((step: number) => number);
  /** μ in [0, 1); 0 is plain SGD (no state but the step count). */
  momentum: number;
}

/**
 * SGD with heavy-ball momentum as PyTorch and Keras compute it: m ← μ·m + g, p ← p − lr_t·m (m starts at 0, so
 * the first step is p − lr·g). The state is the step count and, with μ > 0, one buffer per parameter; it exports
 * as `{ name: 'momentum', steps, shapes, m }` with m flat, parameter after parameter, so that replicas can average
 * or reset it between steps and a checkpoint continues it exactly.
 */
export function momentumSgd(options: MomentumOptions): Optimizer {
  const { momentum } = options;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum < 1))
    throw new Error(`momentum: momentum must be a number in [0, 1), got ${JSON.stringify(momentum)}`);
  const schedule = options.learningRate;
  if (typeof schedule === 'number' && !(Number.isFinite(schedule) && schedule > 0))
    throw new Error(`momentum: learningRate must be a positive number, got ${JSON.stringify(schedule)}`);
  const rateAt = (t: number): number => {
    const lr = typeof schedule === 'number' ? schedule : schedule(t);
    if (!(Number.isFinite(lr) && lr > 0))
      throw new Error(`momentum: the learning rate of step ${t} must be a positive number, got ${lr}`);
    return lr;
  };
  let steps = 0;
  let buffers: tf.Tensor[] | undefined;
  const disposeBuffers = () => {
    if (buffers) tf.dispose(buffers);
    buffers = undefined;
  };
  return {
    name: 'momentum',
    step(params, grads, stepOptions = {}) {
      if (params.length !== grads.length)
        throw new Error(`momentum: got ${params.length} parameters but ${grads.length} gradients`);
      params.forEach((p, i) => {
        const g = grads[i] as tf.Tensor;
        if (!tf.util.arraysEqual(p.shape, g.shape))
          throw new Error(`momentum: parameter ${i} has shape [${p.shape}] but its gradient [${g.shape}]`);
      });
      const lr = rateAt(steps);
      steps += 1;
      if (momentum === 0) return ops.sgdUpdate(params, grads, lr, stepOptions);
      if (
        buffers !== undefined &&
        (buffers.length !== params.length ||
          buffers.some((m, i) => !tf.util.arraysEqual(m.shape, params[i]!.shape)))
      )
        throw new Error(
          'momentum: the parameters changed shape since the last step; reset the optimizer first',
        );
      const previous = buffers;
      const next = tf.tidy(() =>
        grads.map((g, i) =>
          previous === undefined ? tf.clone(g) : tf.add(tf.mul(previous[i]!, momentum), g),
        ),
      );
      if (previous) tf.dispose(previous);
      buffers = next;
      return ops.sgdUpdate(params, next, lr, stepOptions);
    },
    reset() {
      disposeBuffers();
      steps = 0;
    },
    exportState(): OptimizerState {
      const state: OptimizerState = { name: 'momentum', steps };
      if (buffers === undefined) return state;
      state.shapes = buffers.map((m) => [...m.shape]);
      const total = buffers.reduce((n, m) => n + m.size, 0);
      const flat = new Float32Array(total);
      let offset = 0;
      for (const m of buffers) {
        flat.set(m.dataSync() as Float32Array, offset);
        offset += m.size;
      }
      state.m = flat;
      return state;
    },
    importState(state) {
      if (state === null || typeof state !== 'object' || state.name !== 'momentum')
        throw new Error(
          `momentum: cannot import the state of a ${JSON.stringify((state as { name?: unknown } | null)?.name)} optimizer`,
        );
      const t = state.steps ?? 0;
      if (!Number.isInteger(t) || t < 0)
        throw new Error(
          `momentum: state to import has steps ${JSON.stringify(state.steps)}, not an integer ≥ 0`,
        );
      disposeBuffers();
      steps = t;
      if (state.m === undefined) return;
      const shapes = state.shapes ?? [];
      const total = shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
      if (momentum === 0 || state.m.length !== total)
        throw new Error(
          `momentum: state to import has ${state.m.length} buffered values for shapes of ${total} (μ = ${momentum})`,
        );
      let offset = 0;
      buffers = shapes.map((shape) => {
        const size = shape.reduce((a, b) => a * b, 1);
        const m = tf.tensor(state.m!.slice(offset, offset + size), shape, 'float32');
        offset += size;
        return m;
      });
    },
    dispose() {
      disposeBuffers();
    },
  };
}
