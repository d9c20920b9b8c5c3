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
 * A functional optimizer: `step` returns new parameter tensors and never disposes its arguments (the caller owns
 * `params` and `grads`); it owns its own state (Adam's moments and step count) and disposes state it replaces.
 */
export interface Optimizer {
  step(params: tf.Tensor[], grads: tf.Tensor[], options?: StepOptions): tf.Tensor[];
  /** Forgets the state (as a fresh optimizer), e.g. between Reptile tasks. */
  reset(): void;
  dispose(): void;
  readonly name: string;
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
    dispose: disposeState,
  };
}
