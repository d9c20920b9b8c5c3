import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hashValue } from '@reptile-bench/core';
import { Presets, SingleBar } from 'cli-progress';
import { unzipSync } from 'fflate';
import { downloadVerified, type ExpectedFile } from './download.ts';
import { defaultCacheDir, findRepoRoot, sha256Hex } from './files.ts';
import { decodePng, type ResizeFilter, resize, toGray } from './image.ts';
import { type PixelCacheHeader, readPixelCache, writePixelCache } from './pixel-cache.ts';

export const OMNIGLOT_ARCHIVES = ['images_background.zip', 'images_evaluation.zip'] as const;
export type OmniglotArchive = (typeof OMNIGLOT_ARCHIVES)[number];

/** The official download location (the `python/` folder of the authors' repository). */
export const OMNIGLOT_BASE_URL = 'https://github.com/brendenlake/omniglot/raw/master/python';

/**
 * Archives accepted from a download: the official release, and the lossless repackaging kept in the project's
 * shared data folder (same pixels, re-encoded PNGs, hence other bytes).
 */
export const OMNIGLOT_KNOWN_ARCHIVES: Record<OmniglotArchive, ExpectedFile[]> = {
  'images_background.zip': [
    {
      label: 'official release',
      size: 9464212,
      sha256: 'ad41ab679c8b5d90b271ef46be6987cc81211774a695c29dcc5367b2b26ee640',
    },
    {
      label: 'lossless repackaging',
      size: 8014965,
      sha256: '8cd3bf50c3b838539e437a4ca27b16061f3dcabf9ec011db8b5a9a33a3b81117',
    },
  ],
  'images_evaluation.zip': [
    {
      label: 'official release',
      size: 6462886,
      sha256: '1f61a8f3366785b057fc117d9228e78a16e3d976c8953b2a10fcc74cf0609cee',
    },
    {
      label: 'lossless repackaging',
      size: 5476106,
      sha256: '135caebb97678aaddc0e44c5509efefc320c85ad763929125f43aa6666e92990',
    },
  ],
};

export interface OmniglotCharacter {
  alphabet: string;
  /** The folder name, e.g. `character07`. */
  character: string;
  set: 'background' | 'evaluation';
  /** Index of the character's first image in `images`. */
  start: number;
  count: number;
}

/** Where the archives came from. */
export type OmniglotSource = 'option' | 'env' | 'cache' | 'shared' | 'download';

export interface Omniglot {
  /** N × height × width, one byte per pixel: 0 = paper, 255 = ink (a pixel fully covered by ink). */
  images: Uint8Array;
  /** Background characters first, then evaluation; alphabets by name, characters by number, drawers in order. */
  characters: OmniglotCharacter[];
  source: OmniglotSource;
  /** The folder the archives were read from. */
  archiveDir: string;
  /** sha256 of each archive, by file name. */
  sha256: Record<string, string>;
  /** sha256 of the decoded content (character list + pixels): the same for any archive encoding the same pixels. */
  contentSha256: string;
  imageSize: [number, number];
  filter: ResizeFilter;
  /** The decoded-data cache file, and whether this load was served from it. */
  cacheFile: string;
  fromCache: boolean;
}

export interface LoadOmniglotOptions {
  /** A folder holding both archives; overrides every other source. Also $OMNIGLOT_DIR. */
  dir?: string;
  /** Where decoded data and downloaded archives are kept (default $REPTILE_BENCH_CACHE or `<repo>/.cache/datasets`). */
  cacheDir?: string;
  /**
   * The project's shared copy, searched after the cache (default `<repo>/../shared/data/omniglot`); false skips it.
   */
  sharedDir?: string | false;
  /** Where to download missing archives from (default $OMNIGLOT_BASE_URL or the official location). */
  baseUrl?: string;
  /** Download when no local copy is found (default true). */
  download?: boolean;
  /** Progress bars on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** Side of the square images (default 28, as the paper). */
  imageSize?: number;
  /** Resize filter (default 'area': exact area averaging, ink coverage as gray levels). */
  filter?: ResizeFilter;
  /** Accepted size/sha256 per archive for downloads (default OMNIGLOT_KNOWN_ARCHIVES). */
  expected?: Partial<Record<OmniglotArchive, ExpectedFile[]>>;
}

const CACHE_MAGIC = 'RBOMNIG1';
// Bump when decoding numerics change: the content hash must name what the current code produces.
const CACHE_FORMAT = 3;

interface CacheHeader extends PixelCacheHeader {
  format: number;
  sha256: Record<string, string>;
  imageSize: [number, number];
  filter: ResizeFilter;
  characters: OmniglotCharacter[];
}

function hasArchives(dir: string): boolean {
  return OMNIGLOT_ARCHIVES.every((name) => existsSync(join(dir, name)));
}

function missingArchivesError(dir: string, how: string): Error {
  const missing = OMNIGLOT_ARCHIVES.filter((name) => !existsSync(join(dir, name)));
  return new Error(
    `Omniglot: ${how} points at ${dir}, which lacks ${missing.join(' and ')}; ` +
      'put the official archives there or point it at the folder that holds them',
  );
}

/** `<repo>/../shared/data/omniglot`, where the project keeps a copy of the archives beside the checkout. */
export function defaultSharedDir(): string | undefined {
  const root = findRepoRoot();
  return root ? resolve(root, '..', 'shared', 'data', 'omniglot') : undefined;
}

/** The archives' folder, downloading missing ones into the cache when no local copy exists. */
async function locateArchives(
  o: LoadOmniglotOptions,
  cacheDir: string,
  progress: boolean,
): Promise<{ dir: string; source: OmniglotSource }> {
  if (o.dir !== undefined) {
    const dir = resolve(o.dir);
    if (!hasArchives(dir)) throw missingArchivesError(dir, 'the dir option');
    return { dir, source: 'option' };
  }
  const fromEnv = process.env.OMNIGLOT_DIR;
  if (fromEnv) {
    const dir = resolve(fromEnv);
    if (!hasArchives(dir)) throw missingArchivesError(dir, '$OMNIGLOT_DIR');
    return { dir, source: 'env' };
  }
  const cached = join(cacheDir, 'omniglot', 'archives');
  if (hasArchives(cached)) return { dir: cached, source: 'cache' };
  const sharedSetting = o.sharedDir === false ? undefined : (o.sharedDir ?? defaultSharedDir());
  const shared = sharedSetting === undefined ? undefined : resolve(sharedSetting);
  if (shared && hasArchives(shared)) return { dir: shared, source: 'shared' };
  if (o.download === false)
    throw new Error(
      `Omniglot: no archives found (looked in ${cached}${shared ? ` and ${shared}` : ''}) and downloading is ` +
        'off; set OMNIGLOT_DIR or pass dir to a folder with images_background.zip and images_evaluation.zip, or allow the download',
    );
  const baseUrl = (o.baseUrl ?? process.env.OMNIGLOT_BASE_URL ?? OMNIGLOT_BASE_URL).replace(/\/+$/, '');
  for (const name of OMNIGLOT_ARCHIVES) {
    if (existsSync(join(cached, name))) continue;
    const accepted = o.expected?.[name] ?? OMNIGLOT_KNOWN_ARCHIVES[name];
    await downloadVerified(`${baseUrl}/${name}`, join(cached, name), accepted, { progress });
  }
  return { dir: cached, source: 'download' };
}

const ENTRY = /^images_(background|evaluation)\/([^/]+)\/(character(\d+))\/([^/]+\.png)$/;

interface ArchiveCharacter {
  alphabet: string;
  character: string;
  number: number;
  files: Array<{ name: string; bytes: Uint8Array }>;
}

/** The characters of one archive, validated against the official layout and put in canonical order. */
function readArchive(path: string, bytes: Uint8Array, set: 'background' | 'evaluation'): ArchiveCharacter[] {
  let entries: Record<string, Uint8Array>;
  try {
    // Skip macOS resource forks and folders; everything else must follow the official layout.
    entries = unzipSync(bytes, {
      filter: (f) => !f.name.endsWith('/') && !f.name.startsWith('__MACOSX/') && !f.name.includes('/._'),
    });
  } catch (error) {
    throw new Error(
      `Omniglot: ${path} is not a readable zip archive (${error instanceof Error ? error.message : String(error)}); ` +
        'it may be truncated or corrupt: delete it and fetch it again',
    );
  }
  const characters = new Map<string, ArchiveCharacter>();
  for (const [name, data] of Object.entries(entries)) {
    const m = ENTRY.exec(name);
    if (!m || m[1] !== set)
      throw new Error(
        `Omniglot: ${path} holds "${name}", which is not images_${set}/<Alphabet>/characterNN/<id>_<drawer>.png; ` +
          'is this the right archive?',
      );
    const [, , alphabet, character, number, file] = m as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const key = `${alphabet}/${character}`;
    let entry = characters.get(key);
    if (!entry) {
      entry = { alphabet, character, number: Number(number), files: [] };
      characters.set(key, entry);
    }
    entry.files.push({ name: file, bytes: data });
  }
  if (characters.size === 0) throw new Error(`Omniglot: ${path} holds no images; is this the right archive?`);
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const sorted = [...characters.values()].sort(
    (a, b) => byName(a.alphabet, b.alphabet) || a.number - b.number || byName(a.character, b.character),
  );
  for (const c of sorted) c.files.sort((a, b) => byName(a.name, b.name));
  return sorted;
}

/** One character image: 1-bit PNG (white paper, black ink) → resized → ink coverage in [0, 1] → one byte. */
function decodeCharacterImage(
  bytes: Uint8Array,
  name: string,
  size: number,
  filter: ResizeFilter,
  out: Uint8Array,
  offset: number,
): void {
  // Resizing is linear, so resize the paper's brightness and invert once at the small size.
  const small = resize(toGray(decodePng(bytes, name)), size, size, filter).data;
  for (let i = 0; i < small.length; i++) out[offset + i] = Math.round((1 - (small[i] as number)) * 255);
}

/** Names the decoded content independently of how the archives encode it: characters in order + pixels. */
function contentHash(characters: OmniglotCharacter[], pixelsSha256: string): string {
  return hashValue({
    characters: characters.map(({ alphabet, character, set, count }) => [set, alphabet, character, count]),
    pixelsSha256,
  });
}

/** The cached data, or undefined when there is none for these archives and settings, or it is damaged. */
async function readCache(path: string, sha256: Record<string, string>): Promise<Omniglot | undefined> {
  const cached = await readPixelCache<CacheHeader>(path, CACHE_MAGIC);
  if (!cached) return undefined;
  const { header, pixels } = cached;
  if (header.format !== CACHE_FORMAT || hashValue(header.sha256) !== hashValue(sha256)) return undefined;
  const [h, w] = header.imageSize;
  const total = header.characters.reduce((n, c) => n + c.count, 0);
  if (pixels.length !== total * h * w) return undefined;
  return {
    images: pixels,
    characters: header.characters,
    sha256: header.sha256,
    contentSha256: contentHash(header.characters, header.pixelsSha256),
    imageSize: header.imageSize,
    filter: header.filter,
    source: 'cache',
    archiveDir: '',
    cacheFile: path,
    fromCache: true,
  };
}

/**
 * Omniglot from the official archives, decoded to `imageSize × imageSize` bytes.
 * Sources, in order: `dir`, $OMNIGLOT_DIR, archives downloaded earlier into the cache, `../shared/data/omniglot`
 * beside the repository, then a verified download. Decoded data is cached in one binary file keyed by the
 * archives' sha256s and the resize settings, so later loads skip decoding.
 */
export async function loadOmniglot(o: LoadOmniglotOptions = {}): Promise<Omniglot> {
  const size = o.imageSize ?? 28;
  const filter = o.filter ?? 'area';
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`Omniglot: imageSize must be a positive integer, got ${size}`);
  if (filter !== 'area' && filter !== 'nearest')
    throw new RangeError(`Omniglot: filter must be 'area' or 'nearest', got ${String(filter)}`);
  const cacheDir = resolve(o.cacheDir ?? defaultCacheDir());
  const progress = o.progress ?? Boolean(process.stderr.isTTY);
  const { dir, source } = await locateArchives(o, cacheDir, progress);

  const archives = await Promise.all(
    OMNIGLOT_ARCHIVES.map(async (name) => {
      const path = join(dir, name);
      const bytes = new Uint8Array(await readFile(path));
      return { name, path, bytes, sha256: sha256Hex(bytes) };
    }),
  );
  const sha256 = Object.fromEntries(archives.map((a) => [a.name, a.sha256]));
  const key = hashValue({ format: CACHE_FORMAT, sha256, size, filter }).slice(0, 16);
  const cacheFile = join(cacheDir, 'omniglot', `decoded-${size}px-${filter}-${key}.bin`);
  const cached = await readCache(cacheFile, sha256);
  if (cached) return { ...cached, source, archiveDir: dir };

  const listed = archives.flatMap((a) =>
    readArchive(a.path, a.bytes, a.name === 'images_background.zip' ? 'background' : 'evaluation').map(
      (c) => ({
        ...c,
        set: a.name === 'images_background.zip' ? ('background' as const) : ('evaluation' as const),
        archive: a.path,
      }),
    ),
  );
  const total = listed.reduce((n, c) => n + c.files.length, 0);
  const pixels = size * size;
  const images = new Uint8Array(total * pixels);
  const characters: OmniglotCharacter[] = [];
  const bar = progress
    ? new SingleBar(
        { format: 'decoding Omniglot [{bar}] {value}/{total} images', stream: process.stderr },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(total, 0);
  let index = 0;
  try {
    for (const c of listed) {
      characters.push({
        alphabet: c.alphabet,
        character: c.character,
        set: c.set,
        start: index,
        count: c.files.length,
      });
      for (const f of c.files) {
        const where = `Omniglot: ${c.archive}: images_${c.set}/${c.alphabet}/${c.character}/${f.name}`;
        decodeCharacterImage(f.bytes, where, size, filter, images, index * pixels);
        index++;
        if (index % 1000 === 0) bar?.update(index);
      }
    }
    bar?.update(index);
  } finally {
    bar?.stop();
  }
  const { pixelsSha256 } = await writePixelCache(
    cacheFile,
    CACHE_MAGIC,
    {
      format: CACHE_FORMAT,
      sha256,
      imageSize: [size, size],
      filter,
      characters,
    },
    images,
  );
  return {
    images,
    characters,
    sha256,
    contentSha256: contentHash(characters, pixelsSha256),
    imageSize: [size, size],
    filter,
    source,
    archiveDir: dir,
    cacheFile,
    fromCache: false,
  };
}

/** Number of distinct alphabets (an alphabet name in both sets counts once per set, as in the release). */
export function countAlphabets(data: Omniglot): number {
  return new Set(data.characters.map((c) => `${c.set}/${c.alphabet}`)).size;
}
