import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { downloadVerified, type ExpectedFile } from './download.ts';
import { defaultCacheDir, sha256Hex } from './files.ts';
import { gunzipIfNeeded, parseIdx } from './idx.ts';
import { checkLabelledImages, type LabelledImages } from './labelled.ts';

export const FASHION_MNIST_FILES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
] as const;
export type FashionMnistFile = (typeof FASHION_MNIST_FILES)[number];

/** The official download location (zalandoresearch/fashion-mnist's README links there). */
export const FASHION_MNIST_BASE_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com';

/** Where Debian's `dataset-fashion-mnist` package installs the official files. */
export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * The official release: each gzipped file as published (size and sha256 of the download; the README lists their
 * md5s: 8d4fb7e6…, 25c81989…, bef4ecab…, bb300cfd…) and the IDX content inside it. Copies that were compressed
 * again (Debian's package strips the file name from the gzip header) have other gzip bytes but the same content,
 * which is what a local copy is checked against.
 */
export const FASHION_MNIST_RELEASE: Record<FashionMnistFile, { gz: ExpectedFile; content: ExpectedFile }> = {
  'train-images-idx3-ubyte': {
    gz: { size: 26421880, sha256: '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84' },
    content: { size: 47040016, sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888' },
  },
  'train-labels-idx1-ubyte': {
    gz: { size: 29515, sha256: 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845' },
    content: { size: 60008, sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9' },
  },
  't10k-images-idx3-ubyte': {
    gz: { size: 4422102, sha256: '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073' },
    content: { size: 7840016, sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b' },
  },
  't10k-labels-idx1-ubyte': {
    gz: { size: 5148, sha256: '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5' },
    content: { size: 10008, sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34' },
  },
};

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export type FashionMnistSource = 'option' | 'env' | 'cache' | 'system' | 'download';

export interface FashionMnist {
  /** 60,000 training images (28 × 28 × 1) and labels. */
  train: LabelledImages;
  /** 10,000 test images and labels. */
  test: LabelledImages;
  source: FashionMnistSource;
  /** The folder the files were read from. */
  dir: string;
  /** The file read for each part (`<name>.gz` or `<name>`). */
  files: Record<FashionMnistFile, string>;
  /** sha256 of each file's IDX content (after gunzip): the same for every copy of the same data. */
  sha256: Record<FashionMnistFile, string>;
}

export interface LoadFashionMnistOptions {
  /** A folder holding the four files (gzipped or not); overrides every other source. Also $FASHION_MNIST_DIR. */
  dir?: string;
  /** Where downloads are kept (default $REPTILE_BENCH_CACHE or `<repo>/.cache/datasets`), in `fashion-mnist/`. */
  cacheDir?: string;
  /** The system copy searched after the cache (default Debian's folder); false skips it. */
  systemDir?: string | false;
  /** Where to download missing files from (default $FASHION_MNIST_BASE_URL or the official location). */
  baseUrl?: string;
  /** Download when no local copy is found (default true). */
  download?: boolean;
  /** Progress bars on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** What each file must be (default FASHION_MNIST_RELEASE): downloads are checked as gz, every copy by content. */
  expected?: Record<FashionMnistFile, { gz: ExpectedFile; content: ExpectedFile }>;
}

/** The file holding `name` in `dir`: `<name>.gz`, else `<name>`, else undefined. */
function fileIn(dir: string, name: FashionMnistFile): string | undefined {
  for (const candidate of [`${name}.gz`, name])
    if (existsSync(join(dir, candidate))) return join(dir, candidate);
  return undefined;
}

function hasFiles(dir: string): boolean {
  return FASHION_MNIST_FILES.every((name) => fileIn(dir, name) !== undefined);
}

function missingError(dir: string, how: string): Error {
  const missing = FASHION_MNIST_FILES.filter((name) => fileIn(dir, name) === undefined);
  return new Error(
    `Fashion-MNIST: ${how} points at ${dir}, which lacks ${missing.map((m) => `${m}(.gz)`).join(', ')}; ` +
      'put the official files there or point it at the folder that holds them',
  );
}

async function locate(
  o: LoadFashionMnistOptions,
  expected: NonNullable<LoadFashionMnistOptions['expected']>,
): Promise<{ dir: string; source: FashionMnistSource }> {
  if (o.dir !== undefined) {
    const dir = resolve(o.dir);
    if (!hasFiles(dir)) throw missingError(dir, 'the dir option');
    return { dir, source: 'option' };
  }
  const fromEnv = process.env.FASHION_MNIST_DIR;
  if (fromEnv) {
    const dir = resolve(fromEnv);
    if (!hasFiles(dir)) throw missingError(dir, '$FASHION_MNIST_DIR');
    return { dir, source: 'env' };
  }
  const cached = join(resolve(o.cacheDir ?? defaultCacheDir()), 'fashion-mnist');
  if (hasFiles(cached)) return { dir: cached, source: 'cache' };
  const system = o.systemDir === false ? undefined : resolve(o.systemDir ?? FASHION_MNIST_SYSTEM_DIR);
  if (system && hasFiles(system)) return { dir: system, source: 'system' };
  if (o.download === false)
    throw new Error(
      `Fashion-MNIST: no copy found (looked in ${cached}${system ? ` and ${system}` : ''}) and downloading is off; ` +
        "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist), set FASHION_MNIST_DIR " +
        'to a folder with the four IDX files, or allow the download',
    );
  const baseUrl = (o.baseUrl ?? process.env.FASHION_MNIST_BASE_URL ?? FASHION_MNIST_BASE_URL).replace(
    /\/+$/,
    '',
  );
  const progress = o.progress ?? process.stderr.isTTY === true;
  for (const name of FASHION_MNIST_FILES) {
    if (fileIn(cached, name) !== undefined) continue;
    await downloadVerified(`${baseUrl}/${name}.gz`, join(cached, `${name}.gz`), [expected[name].gz], {
      progress,
    });
  }
  return { dir: cached, source: 'download' };
}

/**
 * Loads Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from its official IDX files. Sources, in order: `dir`,
 * $FASHION_MNIST_DIR, files downloaded before into the cache, Debian's package folder, then a download (each file
 * verified by size and sha256 before it appears in the cache). Every file read is checked: IDX structure, counts
 * of images and labels, labels in 0..9, and its content's sha256 against the release.
 */
export async function loadFashionMnist(o: LoadFashionMnistOptions = {}): Promise<FashionMnist> {
  const expected = o.expected ?? FASHION_MNIST_RELEASE;
  const { dir, source } = await locate(o, expected);
  const files = {} as Record<FashionMnistFile, string>;
  const sha256 = {} as Record<FashionMnistFile, string>;
  const parsed = {} as Record<FashionMnistFile, { dims: number[]; data: Uint8Array }>;
  for (const name of FASHION_MNIST_FILES) {
    const file = fileIn(dir, name) as string;
    files[name] = file;
    const bytes = new Uint8Array(await readFile(file));
    const content = gunzipIfNeeded(bytes, file);
    parsed[name] = parseIdx(content, file, name.includes('images') ? 3 : 1);
    sha256[name] = sha256Hex(content);
    const want = expected[name].content;
    if (content.length !== want.size || sha256[name] !== want.sha256)
      throw new Error(
        `${file}: its IDX content (${content.length} bytes, sha256 ${sha256[name]}) is not the Fashion-MNIST ` +
          `release (${want.size} bytes, sha256 ${want.sha256}); replace it with the official file`,
      );
  }
  const part = (images: FashionMnistFile, labels: FashionMnistFile): LabelledImages => {
    const im = parsed[images];
    const lb = parsed[labels];
    const [count, height, width] = im.dims as [number, number, number];
    if (lb.dims[0] !== count)
      throw new Error(
        `Fashion-MNIST: ${files[labels]} holds ${lb.dims[0]} labels but ${files[images]} holds ${count} images; ` +
          'the files do not belong together',
      );
    return checkLabelledImages(
      { count, imageShape: [height, width, 1], numClasses: 10, pixels: im.data, labels: lb.data },
      files[labels],
    );
  };
  return {
    train: part('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    test: part('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
    source,
    dir,
    files,
    sha256,
  };
}
