import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hashValue } from '@reptile-bench/core';
import { Presets, SingleBar } from 'cli-progress';
import { parse } from 'csv-parse/sync';
import { dataChecksum } from './checksum.ts';
import { defaultCacheDir, sha256Hex } from './files.ts';
import { decodeImage, type ResizeFilter, resize, toRgb } from './image.ts';
import { type PixelCacheHeader, readPixelCache, writePixelCache } from './pixel-cache.ts';
import type { ClassSet } from './types.ts';

export const MINI_IMAGENET_SPLITS = ['train', 'val', 'test'] as const;
export type MiniImageNetSplit = (typeof MINI_IMAGENET_SPLITS)[number];

export interface MiniImageNetClass {
  /** The class label as written in the CSV (an ImageNet synset id such as n01532829). */
  label: string;
  split: MiniImageNetSplit;
  /** Index of the class's first image in the loaded pixel array. */
  start: number;
  count: number;
}

export interface MiniImageNetClassSet extends ClassSet {
  describe(c: number): MiniImageNetClass;
}

export interface LoadMiniImageNetOptions {
  /** Folder with train.csv, val.csv, test.csv (Ravi & Larochelle's split: `filename,label` rows). */
  dir: string;
  /** Folder with the image files (default `<dir>/images`); `<images>/<file>` or `<images>/<label>/<file>`. */
  imagesDir?: string;
  /** Side of the square images (default 84, the usual mini-ImageNet size). */
  imageSize?: number;
  /** Resize filter (default 'area'). */
  filter?: ResizeFilter;
  /** Where decoded pixels are cached (default as for Omniglot); false decodes every time. */
  cacheDir?: string | false;
  /** Progress bar on stderr while decoding (default: when stderr is a terminal). */
  progress?: boolean;
}

export interface MiniImageNet {
  train: MiniImageNetClassSet;
  val: MiniImageNetClassSet;
  test: MiniImageNetClassSet;
  /** Identifies the decoded content and settings, for run records. */
  checksum: string;
  contentSha256: string;
  imageSize: [number, number];
  fromCache: boolean;
  cacheFile?: string;
}

const CACHE_MAGIC = 'RBMINIM1';
const CACHE_FORMAT = 1;

interface CacheHeader extends PixelCacheHeader {
  format: number;
  fingerprint: string;
  imageSize: [number, number];
  classes: MiniImageNetClass[];
}

interface Row {
  file: string;
  label: string;
  where: string;
}

function readSplitCsv(dir: string, split: MiniImageNetSplit): { rows: Row[]; sha256: string } {
  const path = join(dir, `${split}.csv`);
  if (!existsSync(path))
    throw new Error(
      `mini-ImageNet: ${path} is missing; dir must hold train.csv, val.csv and test.csv (Ravi & Larochelle's split)`,
    );
  const bytes = readFileSync(path);
  let records: string[][];
  try {
    records = parse(bytes, { skip_empty_lines: true, trim: true, relax_column_count: true });
  } catch (error) {
    throw new Error(
      `mini-ImageNet: ${path} is not valid CSV (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const [head, ...body] = records;
  if (head?.[0] !== 'filename' || head[1] !== 'label' || head.length !== 2)
    throw new Error(
      `mini-ImageNet: ${path} line 1 must be the header "filename,label", got "${head?.join(',') ?? ''}"`,
    );
  const rows = body.map((record, i) => {
    const [file, label] = record;
    if (record.length !== 2 || !file || !label)
      throw new Error(
        `mini-ImageNet: ${path} line ${i + 2} must be "filename,label", got "${record.join(',')}"`,
      );
    return { file, label, where: `${path} line ${i + 2}` };
  });
  if (rows.length === 0) throw new Error(`mini-ImageNet: ${path} lists no images`);
  return { rows, sha256: sha256Hex(bytes) };
}

function imagePath(imagesDir: string, row: Row): string {
  const flat = join(imagesDir, row.file);
  if (existsSync(flat)) return flat;
  const nested = join(imagesDir, row.label, row.file);
  if (existsSync(nested)) return nested;
  throw new Error(
    `mini-ImageNet: ${row.where} names ${row.file}, which is neither at ${flat} nor at ${nested}`,
  );
}

function classSet(pixels: Uint8Array, classes: MiniImageNetClass[], size: number): MiniImageNetClassSet {
  const length = size * size * 3;
  const lookup = (c: number, i: number) => {
    const cls = classes[c];
    if (cls === undefined) throw new RangeError(`mini-ImageNet: no class ${c} (there are ${classes.length})`);
    if (!Number.isInteger(i) || i < 0 || i >= cls.count)
      throw new RangeError(`mini-ImageNet: class ${c} has ${cls.count} images, no image ${i}`);
    return cls;
  };
  const set: MiniImageNetClassSet = {
    numClasses: classes.length,
    imageShape: [size, size, 3],
    count: (c) => lookup(c, 0).count,
    writeImage(c, i, out, offset) {
      const from = (lookup(c, i).start + i) * length;
      for (let k = 0; k < length; k++) out[offset + k] = (pixels[from + k] as number) / 255;
    },
    image(c, i) {
      const out = new Float32Array(length);
      set.writeImage?.(c, i, out, 0);
      return out;
    },
    describe: (c) => lookup(c, 0),
  };
  return set;
}

/**
 * mini-ImageNet from Ravi & Larochelle's split files and an image folder, decoded (JPEG or PNG), resized to
 * `imageSize` square RGB, and cached like Omniglot. Classes are ordered by label within each split, images in CSV
 * order. The data cannot be downloaded here: users bring their own copy.
 */
export async function loadMiniImageNet(o: LoadMiniImageNetOptions): Promise<MiniImageNet> {
  const dir = resolve(o.dir);
  const imagesDir = resolve(o.imagesDir ?? join(dir, 'images'));
  const size = o.imageSize ?? 84;
  const filter = o.filter ?? 'area';
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`mini-ImageNet: imageSize must be a positive integer, got ${size}`);
  const splits = MINI_IMAGENET_SPLITS.map((split) => ({ split, ...readSplitCsv(dir, split) }));

  // Group rows by label, classes sorted by label; a label in two splits is a broken split file.
  const classes: MiniImageNetClass[] = [];
  const files: string[] = [];
  const seen = new Map<string, MiniImageNetSplit>();
  for (const { split, rows } of splits) {
    const byLabel = new Map<string, Row[]>();
    for (const row of rows) {
      const other = seen.get(row.label);
      if (other !== undefined && other !== split)
        throw new Error(
          `mini-ImageNet: ${row.where}: label ${row.label} is also in ${other}.csv; splits must not share classes`,
        );
      seen.set(row.label, split);
      byLabel.set(row.label, [...(byLabel.get(row.label) ?? []), row]);
    }
    for (const label of [...byLabel.keys()].sort()) {
      const rowsOfLabel = byLabel.get(label) as Row[];
      classes.push({ label, split, start: files.length, count: rowsOfLabel.length });
      for (const row of rowsOfLabel) files.push(imagePath(imagesDir, row));
    }
  }

  // Key the cache by the split files and every image's name, size and modification time (hashing gigabytes of
  // JPEGs on every start would cost more than it protects against).
  const fingerprint = hashValue({
    format: CACHE_FORMAT,
    csv: Object.fromEntries(splits.map((s) => [s.split, s.sha256])),
    images: files.map((f) => {
      const st = statSync(f);
      return [f.slice(imagesDir.length), st.size, Math.round(st.mtimeMs)];
    }),
    size,
    filter,
  });
  const cacheRoot = o.cacheDir === false ? undefined : resolve(o.cacheDir ?? defaultCacheDir());
  const cacheFile =
    cacheRoot &&
    join(cacheRoot, 'mini-imagenet', `decoded-${size}px-${filter}-${fingerprint.slice(0, 16)}.bin`);
  const length = size * size * 3;

  let pixels: Uint8Array | undefined;
  let pixelsSha256 = '';
  const cached = cacheFile ? await readPixelCache<CacheHeader>(cacheFile, CACHE_MAGIC) : undefined;
  if (cached && cached.header.fingerprint === fingerprint && cached.pixels.length === files.length * length) {
    pixels = cached.pixels;
    pixelsSha256 = cached.header.pixelsSha256;
  }
  const fromCache = pixels !== undefined;
  if (!pixels) {
    const decoded = new Uint8Array(files.length * length);
    const bar =
      (o.progress ?? process.stderr.isTTY)
        ? new SingleBar(
            { format: 'decoding mini-ImageNet [{bar}] {value}/{total} images', stream: process.stderr },
            Presets.shades_classic,
          )
        : undefined;
    bar?.start(files.length, 0);
    try {
      files.forEach((file, n) => {
        const small = resize(
          toRgb(decodeImage(readFileSync(file), `mini-ImageNet: ${file}`)),
          size,
          size,
          filter,
        ).data;
        for (let k = 0; k < length; k++) decoded[n * length + k] = Math.round((small[k] as number) * 255);
        if (n % 500 === 0) bar?.update(n);
      });
      bar?.update(files.length);
    } finally {
      bar?.stop();
    }
    pixels = decoded;
    const header = { format: CACHE_FORMAT, fingerprint, imageSize: [size, size], classes };
    pixelsSha256 = cacheFile
      ? (await writePixelCache(cacheFile, CACHE_MAGIC, header, decoded)).pixelsSha256
      : sha256Hex(decoded);
  }
  const contentSha256 = hashValue({ classes: classes.map((c) => [c.split, c.label, c.count]), pixelsSha256 });
  const bySplit = (split: MiniImageNetSplit) =>
    classSet(
      pixels,
      classes.filter((c) => c.split === split),
      size,
    );
  return {
    train: bySplit('train'),
    val: bySplit('val'),
    test: bySplit('test'),
    checksum: dataChecksum(
      { miniImageNet: contentSha256 },
      { dataset: 'mini-imagenet', imageSize: [size, size], filter },
    ),
    contentSha256,
    imageSize: [size, size],
    fromCache,
    ...(cacheFile ? { cacheFile } : {}),
  };
}
