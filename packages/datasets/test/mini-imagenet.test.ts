import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@reptile-bench/core';
import { encode as encodePng } from 'fast-png';
import { encode as encodeJpeg } from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { fewShotSampler, loadMiniImageNet } from '../src/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'mini-imagenet-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A solid-colour image, as a JPEG (quality 100) or PNG, of the given size. */
function solid(
  format: 'jpg' | 'png',
  width: number,
  height: number,
  rgb: [number, number, number],
): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) rgba.set([...rgb, 255], p * 4);
  if (format === 'png') return encodePng({ width, height, data: rgba, channels: 4, depth: 8 });
  return new Uint8Array(encodeJpeg({ width, height, data: rgba }, 100).data);
}

/** Colour of class k: distinct, far from each other. */
const colour = (k: number): [number, number, number] => [
  (k * 70) % 256,
  255 - ((k * 40) % 256),
  (k * 110) % 256,
];

const SPLITS = { train: ['n001', 'n002', 'n003'], val: ['n101', 'n102'], test: ['n201', 'n202'] } as const;

let counter = 0;
/** Ravi & Larochelle layout: {train,val,test}.csv + images/, with 3 images per class (one PNG, one nested). */
function makeFixture(): string {
  const dir = join(scratch, `data-${counter++}`);
  mkdirSync(join(dir, 'images'), { recursive: true });
  let k = 0;
  for (const [split, labels] of Object.entries(SPLITS)) {
    const rows = ['filename,label'];
    for (const label of labels) {
      for (let i = 0; i < 3; i++) {
        const png = i === 2;
        const name = `${label}${String(i).padStart(8, '0')}.${png ? 'png' : 'jpg'}`;
        const bytes = solid(png ? 'png' : 'jpg', png ? 50 : 40, 30, colour(k));
        if (i === 1) {
          mkdirSync(join(dir, 'images', label), { recursive: true });
          writeFileSync(join(dir, 'images', label, name), bytes);
        } else writeFileSync(join(dir, 'images', name), bytes);
        rows.push(`${name},${label}`);
      }
      k++;
    }
    // Rows listed newest class first: the loader orders classes by label.
    writeFileSync(join(dir, `${split}.csv`), `${[rows[0], ...rows.slice(1).reverse()].join('\n')}\n`);
  }
  return dir;
}

describe('loadMiniImageNet', () => {
  it('reads the split files and images into RGB class sets of the requested size', async () => {
    const dir = makeFixture();
    const data = await loadMiniImageNet({
      dir,
      imageSize: 12,
      cacheDir: join(scratch, 'cache-a'),
      progress: false,
    });
    expect([data.train.numClasses, data.val.numClasses, data.test.numClasses]).toEqual([3, 2, 2]);
    expect(data.train.imageShape).toEqual([12, 12, 3]);
    expect(data.train.describe(0).label).toBe('n001');
    expect(data.test.describe(1).label).toBe('n202');
    for (const [set, first] of [
      [data.train, 0],
      [data.val, 3],
      [data.test, 5],
    ] as const) {
      for (let c = 0; c < set.numClasses; c++) {
        expect(set.count(c)).toBe(3);
        for (let i = 0; i < 3; i++) {
          const img = set.image(c, i);
          expect(img.length).toBe(12 * 12 * 3);
          const [r, g, b] = colour(first + c);
          // Solid colours survive JPEG at quality 100 and area resizing to within a couple of levels.
          expect(Math.abs((img[0] as number) * 255 - r)).toBeLessThan(4);
          expect(Math.abs((img[100] as number) * 255 - g)).toBeLessThan(4);
          expect(Math.abs((img[431] as number) * 255 - b)).toBeLessThan(4);
        }
      }
    }
    const episode = fewShotSampler(data.train, { ways: 3, shots: 2 }).sample(createRng(0));
    expect(episode.support.size).toBe(6);
    expect(episode.support.inputShape).toEqual([12, 12, 3]);
    expect(data.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('caches decoded pixels and notices a changed image', async () => {
    const dir = makeFixture();
    const cacheDir = join(scratch, 'cache-b');
    const first = await loadMiniImageNet({ dir, imageSize: 8, cacheDir, progress: false });
    const second = await loadMiniImageNet({ dir, imageSize: 8, cacheDir, progress: false });
    expect(first.fromCache).toBe(false);
    expect(second.fromCache).toBe(true);
    expect(second.contentSha256).toBe(first.contentSha256);
    expect(second.checksum).toBe(first.checksum);
    const file = join(dir, 'images', 'n00100000000.jpg');
    writeFileSync(file, solid('jpg', 40, 30, [0, 0, 0]));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const third = await loadMiniImageNet({ dir, imageSize: 8, cacheDir, progress: false });
    expect(third.fromCache).toBe(false);
    expect(third.contentSha256).not.toBe(first.contentSha256);
    expect(third.train.image(0, 0)[0]).toBe(0);
    const uncached = await loadMiniImageNet({ dir, imageSize: 8, cacheDir: false, progress: false });
    expect(uncached.contentSha256).toBe(third.contentSha256);
    expect(uncached.cacheFile).toBeUndefined();
  });

  it('names the file and line of bad split files and missing images', async () => {
    const opts = (dir: string) => ({ dir, imageSize: 8, cacheDir: false as const, progress: false });
    let dir = makeFixture();
    writeFileSync(join(dir, 'val.csv'), 'file,class\nx.jpg,n101\n');
    await expect(loadMiniImageNet(opts(dir))).rejects.toThrow(
      /val\.csv line 1 must be the header "filename,label"/,
    );
    dir = makeFixture();
    writeFileSync(join(dir, 'test.csv'), 'filename,label\nn00100000000.jpg,n001\n');
    await expect(loadMiniImageNet(opts(dir))).rejects.toThrow(
      /test\.csv line 2: label n001 is also in train\.csv/,
    );
    dir = makeFixture();
    writeFileSync(join(dir, 'val.csv'), 'filename,label\nmissing.jpg,n101\n');
    await expect(loadMiniImageNet(opts(dir))).rejects.toThrow(
      /val\.csv line 2 names missing\.jpg, which is neither at/,
    );
    dir = makeFixture();
    writeFileSync(join(dir, 'images', 'n10100000000.jpg'), 'not an image');
    await expect(loadMiniImageNet(opts(dir))).rejects.toThrow(/n10100000000\.jpg: neither a PNG nor a JPEG/);
    rmSync(join(dir, 'train.csv'));
    await expect(loadMiniImageNet(opts(dir))).rejects.toThrow(/train\.csv is missing/);
  });
});
