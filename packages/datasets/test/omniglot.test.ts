import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@reptile-bench/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fewShotSampler, loadOmniglot, type Omniglot, splitOmniglot } from '../src/index.ts';
import { fixtureInk, fixtureTime, omniglotArchives, SMALL_SPEC, writeArchives } from './fixtures.ts';

const scratch = mkdtempSync(join(tmpdir(), 'omniglot-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const savedEnv = process.env.OMNIGLOT_DIR;
beforeAll(() => {
  delete process.env.OMNIGLOT_DIR;
});
afterAll(() => {
  if (savedEnv !== undefined) process.env.OMNIGLOT_DIR = savedEnv;
});

let counter = 0;
function fresh(name: string): string {
  return join(scratch, `${name}-${counter++}`);
}

describe('Omniglot archives in the official layout', () => {
  it('reads characters in canonical order with the expected images', async () => {
    const dir = fresh('archives');
    writeArchives(dir, omniglotArchives(SMALL_SPEC));
    const data = await loadOmniglot({ dir, cacheDir: fresh('cache'), progress: false });
    expect(data.source).toBe('option');
    expect(data.fromCache).toBe(false);
    expect(data.characters.map((c) => `${c.set}/${c.alphabet}/${c.character}`)).toEqual([
      'background/Alpha/character01',
      'background/Alpha/character02',
      'background/Alpha/character03',
      'background/Beta/character01',
      'background/Beta/character02',
      'evaluation/Gamma/character01',
      'evaluation/Gamma/character02',
    ]);
    expect(data.characters.map((c) => c.start)).toEqual([0, 3, 6, 9, 12, 15, 18]);
    expect(data.images.length).toBe(21 * 784);
    // Character id 4 (Beta/character01), drawer 2: its ink block covers rows 28..48 and columns 10..23 at
    // 105 px, i.e. rows 7.47..13.07 and columns 2.67..6.4 at 28 px.
    const img = data.images.subarray((9 + 1) * 784, (9 + 2) * 784);
    const ink = fixtureInk(4, 2);
    expect(ink(30, 12)).toBe(true);
    expect(img[10 * 28 + 4]).toBe(255); // fully inside the block
    expect(img[2 * 28 + 20]).toBe(0); // far from it
    // Row 7 at 28 px spans source rows 26.25..30: rows 28, 29 are ink (2 of 3.75), columns 4 fully ink.
    expect(img[7 * 28 + 4]).toBe(Math.round((2 / 3.75) * 255));
  });

  it('serves a second load from the cache and invalidates it when an archive changes', async () => {
    const dir = fresh('archives');
    const cacheDir = fresh('cache');
    writeArchives(dir, omniglotArchives(SMALL_SPEC));
    const first = await loadOmniglot({ dir, cacheDir, progress: false });
    const second = await loadOmniglot({ dir, cacheDir, progress: false });
    expect(first.fromCache).toBe(false);
    expect(second.fromCache).toBe(true);
    expect(Buffer.compare(second.images, first.images)).toBe(0);
    expect(second.characters).toEqual(first.characters);
    expect(second.sha256).toEqual(first.sha256);

    // A changed archive (one more character) has another sha256: the old cache entry is not used.
    writeArchives(dir, omniglotArchives({ ...SMALL_SPEC, evaluation: { Gamma: 3 } }));
    const changed = await loadOmniglot({ dir, cacheDir, progress: false });
    expect(changed.fromCache).toBe(false);
    expect(changed.sha256['images_evaluation.zip']).not.toBe(first.sha256['images_evaluation.zip']);
    expect(changed.sha256['images_background.zip']).toBe(first.sha256['images_background.zip']);
    expect(changed.characters).toHaveLength(8);
    expect(changed.contentSha256).not.toBe(first.contentSha256);
    const files = readdirSync(join(cacheDir, 'omniglot'));
    expect(files.filter((f) => f.endsWith('.bin'))).toHaveLength(2);
    expect(files.filter((f) => f.endsWith('.part'))).toHaveLength(0);
  });

  it('decodes again when the cache file is damaged, and the settings key the cache', async () => {
    const dir = fresh('archives');
    const cacheDir = fresh('cache');
    writeArchives(dir, omniglotArchives(SMALL_SPEC));
    const first = await loadOmniglot({ dir, cacheDir, progress: false });
    const bytes = readFileSync(first.cacheFile);
    bytes[bytes.length - 100]! ^= 0xff;
    writeFileSync(first.cacheFile, bytes);
    const repaired = await loadOmniglot({ dir, cacheDir, progress: false });
    expect(repaired.fromCache).toBe(false);
    expect(Buffer.compare(repaired.images, first.images)).toBe(0);
    writeFileSync(first.cacheFile, bytes.subarray(0, 5000));
    expect((await loadOmniglot({ dir, cacheDir, progress: false })).fromCache).toBe(false);
    expect((await loadOmniglot({ dir, cacheDir, progress: false })).fromCache).toBe(true);

    const nearest = await loadOmniglot({ dir, cacheDir, progress: false, filter: 'nearest' });
    expect(nearest.fromCache).toBe(false);
    expect(nearest.cacheFile).not.toBe(first.cacheFile);
    expect(new Set(nearest.images)).toEqual(new Set([0, 255])); // nearest keeps the 1-bit look
    const big = await loadOmniglot({ dir, cacheDir, progress: false, imageSize: 35 });
    expect(big.images.length).toBe(21 * 35 * 35);
  });

  it('rejects a truncated, corrupt or wrong archive clearly and writes no cache', async () => {
    const good = omniglotArchives(SMALL_SPEC);
    const cases: Array<[string, Record<string, Uint8Array>, RegExp]> = [
      [
        'truncated',
        { ...good, 'images_background.zip': good['images_background.zip'].subarray(0, 3000) },
        /images_background\.zip is not a readable zip archive.*truncated or corrupt/,
      ],
      [
        'swapped',
        {
          'images_background.zip': good['images_evaluation.zip'],
          'images_evaluation.zip': good['images_background.zip'],
        },
        /holds "images_evaluation\/Gamma\/character01\/0006_01.png", which is not images_background.*right archive/,
      ],
      [
        'empty',
        {
          ...good,
          'images_evaluation.zip': omniglotArchives({ background: {}, evaluation: {} })[
            'images_evaluation.zip'
          ],
        },
        /holds no images/,
      ],
    ];
    for (const [name, archives, message] of cases) {
      const dir = fresh(name);
      const cacheDir = fresh('cache');
      writeArchives(dir, archives);
      await expect(loadOmniglot({ dir, cacheDir, progress: false })).rejects.toThrow(message);
      expect(() => readdirSync(join(cacheDir, 'omniglot'))).toThrow(/ENOENT/);
    }
  });

  it('rejects a damaged image inside an intact archive, naming the file', async () => {
    // Store (no compression) so a flipped byte lands in a PNG's data rather than breaking the zip.
    const { zipSync, unzipSync } = await import('fflate');
    const good = omniglotArchives(SMALL_SPEC);
    const files = unzipSync(good['images_evaluation.zip']);
    const victim = 'images_evaluation/Gamma/character02/0007_02.png';
    const png = files[victim]!;
    png[png.length - 20]! ^= 0x55;
    const dir = fresh('damaged');
    const cacheDir = fresh('cache');
    writeArchives(dir, {
      ...good,
      'images_evaluation.zip': zipSync(files, { level: 0, mtime: fixtureTime }),
    });
    await expect(loadOmniglot({ dir, cacheDir, progress: false })).rejects.toThrow(
      /images_evaluation\/Gamma\/character02\/0007_02\.png: not a readable PNG/,
    );
    expect(() => readdirSync(join(cacheDir, 'omniglot'))).toThrow(/ENOENT/);
  });

  it('says what is missing when a named folder lacks the archives, and never downloads when told not to', async () => {
    const dir = fresh('nothing');
    writeArchives(dir, { 'images_background.zip': omniglotArchives(SMALL_SPEC)['images_background.zip'] });
    await expect(loadOmniglot({ dir, cacheDir: fresh('cache') })).rejects.toThrow(
      /dir option points at .*nothing-\d+, which lacks images_evaluation\.zip/,
    );
    process.env.OMNIGLOT_DIR = dir;
    try {
      await expect(loadOmniglot({ cacheDir: fresh('cache') })).rejects.toThrow(/\$OMNIGLOT_DIR points at/);
    } finally {
      delete process.env.OMNIGLOT_DIR;
    }
    await expect(
      loadOmniglot({ cacheDir: fresh('cache'), sharedDir: false, download: false }),
    ).rejects.toThrow(/no archives found .* downloading is off; set OMNIGLOT_DIR/);
  });
});

describe('splitOmniglot', () => {
  let data: Omniglot;
  beforeAll(async () => {
    const dir = fresh('archives');
    // 40 characters in 4 alphabets, 2 drawers each: enough for seeds to give visibly different splits.
    writeArchives(
      dir,
      omniglotArchives({ background: { A: 10, B: 10 }, evaluation: { C: 12, D: 8 }, drawers: 2, size: 28 }),
    );
    data = await loadOmniglot({ dir, cacheDir: fresh('cache'), progress: false });
  });

  const trainNames = (seed: number) => {
    const { train } = splitOmniglot(data, { seed, trainCharacters: 30, augment: false });
    return Array.from({ length: train.numClasses }, (_, c) => {
      const ch = train.describe(c).character;
      return `${ch.alphabet}/${ch.character}`;
    });
  };

  it('gives the same split for the same seed and a different one for another seed', () => {
    expect(trainNames(1)).toEqual(trainNames(1));
    expect(trainNames(1)).not.toEqual(trainNames(2));
    expect(new Set(trainNames(1))).not.toEqual(new Set(trainNames(2)));
    expect(splitOmniglot(data, { seed: 1, trainCharacters: 30 }).checksum).toBe(
      splitOmniglot(data, { seed: 1, trainCharacters: 30 }).checksum,
    );
    expect(splitOmniglot(data, { seed: 1, trainCharacters: 30 }).checksum).not.toBe(
      splitOmniglot(data, { seed: 2, trainCharacters: 30 }).checksum,
    );
  });

  it('partitions the characters, augmenting only the training ones with four rotations', () => {
    const { train, test } = splitOmniglot(data, { seed: 5, trainCharacters: 30 });
    expect(train.numClasses).toBe(120);
    expect(test.numClasses).toBe(10);
    const key = (s: typeof train, c: number) =>
      `${s.describe(c).character.alphabet}/${s.describe(c).character.character}`;
    const trainSet = new Set(Array.from({ length: 120 }, (_, c) => key(train, c)));
    const testSet = new Set(Array.from({ length: 10 }, (_, c) => key(test, c)));
    expect(trainSet.size).toBe(30);
    expect(testSet.size).toBe(10);
    expect([...testSet].filter((k) => trainSet.has(k))).toEqual([]);
    expect(Array.from({ length: 8 }, (_, c) => train.describe(c).rotation)).toEqual([
      0, 90, 180, 270, 0, 90, 180, 270,
    ]);
    for (let c = 0; c < 10; c++) expect(test.describe(c).rotation).toBe(0);
  });

  it('rotates training images counter-clockwise by the class rotation', () => {
    const { train } = splitOmniglot(data, { seed: 5, trainCharacters: 30 });
    const base = train.image(0, 1);
    expect(train.describe(0).rotation).toBe(0);
    // The fixture ink has a lone dot at the bottom-left corner (row 27, col 0) that breaks every symmetry.
    expect(base[27 * 28]).toBeGreaterThan(0);
    const at = (img: Float32Array, r: number, c: number) => img[r * 28 + c] as number;
    const r90 = train.image(1, 1);
    const r180 = train.image(2, 1);
    const r270 = train.image(3, 1);
    for (let r = 0; r < 28; r++)
      for (let c = 0; c < 28; c++) {
        // Counter-clockwise: the bottom-left corner goes to the bottom-right, then the top-right, then top-left.
        expect(at(r90, 27 - c, r)).toBe(at(base, r, c));
        expect(at(r180, 27 - r, 27 - c)).toBe(at(base, r, c));
        expect(at(r270, c, 27 - r)).toBe(at(base, r, c));
      }
    expect(at(r90, 27, 27)).toBe(at(base, 27, 0));
    expect(at(r180, 0, 27)).toBe(at(base, 27, 0));
    expect(at(r270, 0, 0)).toBe(at(base, 27, 0));
  });

  it('follows the official background/evaluation split when asked', () => {
    const { train, test } = splitOmniglot(data, { seed: 0, split: 'official', augment: false });
    expect(train.numClasses).toBe(20);
    expect(test.numClasses).toBe(20);
    for (let c = 0; c < 20; c++) {
      expect(train.describe(c).character.set).toBe('background');
      expect(test.describe(c).character.set).toBe('evaluation');
    }
    expect(() => splitOmniglot(data, { seed: 0, split: 'official', trainCharacters: 5 })).toThrow(
      /paper split only/,
    );
    expect(() => splitOmniglot(data, { seed: 0, trainCharacters: 40 })).toThrow(/from 1 to 39/);
  });

  it('feeds the task sampler with values in [0, 1]', () => {
    const { train } = splitOmniglot(data, { seed: 0, trainCharacters: 30 });
    const { support } = fewShotSampler(train, { ways: 5, shots: 2, queryShots: 0 }).sample(createRng(0));
    expect(support.size).toBe(10);
    expect(Math.max(...support.x)).toBe(1);
    expect(Math.min(...support.x)).toBe(0);
  });
});
