import { createRng } from '@reptile-bench/core';
import { type ClassSet, classSetFromImages } from '@reptile-bench/datasets';

/**
 * A small synthetic image dataset with real class structure: each class is a fixed random 8×8 prototype and its
 * images are noisy copies, so an adapted classifier can beat chance while batch norm still mixes examples.
 */
export function prototypeClasses(numClasses: number, perClass: number, seed = 1): ClassSet {
  const rng = createRng(seed);
  const pixels = 8 * 8;
  const classes = Array.from({ length: numClasses }, (_, c) => {
    const prototype = rng.derive('prototype', c).fillUniform(new Float32Array(pixels), 0, 1);
    return Array.from({ length: perClass }, (_, i) => {
      const noise = rng.derive('noise', c, i);
      return prototype.map((v) => Math.min(1, Math.max(0, v + 0.2 * noise.normal())));
    });
  });
  return classSetFromImages([8, 8, 1], classes);
}
