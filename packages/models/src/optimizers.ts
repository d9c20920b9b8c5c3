import { ops, tf } from '@reptile-bench/backend';

/** Options of one optimizer step. */
export interface StepOptions {
  /**
   * The caller hands `params` over: it disposes them right after the step without reading them, so the new
   * parameters may be written into their buffers (when nothing else shares them) instead of new ones.
   */
  consumeParams?: boolean;
}

/**
 * An optimizer's state as plain data (copies), for checkpoints and for starting an adaptation where training left
 * off. SGD has none; Adam has its step count and flat moments (absent before its first step).
 */
export interface OptimizerState {
  name: 'adam' | 'sgd' | 'momentum';
  /** Steps taken (Adam's t; the momentum optimizer's position in its learning-rate schedule). */
  steps?: number;
  /** The parameter shapes the moments were made for. */
  shapes?: number[][];
  /** Second moments of all parameters, flat, in parameter order. */
  v?: Float32Array;
  /** First moments (only with β1 > 0), or the momentum buffers. */
  m?: Float32Array;
}

/**
 * A functional optimizer: `step` returns new parameter tensors and never disposes its arguments (the caller owns
 * `params` and `grads`); it owns its own state (Adam's moments and step count) and disposes state it replaces.
 */
export interface Optimizer {
  step(params: tf.Tensor[], grads: tf.Tensor[], options?: StepOptions): tf.Tensor[];
  /** Forgets the state (as a fresh optimizer), e.g. between Reptile tasks. */
  reset(): void;
  /** A copy of the state; `importState` of it continues exactly where this optimizer is. */
  exportState(): OptimizerState;
  /** Replaces the state by (a copy of) `state`, which must come from an optimizer of the same kind. */
  importState(state: OptimizerState): void;
  dispose(): void;
  readonly name: string;
}

function checkStateKind(state: OptimizerState, name: 'adam' | 'sgd'): void {
  if (state === null || typeof state !== 'object' || state.name !== name)
    throw new Error(
      `${name}: cannot import the state of a ${JSON.stringify((state as { name?: unknown } | null)?.name)} optimizer`,
    );
}

function checkLearningRate(lr: unknown, name: string): number {
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0)
    throw new Error(`${name}: learningRate must be a positive number, got ${JSON.stringify(lr)}`);
  return lr;
}

function checkPairs(name: string, params: tf.Tensor[], grads: tf.Tensor[]): void {
  if (params.length !== grads.length)
    throw new Error(`${name}: got ${params.length} parameters but ${grads.length} gradients`);
  params.forEach((p, i) => {
    const g = grads[i] as tf.Tensor;
    if (!tf.util.arraysEqual(p.shape, g.shape))
      throw new Error(`${name}: parameter ${i} has shape [${p.shape}] but its gradient [${g.shape}]`);
  });
}

/** Plain gradient descent: p ← p − lr·g. */
export function sgd(options: { learningRate: number }): Optimizer {
  const learningRate = checkLearningRate(options.learningRate, 'sgd');
  return {
    name: 'sgd',
    step(params, grads, options = {}) {
      checkPairs('sgd', params, grads);
      return ops.sgdUpdate(params, grads, learningRate, options);
    },
    reset() {},
    exportState: () => ({ name: 'sgd' }),
    importState: (state) => checkStateKind(state, 'sgd'),
    dispose() {},
  };
}

export interface AdamOptions {
  learningRate: number;
  /** Default 0, as in Reptile's inner loop (the update then uses the current gradient only). */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * Adam as TensorFlow's AdamOptimizer computes it (Kingma & Ba, section 2, with "epsilon hat"):
 * m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr·√(1−β2ᵗ)/(1−β1ᵗ) · m / (√v + ε).
 */
export function adam(options: AdamOptions): Optimizer {
  const learningRate = checkLearningRate(options.learningRate, 'adam');
  const beta1 = options.beta1 ?? 0;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  for (const [field, value] of [
    ['beta1', beta1],
    ['beta2', beta2],
  ] as const) {
    if (!(value >= 0 && value < 1)) throw new Error(`adam: ${field} must be in [0, 1), got ${value}`);
  }
  if (!(epsilon > 0)) throw new Error(`adam: epsilon must be positive, got ${epsilon}`);

  let t = 0;
  // Moments of all parameters, flat (see ops.adamUpdate); undefined until the first step.
  let m: tf.Tensor | undefined;
  let v: tf.Tensor | undefined;
  let shapes: number[][] = [];
  const disposeState = () => {
    m?.dispose();
    v?.dispose();
    m = undefined;
    v = undefined;
    shapes = [];
    t = 0;
  };

  return {
    name: 'adam',
    step(params, grads, options = {}) {
      checkPairs('adam', params, grads);
      // Other parameter shapes than the state was made for: a fresh start.
      if (
        shapes.length !== params.length ||
        shapes.some((s, i) => !tf.util.arraysEqual(s, params[i]?.shape ?? []))
      )
        disposeState();
      if (v === undefined) {
        const total = params.reduce((n, p) => n + p.size, 0);
        shapes = params.map((p) => p.shape);
        v = tf.zeros([total]);
        // With β1 = 0 the first moment is the gradient itself: no state to keep.
        if (beta1 > 0) m = tf.zeros([total]);
      }
      t += 1;
      const stepSize = (learningRate * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
      const next = ops.adamUpdate(params, grads, v, m, {
        stepSize,
        beta1,
        beta2,
        epsilon,
        consumeParams: options.consumeParams === true,
      });
      v.dispose();
      m?.dispose();
      v = next.v;
      m = next.m;
      return next.params;
    },
    reset: disposeState,
    exportState() {
      if (v === undefined) return { name: 'adam' };
      const state: OptimizerState = {
        name: 'adam',
        steps: t,
        shapes: shapes.map((s) => [...s]),
        v: (v.dataSync() as Float32Array).slice(),
      };
      if (m !== undefined) state.m = (m.dataSync() as Float32Array).slice();
      return state;
    },
    importState(state) {
      checkStateKind(state, 'adam');
      disposeState();
      if (state.v === undefined) return;
      const total = (state.shapes ?? []).reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
      if (!Number.isInteger(state.steps) || (state.steps ?? 0) < 1 || state.v.length !== total)
        throw new Error(
          `adam: state to import is inconsistent (steps ${state.steps}, ${state.v.length} moments for ${total} parameters)`,
        );
      if (beta1 > 0 !== (state.m !== undefined) || (state.m !== undefined && state.m.length !== total))
        throw new Error(
          `adam: state to import has ${state.m ? 'first moments' : 'no first moments'} but β1 = ${beta1}`,
        );
      t = state.steps as number;
      shapes = (state.shapes ?? []).map((s) => [...s]);
      v = tf.tensor1d(state.v.slice(), 'float32');
      if (state.m !== undefined) m = tf.tensor1d(state.m.slice(), 'float32');
    },
    dispose: disposeState,
  };
}

/** The inner-loop optimizer of meta-learning and adaptation: Adam with β1 = 0 (the paper's setting) or plain SGD. */
export function createOptimizer(o: { optimizer: 'adam' | 'sgd'; learningRate: number }): Optimizer {
  return o.optimizer === 'adam'
    ? adam({ learningRate: o.learningRate, beta1: 0 })
    : sgd({ learningRate: o.learningRate });
}
