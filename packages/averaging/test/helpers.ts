import { createRng } from '@reptile-bench/core';
import type { LabelledImages } from '@reptile-bench/datasets';

/**
 * A small separable image set: 4×4 gray images of `classes` classes, class c brighter in a band of its own, plus
 * seeded noise; labels cycle through the classes.
 */
export function bandImages(count: number, classes = 3, seed = 'bands'): LabelledImages {
  const rng = createRng(seed);
  const pixels = new Uint8Array(count * 16);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let p = 0; p < 16; p++) {
      const inBand = Math.floor(p / (16 / classes)) === c;
      pixels[i * 16 + p] = Math.min(255, Math.floor((inBand ? 150 : 40) + rng.uniform(0, 80)));
    }
  }
  return { count, imageShape: [4, 4, 1], numClasses: classes, pixels, labels };
}
