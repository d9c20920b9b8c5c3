import { tf } from '@reptile-bench/backend';

let installed = false;

/**
 * Makes tfjs's Tanh gradient differentiable a second time.
 *
 * tfjs's own Tanh gradient, 1 − y², reads the op's saved *output*. The engine records the copy it saves before
 * the op itself on the tape, so when a gradient is differentiated again, the saved output looks unreachable from
 * the inputs and is treated as a constant: the second-order term through tanh silently vanishes (the meta-gradient
 * of a tanh MLP was off by ~5% against finite differences). This gradient saves the *input* and recomputes
 * tanh(x) with the same kernel, so first-order results are bit-identical and second-order ones are exact.
 * Installed once per process, for every backend (the gradient registry is global).
 */
export function installSecondOrderTanhGradient(): void {
  if (installed) return;
  installed = true;
  tf.registerGradient({
    kernelName: 'Tanh',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as [tf.Tensor];
      return { x: () => tf.mul(dy as tf.Tensor, tf.sub(1, tf.square(tf.tanh(x)))) };
    },
  });
}
