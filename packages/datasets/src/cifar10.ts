import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type ParsedTarFileItem, parseTar } from 'nanotar';
import { downloadVerified, type ExpectedFile } from './download.ts';
import { defaultCacheDir, sha256Hex } from './files.ts';
import { checkLabelledImages, type LabelledImages } from './labelled.ts';

export const CIFAR10_ARCHIVE = 'cifar-10-binary.tar.gz';
/** The official location (Krizhevsky's CIFAR page, "CIFAR-10 binary version (suitable for C programs)"). */
export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
/** The release: 170,052,171 bytes; the page publishes md5 c32a1d4ab5d03f1284b67883e8d87530. */
export const CIFAR10_RELEASE: ExpectedFile = {
  label: 'official release',
  size: 170052171,
  sha256: 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd',
};
export const CIFAR10_TRAIN_BATCHES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR10_TEST_BATCH = 'test_batch.bin';
export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

/** One record: a label byte, then 1024 red, 1024 green and 1024 blue bytes (32 × 32, row-major). */
const RECORD = 1 + 3 * 1024;

export type Cifar10Source = 'option' | 'env' | 'cache' | 'download';

export interface Cifar10 {
  /** 50,000 training images (32 × 32 × 3, HWC) from data_batch_1..5, in order. */
  train: LabelledImages;
  /** 10,000 test images from test_batch. */
  test: LabelledImages;
  source: Cifar10Source;
  /** The archive or folder read. */
  path: string;
  /** sha256 of each batch file's bytes (the content, whether it came in the archive or unpacked). */
  sha256: Record<string, string>;
}

export interface LoadCifar10Options {
  /**
   * A folder holding cifar-10-binary.tar.gz, or the unpacked cifar-10-batches-bin/ folder, or the six .bin files
   * themselves; overrides every other source. Also $CIFAR10_DIR.
   */
  dir?: string;
  /** Where the downloaded archive is kept (default $REPTILE_BENCH_CACHE or `<repo>/.cache/datasets`), in `cifar10/`. */
  cacheDir?: string;
  /** Where to download from (default $CIFAR10_URL or the official location). */
  url?: string;
  download?: boolean;
  progress?: boolean;
  /** What a downloaded archive must be (default CIFAR10_RELEASE). */
  expected?: ExpectedFile[];
  /** Records per batch file (default 10,000; small fixtures use fewer). */
  recordsPerBatch?: number;
}

const batchNames = [...CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH];

/** Where the batches are in `dir`: an archive, an unpacked folder, or the files themselves. */
function inDir(dir: string): string | undefined {
  if (existsSync(join(dir, CIFAR10_ARCHIVE))) return join(dir, CIFAR10_ARCHIVE);
  for (const folder of [join(dir, 'cifar-10-batches-bin'), dir])
    if (batchNames.every((name) => existsSync(join(folder, name)))) return folder;
  return undefined;
}

async function locate(o: LoadCifar10Options): Promise<{ path: string; source: Cifar10Source }> {
  for (const [value, source, how] of [
    [o.dir, 'option', 'the dir option'],
    [process.env.CIFAR10_DIR, 'env', '$CIFAR10_DIR'],
  ] as const) {
    if (!value) continue;
    const dir = resolve(value);
    const path = inDir(dir);
    if (path === undefined)
      throw new Error(
        `CIFAR-10: ${how} points at ${dir}, which holds neither ${CIFAR10_ARCHIVE} nor the unpacked ` +
          `cifar-10-batches-bin/ (${batchNames.join(', ')}); point it at the folder that does`,
      );
    return { path, source };
  }
  const cached = join(resolve(o.cacheDir ?? defaultCacheDir()), 'cifar10');
  if (existsSync(join(cached, CIFAR10_ARCHIVE)))
    return { path: join(cached, CIFAR10_ARCHIVE), source: 'cache' };
  if (o.download === false)
    throw new Error(
      `CIFAR-10: no copy found (looked in ${cached}) and downloading is off; set CIFAR10_DIR to a folder with ` +
        `${CIFAR10_ARCHIVE} (or the unpacked batches), or allow the download`,
    );
  const dest = join(cached, CIFAR10_ARCHIVE);
  await downloadVerified(
    o.url ?? process.env.CIFAR10_URL ?? CIFAR10_URL,
    dest,
    o.expected ?? [CIFAR10_RELEASE],
    {
      progress: o.progress ?? process.stderr.isTTY === true,
    },
  );
  return { path: dest, source: 'download' };
}

/** The six batch files' bytes, from the archive or the folder. */
async function readBatches(path: string): Promise<Map<string, { bytes: Uint8Array; where: string }>> {
  const out = new Map<string, { bytes: Uint8Array; where: string }>();
  if (!path.endsWith('.tar.gz')) {
    for (const name of batchNames)
      out.set(name, { bytes: new Uint8Array(await readFile(join(path, name))), where: join(path, name) });
    return out;
  }
  let tar: Uint8Array;
  try {
    tar = gunzipSync(await readFile(path));
  } catch (error) {
    throw new Error(
      `${path}: not a readable gzip archive (${error instanceof Error ? error.message : String(error)}); ` +
        'it may be truncated or damaged: delete it and fetch it again',
    );
  }
  let entries: ParsedTarFileItem[];
  try {
    entries = parseTar(tar) as ParsedTarFileItem[];
  } catch (error) {
    throw new Error(
      `${path}: not a readable tar archive (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  for (const entry of entries) {
    const name = entry.name.replace(/^cifar-10-batches-bin\//, '');
    if (batchNames.includes(name) && entry.data)
      out.set(name, { bytes: entry.data, where: `${path}:${entry.name}` });
  }
  const missing = batchNames.filter((name) => !out.has(name));
  if (missing.length > 0)
    throw new Error(
      `${path}: lacks cifar-10-batches-bin/${missing.join(', ')}; is this the binary version of CIFAR-10 (${CIFAR10_ARCHIVE})?`,
    );
  return out;
}

/** Decodes one batch file into HWC pixels and labels, checking its size and labels. */
export function decodeCifarBatch(bytes: Uint8Array, where: string, records: number): LabelledImages {
  if (bytes.length !== records * RECORD) {
    const whole = Math.floor(bytes.length / RECORD);
    throw new Error(
      `${where}: ${bytes.length} bytes, expected ${records} records of ${RECORD} bytes (${records * RECORD}); ` +
        (bytes.length < records * RECORD
          ? `the file is truncated (${whole} whole records)`
          : 'the file is longer than a CIFAR-10 batch') +
        '; fetch it again',
    );
  }
  const pixels = new Uint8Array(records * 3072);
  const labels = new Uint8Array(records);
  for (let r = 0; r < records; r++) {
    const base = r * RECORD;
    const label = bytes[base] as number;
    if (label > 9)
      throw new Error(
        `${where}: record ${r} has label ${label}; CIFAR-10 labels are 0..9 (is this CIFAR-100?)`,
      );
    labels[r] = label;
    // Planes R, G, B of 1024 bytes each → interleaved HWC.
    for (let p = 0; p < 1024; p++) {
      const o = (r * 1024 + p) * 3;
      pixels[o] = bytes[base + 1 + p] as number;
      pixels[o + 1] = bytes[base + 1 + 1024 + p] as number;
      pixels[o + 2] = bytes[base + 1 + 2048 + p] as number;
    }
  }
  return { count: records, imageShape: [32, 32, 3], numClasses: 10, pixels, labels };
}

function concat(parts: LabelledImages[]): LabelledImages {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const pixels = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * 3072);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { count, imageShape: [32, 32, 3], numClasses: 10, pixels, labels };
}

/**
 * Loads CIFAR-10 (Krizhevsky 2009) from the official binary version: `dir` / $CIFAR10_DIR (archive, unpacked folder
 * or the batch files), the archive downloaded before into the cache, or a download verified by size and sha256
 * before it appears in the cache. Each batch must hold exactly `recordsPerBatch` records with labels 0..9.
 */
export async function loadCifar10(o: LoadCifar10Options = {}): Promise<Cifar10> {
  const records = o.recordsPerBatch ?? 10000;
  const { path, source } = await locate(o);
  const batches = await readBatches(path);
  const sha256: Record<string, string> = {};
  const decoded = new Map<string, LabelledImages>();
  for (const name of batchNames) {
    const { bytes, where } = batches.get(name) as { bytes: Uint8Array; where: string };
    sha256[name] = sha256Hex(bytes);
    decoded.set(name, decodeCifarBatch(bytes, where, records));
  }
  const train = checkLabelledImages(
    concat(CIFAR10_TRAIN_BATCHES.map((n) => decoded.get(n) as LabelledImages)),
    `${path} (training batches)`,
  );
  return { train, test: decoded.get(CIFAR10_TEST_BATCH) as LabelledImages, source, path, sha256 };
}
