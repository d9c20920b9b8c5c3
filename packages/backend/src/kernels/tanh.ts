import { type GradConfig, mul, square, sub, type Tensor, tanh } from '@tensorflow/tfjs-core';

/**
 * Tanh's gradient, differentiable a second time (MAML's meta-gradient through a tanh MLP needs it).
 *
 * tfjs's own Tanh gradient, 1 − y², reads the op's saved *output*. The engine records the copy it saves before
 * the op itself on the tape, so when a gradient is differentiated again, the saved output looks unreachable from
 * the inputs and is treated as a constant: the second-order term through tanh silently vanishes (the meta-gradient
 * of a tanh MLP was off by ~5% against finite differences). This gradient saves the *input* and recomputes
 * tanh(x) with the same kernel, so first-order results are bit-identical and second-order ones are exact.
 */
export const tanhGradient: GradConfig = {
  kernelName: 'Tanh',
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved as [Tensor];
    return { x: () => mul(dy as Tensor, sub(1, square(tanh(x)))) };
  },
};
