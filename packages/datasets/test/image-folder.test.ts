import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { unzipSync } from 'fflate';
import { encode as encodeJpeg } from 'jpeg-js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  defaultSharedDir,
  imageFolderBatch,
  listImages,
  loadOmniglot,
  type Omniglot,
  omniglotPreprocessing,
  readImageExample,
  readImageFolder,
  splitOmniglot,
} from '../src/index.ts';

// The user's own images become model inputs exactly as the training images did.

function pngGray(width: number, height: number, value: (x: number, y: number) => number): Uint8Array {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = value(x, y);
  return encodePng({ width, height, data, channels: 1, depth: 8 });
}

function pngRgba(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) data.set([200, 30, 30, p % 2 === 0 ? 255 : 0], p * 4);
  return encodePng({ width, height, data, channels: 4, depth: 8 });
}

function jpegRgb(width: number, height: number): Uint8Array {
  const data = Buffer.alloc(width * height * 4);
  for (let p = 0; p < width * height; p++) data.set([10, 10, 10, 255], p * 4);
  return encodeJpeg({ width, height, data }, 95).data;
}

describe('image files as model inputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'image-folder-'));

  it('brings PNG (gray, RGBA) and JPEG (RGB) images of odd sizes to 28×28 ink coverage, either polarity', () => {
    const blackDot = join(dir, 'dot.png');
    // 37×53, white paper with a black 9×9 square in the middle
    writeFileSync(
      blackDot,
      pngGray(37, 53, (x, y) => (Math.abs(x - 18) < 5 && Math.abs(y - 26) < 5 ? 0 : 255)),
    );
    const ink = readImageExample(blackDot, omniglotPreprocessing('area', 1));
    expect(ink).toHaveLength(28 * 28);
    expect(ink[0]).toBe(0); // paper
    expect(ink[14 * 28 + 14]).toBe(1); // ink
    const paper = readImageExample(blackDot, omniglotPreprocessing('area', 0));
    ink.forEach((v, i) => {
      expect(paper[i]).toBeCloseTo(1 - v, 6);
    });
    // nearest keeps pixels binary
    const nearest = readImageExample(blackDot, omniglotPreprocessing('nearest', 0));
    expect(new Set(nearest)).toEqual(new Set([0, 1]));

    const dark = join(dir, 'dark.jpg');
    writeFileSync(dark, jpegRgb(30, 20));
    const jpeg = readImageExample(dark, omniglotPreprocessing('area', 1));
    expect(Math.min(...jpeg)).toBeGreaterThan(0.9); // near-black everywhere: nearly full ink coverage

    const rgba = join(dir, 'half.png');
    writeFileSync(rgba, pngRgba(28, 28));
    const composited = readImageExample(rgba, omniglotPreprocessing('area', 1));
    expect(composited[1]).toBe(0); // transparent pixels are paper
    expect(composited[0]).toBeGreaterThan(0.3); // a red pixel is gray ink
  });

  it('reads class folders in name order and lists loose images; errors name the folder or file', () => {
    const root = join(dir, 'support');
    for (const name of ['b-class', 'a-class']) {
      mkdirSync(join(root, name), { recursive: true });
      writeFileSync(
        join(root, name, '2.png'),
        pngGray(10, 10, () => 255),
      );
      writeFileSync(
        join(root, name, '1.png'),
        pngGray(10, 10, () => 0),
      );
      writeFileSync(join(root, name, 'notes.txt'), 'not an image');
    }
    const folder = readImageFolder(root);
    expect(folder.classes.map((c) => c.name)).toEqual(['a-class', 'b-class']);
    expect(folder.classes[0]!.files.map((f) => f.split('/').pop())).toEqual(['1.png', '2.png']);
    const batch = imageFolderBatch(folder, omniglotPreprocessing());
    expect(batch.size).toBe(4);
    expect([...batch.y]).toEqual([0, 0, 1, 1]);
    expect(batch.inputShape).toEqual([28, 28, 1]);
    expect(
      listImages([join(root, 'b-class'), join(root, 'a-class', '1.png')]).map((f) =>
        f.split('/').slice(-2).join('/'),
      ),
    ).toEqual(['b-class/1.png', 'b-class/2.png', 'a-class/1.png']);

    mkdirSync(join(dir, 'empty', 'only'), { recursive: true });
    expect(() => readImageFolder(join(dir, 'empty'))).toThrow(/empty\/only: class folder without images/);
    expect(() => readImageFolder(join(dir, 'nowhere'))).toThrow(/nowhere: no such folder/);
    const broken = join(dir, 'broken', 'x');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'bad.png'), 'this is not a png');
    expect(() => imageFolderBatch(readImageFolder(join(dir, 'broken')), omniglotPreprocessing())).toThrow(
      /broken\/x\/bad\.png: neither a PNG nor a JPEG/,
    );
    expect(() => listImages([join(root, 'a-class', 'notes.txt')])).toThrow(/notes\.txt: not an image file/);
  });
});

// The official archives: $OMNIGLOT_DIR (what .ci/run sets for a clone), else the copy beside the checkout.
const shared = process.env.OMNIGLOT_DIR ?? defaultSharedDir();
const haveArchives = shared !== undefined && existsSync(join(shared, 'images_evaluation.zip'));
if (!haveArchives)
  console.warn(
    `SKIPPED: real Omniglot images copied into a folder: no images_evaluation.zip in ${shared ?? '../shared/data/omniglot'} (set OMNIGLOT_DIR)`,
  );

describe.skipIf(!haveArchives)('real Omniglot images copied into a folder', () => {
  let data: Omniglot;
  let pngs: Record<string, Uint8Array>;
  beforeAll(async () => {
    data = await loadOmniglot({ download: false, progress: false });
    const zip = readFileSync(join(shared as string, 'images_evaluation.zip'));
    pngs = unzipSync(zip, {
      filter: (f) => f.name.includes('/Angelic/character01/') && f.name.endsWith('.png'),
    });
  });

  for (const [resizeFilter, ink] of [
    ['area', 1],
    ['nearest', 0],
  ] as const)
    it(`give bit for bit the loader's pixels (${resizeFilter}, ink ${ink})`, async () => {
      const source =
        resizeFilter === 'area'
          ? data
          : await loadOmniglot({ download: false, progress: false, filter: 'nearest' });
      const character = source.characters.find(
        (c) => c.alphabet === 'Angelic' && c.character === 'character01',
      )!;
      const names = Object.keys(pngs).sort();
      expect(names).toHaveLength(character.count);
      const dir = mkdtempSync(join(tmpdir(), 'omniglot-folder-'));
      // The split's class sets apply the polarity; the official split keeps every evaluation character as a test class.
      const { test } = splitOmniglot(source, { seed: 0, split: 'official', augment: false, ink });
      const c = source.characters.filter((x) => x.set === 'evaluation').indexOf(character);
      names.forEach((name, i) => {
        const file = join(dir, name.split('/').pop()!);
        writeFileSync(file, pngs[name]!);
        const mine = readImageExample(file, omniglotPreprocessing(resizeFilter, ink));
        expect(Buffer.from(mine.buffer).equals(Buffer.from(test.image(c, i).buffer))).toBe(true);
      });
    });
});
