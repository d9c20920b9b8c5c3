import { createRng } from '@reptile-bench/core';
import { dataChecksum } from './checksum.ts';
import { rotateInto } from './image.ts';
import type { Omniglot, OmniglotCharacter } from './omniglot.ts';
import type { ClassSet } from './types.ts';

export interface OmniglotSplitOptions {
  /** Seeds the paper split's shuffle (ignored by the official split, which has no randomness). */
  seed: number;
  /**
   * 'paper' (default): both sets merged, shuffled with the seed, the first `trainCharacters` for training and the
   * rest for testing. 'official': the background set trains, the evaluation set tests.
   */
  split?: 'paper' | 'official';
  /** Training characters of the paper split (default 1200 of 1623). */
  trainCharacters?: number;
  /** Augment training characters with 0/90/180/270° rotations, each a class of its own (default true). */
  augment?: boolean;
  /**
   * The value of a fully inked pixel: 1 (default: paper 0, values = ink coverage) or 0 (paper 1, as the paper's
   * code reads the PNGs: `np.array(img)` of a 1-bit image is True for white paper).
   */
  ink?: 0 | 1;
}

/** A class of an Omniglot split: one character, possibly rotated. */
export interface OmniglotClass {
  character: OmniglotCharacter;
  /** Counter-clockwise rotation in degrees: 0, 90, 180 or 270. */
  rotation: 0 | 90 | 180 | 270;
}

export interface OmniglotClassSet extends ClassSet {
  /** Which character (and rotation) class `c` is. */
  describe(c: number): OmniglotClass;
}

const ROTATIONS = [0, 90, 180, 270] as const;

/** Characters × rotations as classes; pixels are read from the shared byte array and rotated on the fly. */
function omniglotClassSet(
  data: Omniglot,
  characters: OmniglotCharacter[],
  rotations: readonly (0 | 90 | 180 | 270)[],
  ink: 0 | 1,
) {
  const [h, w] = data.imageSize;
  if (h !== w) throw new RangeError(`Omniglot: rotations need square images, got ${h}×${w}`);
  const pixels = h * w;
  const classes: OmniglotClass[] = characters.flatMap((character) =>
    rotations.map((rotation) => ({ character, rotation })),
  );
  const lookup = (c: number, i: number): OmniglotClass => {
    const cls = classes[c];
    if (cls === undefined) throw new RangeError(`Omniglot: no class ${c} (there are ${classes.length})`);
    if (!Number.isInteger(i) || i < 0 || i >= cls.character.count)
      throw new RangeError(`Omniglot: class ${c} has ${cls.character.count} images, no image ${i}`);
    return cls;
  };
  const set: OmniglotClassSet = {
    numClasses: classes.length,
    imageShape: [h, w, 1],
    count: (c) => lookup(c, 0).character.count,
    writeImage(c, i, out, offset) {
      const { character, rotation } = lookup(c, i);
      // Stored bytes are ink coverage × 255; with ink 0 the value is 1 − coverage.
      if (ink === 1)
        rotateInto(data.images, (character.start + i) * pixels, h, 1, rotation / 90, out, offset, 1 / 255);
      else
        rotateInto(
          data.images,
          (character.start + i) * pixels,
          h,
          1,
          rotation / 90,
          out,
          offset,
          -1 / 255,
          1,
        );
    },
    image(c, i) {
      const out = new Float32Array(pixels);
      set.writeImage?.(c, i, out, 0);
      return out;
    },
    describe: (c) => lookup(c, 0),
  };
  return set;
}

/**
 * Omniglot's train/test classes. The paper split (Nichol et al.) merges both sets (1623 characters), shuffles
 * them with the seed and keeps 1200 for training, each in four rotations (4800 classes), and 423 for testing.
 * `checksum` identifies the decoded data and every split setting, for run records.
 */
export function splitOmniglot(
  data: Omniglot,
  o: OmniglotSplitOptions,
): { train: OmniglotClassSet; test: OmniglotClassSet; checksum: string } {
  const split = o.split ?? 'paper';
  const augment = o.augment ?? true;
  const ink = o.ink ?? 1;
  if (ink !== 0 && ink !== 1) throw new RangeError(`Omniglot: ink must be 0 or 1, got ${String(ink)}`);
  const all = data.characters;
  let train: OmniglotCharacter[];
  let test: OmniglotCharacter[];
  let trainCharacters: number | null = null;
  if (split === 'paper') {
    trainCharacters = o.trainCharacters ?? 1200;
    if (!Number.isInteger(trainCharacters) || trainCharacters < 1 || trainCharacters >= all.length)
      throw new RangeError(
        `Omniglot: trainCharacters must be an integer from 1 to ${all.length - 1} (there are ${all.length} characters), got ${trainCharacters}`,
      );
    if (!Number.isFinite(o.seed))
      throw new RangeError(`Omniglot: seed must be a finite number, got ${o.seed}`);
    const order = createRng(o.seed)
      .derive('omniglot', 'split')
      .shuffle(all.map((_, i) => i));
    train = order.slice(0, trainCharacters).map((i) => all[i] as OmniglotCharacter);
    test = order.slice(trainCharacters).map((i) => all[i] as OmniglotCharacter);
  } else if (split === 'official') {
    if (o.trainCharacters !== undefined)
      throw new RangeError(
        'Omniglot: trainCharacters applies to the paper split only; the official split is fixed',
      );
    train = all.filter((c) => c.set === 'background');
    test = all.filter((c) => c.set === 'evaluation');
  } else {
    throw new RangeError(`Omniglot: split must be 'paper' or 'official', got ${String(split)}`);
  }
  const checksum = dataChecksum(
    { omniglot: data.contentSha256 },
    {
      dataset: 'omniglot',
      split,
      seed: split === 'paper' ? o.seed : null,
      trainCharacters,
      augment,
      imageSize: data.imageSize,
      filter: data.filter,
      // only when not the default, so the checksums of earlier data stay the same
      ...(ink === 1 ? {} : { ink }),
    },
  );
  return {
    train: omniglotClassSet(data, train, augment ? ROTATIONS : [0], ink),
    test: omniglotClassSet(data, test, [0], ink),
    checksum,
  };
}
