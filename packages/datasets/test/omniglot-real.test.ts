import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createRng } from '@reptile-bench/core';
import { unzipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  countAlphabets,
  decodeImage,
  defaultSharedDir,
  fewShotSampler,
  loadOmniglot,
  OMNIGLOT_KNOWN_ARCHIVES,
  type Omniglot,
  resize,
  splitOmniglot,
} from '../src/index.ts';

// The real archives: the project's shared copy (or $OMNIGLOT_DIR). Tests never download.
const shared = defaultSharedDir();
const realDir = process.env.OMNIGLOT_DIR ?? shared;
const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../runner/bin/reptile-bench.mjs', import.meta.url));
const haveArchives = realDir !== undefined && existsSync(join(realDir, 'images_background.zip'));

describe.skipIf(!haveArchives)('Omniglot from the real archives', () => {
  let data: Omniglot;
  beforeAll(async () => {
    // The first run decodes the archives into the repository's cache; later runs read the cache.
    data = await loadOmniglot({ download: false, progress: false });
  });

  it('has the release counts and 28×28 images', () => {
    expect(countAlphabets(data)).toBe(50);
    expect(data.characters).toHaveLength(1623);
    expect(data.characters.filter((c) => c.set === 'background')).toHaveLength(964);
    expect(data.characters.filter((c) => c.set === 'evaluation')).toHaveLength(659);
    expect(data.images.length).toBe(32460 * 28 * 28);
    expect(data.imageSize).toEqual([28, 28]);
    for (const c of data.characters) expect(c.count).toBe(20);
    expect(data.characters.at(-1)!.start + 20).toBe(32460);
  });

  it('records the archives it read, which are the known release files', () => {
    for (const name of ['images_background.zip', 'images_evaluation.zip'] as const) {
      const known = OMNIGLOT_KNOWN_ARCHIVES[name].map((k) => k.sha256);
      expect(known).toContain(data.sha256[name]);
    }
    expect(data.contentSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('stores ink as bright pixels on a dark background, matching a direct decode', () => {
    // Corners are paper in (nearly) every drawing; the mean ink coverage is small but not zero.
    let inkSum = 0;
    let cornerInk = 0;
    for (let n = 0; n < 32460; n++) {
      cornerInk += data.images[n * 784] as number;
      for (let p = 0; p < 784; p++) inkSum += data.images[n * 784 + p] as number;
    }
    const meanInk = inkSum / (32460 * 784 * 255);
    expect(meanInk).toBeGreaterThan(0.05);
    expect(meanInk).toBeLessThan(0.3);
    expect(cornerInk / 32460 / 255).toBeLessThan(0.01);
    // The first evaluation character's first drawing, decoded here independently of the loader.
    const first = data.characters.find((c) => c.set === 'evaluation')!;
    const zip = unzipSync(readFileSync(join(data.archiveDir || realDir!, 'images_evaluation.zip')), {
      filter: (f) => f.name.startsWith(`images_evaluation/${first.alphabet}/${first.character}/`),
    });
    const firstName = Object.keys(zip).sort()[0]!;
    const small = resize(decodeImage(zip[firstName]!, firstName), 28, 28, 'area');
    for (let p = 0; p < 784; p++)
      expect(data.images[first.start * 784 + p]).toBe(Math.round((1 - (small.data[p] as number)) * 255));
  });

  it('loads from the binary cache the second time, with identical content', async () => {
    const again = await loadOmniglot({ download: false, progress: false });
    expect(again.fromCache).toBe(true);
    expect(again.contentSha256).toBe(data.contentSha256);
    // Byte comparison: a matcher's element-wise diff of 25 million values would take minutes.
    expect(Buffer.compare(again.images, data.images)).toBe(0);
  });

  it('splits as the paper: 1200 characters × 4 rotations for training, 423 for testing', () => {
    const { train, test, checksum } = splitOmniglot(data, { seed: 0 });
    expect(train.numClasses).toBe(4800);
    expect(test.numClasses).toBe(423);
    expect(train.imageShape).toEqual([28, 28, 1]);
    const trainChars = new Set(Array.from({ length: 4800 }, (_, c) => train.describe(c).character));
    const testChars = new Set(Array.from({ length: 423 }, (_, c) => test.describe(c).character));
    expect(trainChars.size).toBe(1200);
    expect([...testChars].filter((c) => trainChars.has(c))).toHaveLength(0);
    expect(checksum).toMatch(/^[0-9a-f]{64}$/);
    const official = splitOmniglot(data, { seed: 0, split: 'official' });
    expect(official.train.numClasses).toBe(964 * 4);
    expect(official.test.numClasses).toBe(659);
    expect(official.checksum).not.toBe(checksum);
  });

  it('gives the same paper split for the same seed and another one for a different seed', () => {
    const testNames = (seed: number) => {
      const { test } = splitOmniglot(data, { seed });
      return Array.from({ length: test.numClasses }, (_, c) => {
        const ch = test.describe(c).character;
        return `${ch.alphabet}/${ch.character}`;
      });
    };
    const a = testNames(0);
    expect(testNames(0)).toEqual(a);
    const b = testNames(1);
    // Two random 423-of-1623 subsets share about 423²/1623 ≈ 110 characters, far from all 423.
    const shared = b.filter((name) => a.includes(name)).length;
    expect(shared).toBeGreaterThan(50);
    expect(shared).toBeLessThan(200);
  });

  it('samples 20-way 5-shot episodes from the real test characters', () => {
    const { test } = splitOmniglot(data, { seed: 0 });
    const episode = fewShotSampler(test, { ways: 20, shots: 5 }).sample(createRng(0));
    expect(episode.support.size).toBe(100);
    expect(episode.query.size).toBe(20);
    expect(episode.support.x.length).toBe(100 * 784);
    expect(Math.max(...episode.support.x)).toBeLessThanOrEqual(1);
    expect(Math.min(...episode.support.x)).toBe(0);
  });

  it('`reptile-bench data omniglot --json` prints the counts, split sizes, source and checksums', async () => {
    // The real CLI (from the runner package), run after the load above so it reads the warm cache.
    const { stdout } = await run(process.execPath, [bin, 'data', 'omniglot', '--json', '--no-download'], {
      env: { ...process.env, OMNIGLOT_DIR: realDir },
    });
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({
      alphabets: 50,
      characters: 1623,
      images: 32460,
      image_size: [28, 28],
      train_classes: 4800,
      test_classes: 423,
      sha256: data.sha256,
      content_sha256: data.contentSha256,
      data_checksum: splitOmniglot(data, { seed: 0 }).checksum,
      from_cache: true,
    });
    expect(['env', 'shared']).toContain(summary.source);
  });
});
