import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createRng } from '@reptile-bench/core';
import { createTar } from 'nanotar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeCifarBatch,
  FASHION_MNIST_FILES,
  type FashionMnistFile,
  imageBatch,
  type LabelledImages,
  loadCifar10,
  loadFashionMnist,
  parseIdx,
  shuffledBatches,
  splitValidation,
} from '../src/index.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** An IDX file of unsigned bytes with the given dimensions; data[i] = f(i). */
function idx(dims: number[], f: (i: number) => number, magicRank = dims.length): Uint8Array {
  const size = dims.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(4 + 4 * dims.length + size);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x800 + magicRank);
  dims.forEach((d, i) => {
    view.setUint32(4 + 4 * i, d);
  });
  for (let i = 0; i < size; i++) out[4 + 4 * dims.length + i] = f(i) & 0xff;
  return out;
}

/** A miniature Fashion-MNIST: `train` and `test` images of 28×28 whose pixels encode (image, position). */
function fashionFiles(train = 30, test = 10, labelsTrain = train): Record<FashionMnistFile, Uint8Array> {
  return {
    'train-images-idx3-ubyte': idx([train, 28, 28], (i) => (i * 7 + (i >> 9)) % 251),
    'train-labels-idx1-ubyte': idx([labelsTrain], (i) => i % 10),
    't10k-images-idx3-ubyte': idx([test, 28, 28], (i) => (i * 3) % 256),
    't10k-labels-idx1-ubyte': idx([test], (i) => (i * 3) % 10),
  };
}

function expectedOf(files: Record<FashionMnistFile, Uint8Array>, gz?: Record<FashionMnistFile, Uint8Array>) {
  return Object.fromEntries(
    FASHION_MNIST_FILES.map((name) => [
      name,
      {
        content: { size: files[name].length, sha256: sha(files[name]) },
        gz: gz ? { size: gz[name].length, sha256: sha(gz[name]) } : { size: 0, sha256: '' },
      },
    ]),
  ) as Record<
    FashionMnistFile,
    { gz: { size: number; sha256: string }; content: { size: number; sha256: string } }
  >;
}

const scratch = mkdtempSync(join(tmpdir(), 'classification-data-'));
let counter = 0;
const freshDir = () => {
  const dir = join(scratch, `d${counter++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};
function writeFiles(dir: string, files: Record<string, Uint8Array>, gzip: boolean) {
  for (const [name, bytes] of Object.entries(files))
    writeFileSync(join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(bytes) : bytes);
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('IDX files', () => {
  it('parses dimensions and data, gzipped or not, to the same bytes', () => {
    const raw = idx([3, 2, 4], (i) => i * 10);
    for (const bytes of [raw, gzipSync(raw)]) {
      const parsed = parseIdx(bytes, 'f', 3);
      expect(parsed.dims).toEqual([3, 2, 4]);
      expect(Array.from(parsed.data)).toEqual(Array.from({ length: 24 }, (_, i) => (i * 10) & 0xff));
    }
  });

  it('names the file and what is wrong: magic number, truncation, trailing bytes, damaged gzip', () => {
    const raw = idx([3, 2, 4], (i) => i);
    expect(() =>
      parseIdx(
        idx([5], (i) => i),
        'labels.idx',
        3,
      ),
    ).toThrow(
      /labels\.idx: wrong magic number 0x00000801; IDX images of unsigned bytes start with 0x00000803/,
    );
    expect(() => parseIdx(raw.subarray(0, 2), 'a', 3)).toThrow(/a: truncated: 2 bytes/);
    expect(() => parseIdx(raw.subarray(0, 10), 'b', 3)).toThrow(
      /b: truncated: 10 bytes, the header alone needs 16/,
    );
    expect(() => parseIdx(raw.subarray(0, raw.length - 5), 'c', 3)).toThrow(
      /c: truncated: the header announces 3 × 2 × 4 = 24 bytes of data, the file holds 19/,
    );
    expect(() => parseIdx(new Uint8Array([...raw, 1, 2]), 'd', 3)).toThrow(
      /d: 2 bytes after the 3 × 2 × 4 array/,
    );
    const gz = gzipSync(raw);
    expect(() => parseIdx(gz.subarray(0, gz.length - 8), 'e.gz', 3)).toThrow(
      /e\.gz: not a readable gzip file/,
    );
  });
});

describe('Fashion-MNIST', () => {
  it('loads a folder of gzipped or plain files to the same sets, with the labels and pixels in order', async () => {
    const files = fashionFiles();
    const expected = expectedOf(files);
    const loaded = [];
    for (const gzip of [true, false]) {
      const dir = freshDir();
      writeFiles(dir, files, gzip);
      loaded.push(await loadFashionMnist({ dir, expected, download: false }));
    }
    const [a, b] = loaded as [
      Awaited<ReturnType<typeof loadFashionMnist>>,
      Awaited<ReturnType<typeof loadFashionMnist>>,
    ];
    expect(a.source).toBe('option');
    expect(a.train.count).toBe(30);
    expect(a.test.count).toBe(10);
    expect(a.train.imageShape).toEqual([28, 28, 1]);
    expect(Array.from(a.train.labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    expect(a.train.pixels[784 * 2 + 5]).toBe(((784 * 2 + 5) * 7 + ((784 * 2 + 5) >> 9)) % 251);
    expect(Buffer.compare(Buffer.from(a.train.pixels), Buffer.from(b.train.pixels))).toBe(0);
    expect(a.sha256).toEqual(b.sha256);
    expect(a.sha256['t10k-labels-idx1-ubyte']).toBe(sha(files['t10k-labels-idx1-ubyte']));
  });

  it('refuses a copy that is not the release, and files that do not belong together', async () => {
    const dir = freshDir();
    writeFiles(dir, fashionFiles(), true);
    await expect(loadFashionMnist({ dir, download: false })).rejects.toThrow(
      /train-images-idx3-ubyte\.gz: its IDX content \(23536 bytes, sha256 [0-9a-f]{64}\) is not the Fashion-MNIST release \(47040016 bytes/,
    );
    const mismatched = fashionFiles(30, 10, 29);
    const dir2 = freshDir();
    writeFiles(dir2, mismatched, false);
    await expect(loadFashionMnist({ dir: dir2, expected: expectedOf(mismatched) })).rejects.toThrow(
      /train-labels-idx1-ubyte holds 29 labels but .*train-images-idx3-ubyte holds 30 images; the files do not belong together/,
    );
    const badLabel = { ...fashionFiles(), 't10k-labels-idx1-ubyte': idx([10], (i) => (i === 4 ? 10 : 0)) };
    const dir3 = freshDir();
    writeFiles(dir3, badLabel, false);
    await expect(loadFashionMnist({ dir: dir3, expected: expectedOf(badLabel) })).rejects.toThrow(
      /label 10 of image 4 is not a class in \[0, 10\)/,
    );
    const empty = freshDir();
    await expect(loadFashionMnist({ dir: empty })).rejects.toThrow(
      /the dir option points at .*, which lacks train-images-idx3-ubyte\(\.gz\), train-labels-idx1-ubyte\(\.gz\)/,
    );
  });

  it('the official files (Debian package dataset-fashion-mnist): 60,000 + 10,000 images, 6,000 / 1,000 per class', async () => {
    const dir = '/usr/share/datasets/fashion-mnist';
    if (!existsSync(join(dir, 'train-images-idx3-ubyte.gz')) && !process.env.FASHION_MNIST_DIR)
      throw new Error(
        `Fashion-MNIST is not installed in ${dir}: run \`bash .ci/setup.d/fashion-mnist.sh\` ` +
          '(apt-get install -y dataset-fashion-mnist) or set FASHION_MNIST_DIR',
      );
    const data = await loadFashionMnist({ download: false, cacheDir: freshDir() });
    expect(data.train.count).toBe(60000);
    expect(data.test.count).toBe(10000);
    for (const [set, per] of [
      [data.train, 6000],
      [data.test, 1000],
    ] as const) {
      const counts = new Array(10).fill(0);
      for (const label of set.labels) counts[label]++;
      expect(counts).toEqual(new Array(10).fill(per));
    }
    // The first training image is an ankle boot (class 9), as in the dataset's README.
    expect(data.train.labels[0]).toBe(9);
  });
});

describe('downloads against a local server', () => {
  const files = fashionFiles();
  const gz = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, gzipSync(v)])) as unknown as Record<
    FashionMnistFile,
    Uint8Array
  >;
  const expected = expectedOf(files, gz);
  const cifar = cifarArchive(4);
  let server: Server;
  let base: string;
  const requests: string[] = [];
  beforeAll(async () => {
    delete process.env.FASHION_MNIST_DIR;
    delete process.env.CIFAR10_DIR;
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const [, mode, name = ''] = (req.url ?? '').split('/');
      const body =
        name === 'cifar-10-binary.tar.gz' ? cifar : gz[name.replace(/\.gz$/, '') as FashionMnistFile];
      if (!body) return res.writeHead(404).end();
      if (mode === 'ok') return res.writeHead(200, { 'content-length': body.length }).end(body);
      if (mode === 'corrupt') {
        const bad = Uint8Array.from(body);
        bad[bad.length >> 1]! ^= 0xff;
        return res.writeHead(200, { 'content-length': bad.length }).end(bad);
      }
      return res.writeHead(500).end();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((done) => server.close(done)));

  it('Fashion-MNIST: downloads and verifies the four files, then reads them from the cache', async () => {
    const cacheDir = freshDir();
    requests.length = 0;
    const data = await loadFashionMnist({
      cacheDir,
      systemDir: false,
      baseUrl: `${base}/ok/`,
      expected,
      progress: false,
    });
    expect(data.source).toBe('download');
    expect(requests.sort()).toEqual(FASHION_MNIST_FILES.map((f) => `/ok/${f}.gz`).sort());
    expect(readdirSync(join(cacheDir, 'fashion-mnist')).sort()).toEqual(
      FASHION_MNIST_FILES.map((f) => `${f}.gz`).sort(),
    );
    const again = await loadFashionMnist({ cacheDir, systemDir: false, baseUrl: `${base}/fail`, expected });
    expect(again.source).toBe('cache');
    expect(again.sha256).toEqual(data.sha256);
    expect(requests).toHaveLength(4);
  });

  it('Fashion-MNIST: a corrupt download fails its checksum and leaves nothing behind', async () => {
    const cacheDir = freshDir();
    await expect(
      loadFashionMnist({ cacheDir, systemDir: false, baseUrl: `${base}/corrupt`, expected, progress: false }),
    ).rejects.toThrow(/has the wrong checksum: sha256 [0-9a-f]{64}, expected \d+ bytes, sha256/);
    const dir = join(cacheDir, 'fashion-mnist');
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  });

  it('CIFAR-10: downloads the archive, verifies it, reuses it; a corrupt one is refused and not kept', async () => {
    const cacheDir = freshDir();
    const accepted = [{ size: cifar.length, sha256: sha(cifar) }];
    const data = await loadCifar10({
      cacheDir,
      url: `${base}/ok/cifar-10-binary.tar.gz`,
      expected: accepted,
      recordsPerBatch: 4,
      progress: false,
    });
    expect(data.source).toBe('download');
    expect(data.train.count).toBe(20);
    const again = await loadCifar10({ cacheDir, download: false, recordsPerBatch: 4 });
    expect(again.source).toBe('cache');
    expect(again.sha256).toEqual(data.sha256);
    const other = freshDir();
    await expect(
      loadCifar10({
        cacheDir: other,
        url: `${base}/corrupt/cifar-10-binary.tar.gz`,
        expected: accepted,
        recordsPerBatch: 4,
      }),
    ).rejects.toThrow(/has the wrong checksum/);
    expect(readdirSync(join(other, 'cifar10'))).toEqual([]);
  });
});

/** One CIFAR-10 batch of `n` records: record r has label (r + b) mod 10 and channel planes r, 2r, 3r + position. */
function cifarBatch(n: number, b: number, label = (r: number) => (r + b) % 10): Uint8Array {
  const out = new Uint8Array(n * 3073);
  for (let r = 0; r < n; r++) {
    out[r * 3073] = label(r);
    for (let c = 0; c < 3; c++)
      for (let p = 0; p < 1024; p++) out[r * 3073 + 1 + c * 1024 + p] = ((c + 1) * (r + b) + p) & 0xff;
  }
  return out;
}

function cifarArchive(n: number, overrides: Record<string, Uint8Array | undefined> = {}): Uint8Array {
  const names = [
    'data_batch_1.bin',
    'data_batch_2.bin',
    'data_batch_3.bin',
    'data_batch_4.bin',
    'data_batch_5.bin',
    'test_batch.bin',
  ];
  const entries = names.flatMap((name, b) => {
    const data = name in overrides ? overrides[name] : cifarBatch(n, b);
    return data ? [{ name: `cifar-10-batches-bin/${name}`, data }] : [];
  });
  entries.push({
    name: 'cifar-10-batches-bin/batches.meta.txt',
    data: new TextEncoder().encode('airplane\n'),
  });
  return gzipSync(createTar(entries, { attrs: { mtime: 0 } }));
}

describe('CIFAR-10 (binary version)', () => {
  it('decodes records into HWC pixels with their labels, from the archive or the unpacked batches alike', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'cifar-10-binary.tar.gz'), cifarArchive(3));
    const data = await loadCifar10({ dir, recordsPerBatch: 3 });
    expect(data.train.count).toBe(15);
    expect(data.test.count).toBe(3);
    expect(data.train.imageShape).toEqual([32, 32, 3]);
    // Training record 4 is record 1 of data_batch_2 (b = 1): label 2, pixel p of channel c = (c + 1)·2 + p.
    expect(data.train.labels[4]).toBe(2);
    const pixel = (i: number, p: number, c: number) => data.train.pixels[(i * 1024 + p) * 3 + c];
    expect([pixel(4, 37, 0), pixel(4, 37, 1), pixel(4, 37, 2)]).toEqual([2 + 37, 4 + 37, 6 + 37]);
    const unpacked = freshDir();
    mkdirSync(join(unpacked, 'cifar-10-batches-bin'));
    [
      'data_batch_1.bin',
      'data_batch_2.bin',
      'data_batch_3.bin',
      'data_batch_4.bin',
      'data_batch_5.bin',
      'test_batch.bin',
    ].forEach((name, b) => {
      writeFileSync(join(unpacked, 'cifar-10-batches-bin', name), cifarBatch(3, b));
    });
    const same = await loadCifar10({ dir: unpacked, recordsPerBatch: 3 });
    expect(Buffer.compare(Buffer.from(same.train.pixels), Buffer.from(data.train.pixels))).toBe(0);
    expect(same.sha256).toEqual(data.sha256);
  });

  it('names the file and what is wrong: truncated batch, count mismatch, label out of range, missing member', async () => {
    expect(() => decodeCifarBatch(cifarBatch(3, 0).subarray(0, 3073 * 2 + 100), 'x.bin', 3)).toThrow(
      /x\.bin: 6246 bytes, expected 3 records of 3073 bytes \(9219\); the file is truncated \(2 whole records\)/,
    );
    expect(() => decodeCifarBatch(cifarBatch(4, 0), 'y.bin', 3)).toThrow(
      /y\.bin: 12292 bytes, expected 3 records .* longer than a CIFAR-10 batch/,
    );
    expect(() =>
      decodeCifarBatch(
        cifarBatch(3, 0, (r) => (r === 2 ? 57 : 1)),
        'z.bin',
        3,
      ),
    ).toThrow(/z\.bin: record 2 has label 57; CIFAR-10 labels are 0\.\.9/);
    const dir = freshDir();
    writeFileSync(join(dir, 'cifar-10-binary.tar.gz'), cifarArchive(3, { 'test_batch.bin': undefined }));
    await expect(loadCifar10({ dir, recordsPerBatch: 3 })).rejects.toThrow(
      /lacks cifar-10-batches-bin\/test_batch\.bin/,
    );
    const truncated = freshDir();
    const archive = cifarArchive(3);
    writeFileSync(join(truncated, 'cifar-10-binary.tar.gz'), archive.subarray(0, archive.length >> 1));
    await expect(loadCifar10({ dir: truncated, recordsPerBatch: 3 })).rejects.toThrow(
      /not a readable gzip archive/,
    );
  });
});

function tinySet(count: number): LabelledImages {
  return {
    count,
    imageShape: [2, 2, 1],
    numClasses: 10,
    pixels: Uint8Array.from({ length: count * 4 }, (_, i) => i % 256),
    labels: Uint8Array.from({ length: count }, (_, i) => i % 10),
  };
}

describe('splits and batch streams', () => {
  it('carves a validation set by the seed: disjoint, complete, the same for the same seed', () => {
    const set = tinySet(50);
    const a = splitValidation(set, 12, createRng(3).derive('validation'));
    const b = splitValidation(set, 12, createRng(3).derive('validation'));
    const c = splitValidation(set, 12, createRng(4).derive('validation'));
    expect(a.validation.count).toBe(12);
    expect(a.train.count).toBe(38);
    const ids = (s: LabelledImages) => Array.from({ length: s.count }, (_, i) => s.pixels[i * 4]! / 4);
    expect([...ids(a.train), ...ids(a.validation)].sort((x, y) => x - y)).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
    expect(ids(b.validation)).toEqual(ids(a.validation));
    expect(ids(c.validation)).not.toEqual(ids(a.validation));
    expect(() => splitValidation(set, 50, createRng(0))).toThrow(
      /validation must be an integer in \[0, 50\)/,
    );
  });

  it('deals shuffled passes out in batches; a batch straddling two passes takes its tail from the next', () => {
    const stream = shuffledBatches(10, 4, createRng(1).derive('s'));
    const steps = Array.from({ length: 5 }, (_, t) => Array.from(stream.indices(t)));
    const flat = steps.flat();
    expect([...flat.slice(0, 10)].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...flat.slice(10, 20)].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(flat.slice(0, 10)).not.toEqual(flat.slice(10, 20));
    // Random access gives the same batches as a sequential walk, in any order.
    const again = shuffledBatches(10, 4, createRng(1).derive('s'));
    expect(Array.from(again.indices(4))).toEqual(steps[4]);
    expect(Array.from(again.indices(0))).toEqual(steps[0]);
  });

  it('hands out batches as bytes / 255 with int32 labels', () => {
    const batch = imageBatch(tinySet(5), [3, 0]);
    expect(batch.size).toBe(2);
    expect(batch.inputShape).toEqual([2, 2, 1]);
    expect(Array.from(batch.x)).toEqual([12, 13, 14, 15, 0, 1, 2, 3].map((v) => Math.fround(v / 255)));
    expect(Array.from(batch.y)).toEqual([3, 0]);
  });
});
