import type { Rng } from '@reptile-bench/core';
import { exampleLength } from './batches.ts';
import type { Batch, ClassSet, Episode, EpisodeSampler } from './types.ts';

export interface FewShotOptions {
  /** Classes per task (N). */
  ways: number;
  /** Support images per class (K); for meta-training, the paper's `train_shots`. */
  shots: number;
  /** Query images per class; default 1, as in the paper's evaluation. 0 gives an empty query. */
  queryShots?: number;
  /**
   * Whether a class's images may repeat within one episode. Default false: the `shots + queryShots` images of a
   * class are distinct, so support and query never share an image.
   */
  replacement?: boolean;
}

function emptyBatch(inputShape: number[]): Batch {
  return { x: new Float32Array(0), y: new Int32Array(0), size: 0, inputShape };
}

function writeImage(set: ClassSet, c: number, i: number, out: Float32Array, offset: number): void {
  if (set.writeImage) set.writeImage(c, i, out, offset);
  else out.set(set.image(c, i), offset);
}

/**
 * N-way K-shot classification episodes over a set of classes. Each draw takes, from `rng` in this order: `ways`
 * distinct classes (their order is the label order, so labels 0..ways-1 are a fresh random relabelling per task),
 * then for each class in label order its `shots + queryShots` image indices; the first `shots` go to the support
 * set, the rest to the query set. Both sets are ordered by label, then by draw.
 */
export function fewShotSampler(set: ClassSet, o: FewShotOptions): EpisodeSampler {
  const { ways, shots } = o;
  const queryShots = o.queryShots ?? 1;
  const replacement = o.replacement ?? false;
  if (!Number.isInteger(ways) || ways < 1)
    throw new RangeError(`fewShotSampler: ways must be a positive integer, got ${ways}`);
  if (!Number.isInteger(shots) || shots < 0)
    throw new RangeError(`fewShotSampler: shots must be a non-negative integer, got ${shots}`);
  if (!Number.isInteger(queryShots) || queryShots < 0)
    throw new RangeError(`fewShotSampler: queryShots must be a non-negative integer, got ${queryShots}`);
  if (ways > set.numClasses)
    throw new RangeError(
      `fewShotSampler: ${ways} ways requested but the set has only ${set.numClasses} classes`,
    );
  const perClass = shots + queryShots;
  if (perClass < 1) throw new RangeError('fewShotSampler: shots + queryShots must be at least 1');
  if (!replacement) {
    for (let c = 0; c < set.numClasses; c++) {
      if (set.count(c) < perClass)
        throw new RangeError(
          `fewShotSampler: class ${c} has ${set.count(c)} images, fewer than shots + queryShots = ${perClass}; ` +
            'lower the shots or pass replacement: true',
        );
    }
  }
  const inputShape = [...set.imageShape];
  const pixels = exampleLength(inputShape);

  return {
    task: 'classification',
    inputShape,
    outputSize: ways,
    sample(rng: Rng): Episode {
      const classes = rng.sampleWithoutReplacement(set.numClasses, ways);
      const support: Batch = {
        x: new Float32Array(ways * shots * pixels),
        y: new Int32Array(ways * shots),
        size: ways * shots,
        inputShape: [...inputShape],
      };
      const query: Batch =
        queryShots === 0
          ? emptyBatch([...inputShape])
          : {
              x: new Float32Array(ways * queryShots * pixels),
              y: new Int32Array(ways * queryShots),
              size: ways * queryShots,
              inputShape: [...inputShape],
            };
      classes.forEach((c, label) => {
        const count = set.count(c);
        const picks = replacement
          ? rng.sampleWithReplacement(count, perClass)
          : rng.sampleWithoutReplacement(count, perClass);
        picks.forEach((image, k) => {
          const inSupport = k < shots;
          const batch = inSupport ? support : query;
          const row = inSupport ? label * shots + k : label * queryShots + (k - shots);
          writeImage(set, c, image, batch.x, row * pixels);
          batch.y[row] = label;
        });
      });
      return { support, query };
    },
  };
}

/** A ClassSet over images already in memory: `classes[c][i]` is image `i` of class `c`, HWC, values in [0, 1]. */
export function classSetFromImages(
  imageShape: [number, number, number],
  classes: Float32Array[][],
): ClassSet {
  const pixels = exampleLength(imageShape);
  classes.forEach((images, c) => {
    images.forEach((img, i) => {
      if (img.length !== pixels)
        throw new RangeError(
          `classSetFromImages: image ${i} of class ${c} has ${img.length} values, expected ${pixels} (${imageShape.join('×')})`,
        );
    });
  });
  const get = (c: number, i: number): Float32Array => {
    const img = classes[c]?.[i];
    if (img === undefined) throw new RangeError(`ClassSet: no image ${i} in class ${c}`);
    return img;
  };
  return {
    numClasses: classes.length,
    imageShape: [...imageShape],
    count: (c) => {
      const images = classes[c];
      if (images === undefined) throw new RangeError(`ClassSet: no class ${c} (there are ${classes.length})`);
      return images.length;
    },
    image: (c, i) => Float32Array.from(get(c, i)),
    writeImage: (c, i, out, offset) => out.set(get(c, i), offset),
  };
}
