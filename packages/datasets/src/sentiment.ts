// The UCI "Sentiment Labelled Sentences" (Kotzias, Denil, de Freitas & Smyth, KDD 2015; CC BY 4.0): 3,000
// sentences from Amazon, IMDb and Yelp reviews, 500 positive and 500 negative per source. Located like Omniglot
// (a folder, $SENTIMENT_DIR, the cache, the shared copy beside the repository, a verified download), parsed
// strictly, then deduplicated, split by the seed and encoded with a vocabulary of the training split.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { createRng, type Rng } from '@reptile-bench/core';
import { unzipSync } from 'fflate';
import { dataChecksum } from './checksum.ts';
import { downloadVerified, type ExpectedFile } from './download.ts';
import { defaultCacheDir, findRepoRoot, sha256Hex } from './files.ts';
import { buildVocabulary, encodeSentences, tokenize, type Vocabulary } from './text.ts';
import type { Batch } from './types.ts';

export const SENTIMENT_SOURCES = ['amazon', 'imdb', 'yelp'] as const;
export type SentimentSourceName = (typeof SENTIMENT_SOURCES)[number];

/** The three files of the release, by source. */
export const SENTIMENT_FILES: Record<SentimentSourceName, string> = {
  amazon: 'amazon_cells_labelled.txt',
  imdb: 'imdb_labelled.txt',
  yelp: 'yelp_labelled.txt',
};

/** sha256 of each file of the release (the official archive's members and the project's shared copy alike). */
export const SENTIMENT_KNOWN_FILES: Record<string, string> = {
  'amazon_cells_labelled.txt': '47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3',
  'imdb_labelled.txt': 'aef2e49e3da25714d61175e3a6e68eeef74a20a2f914318dc3be9947ea86512d',
  'yelp_labelled.txt': 'c76468b7b5c6e56a0804d728345c5f84aa2142ddb214420f61cc9cfd4c00d2ea',
};

/** The official archive's location on the UCI repository, and the name it is kept under in the cache. */
export const SENTIMENT_URL = 'https://archive.ics.uci.edu/static/public/331/sentiment+labelled+sentences.zip';
export const SENTIMENT_ARCHIVE = 'sentiment labelled sentences.zip';
export const SENTIMENT_KNOWN_ARCHIVES: ExpectedFile[] = [
  {
    label: 'official UCI archive',
    size: 84188,
    sha256: 'afc26626d710899948693e1a61405dce197f57ffa719fa1130d346b4cc095343',
  },
];

export interface Sentence {
  text: string;
  /** 1 positive, 0 negative. */
  label: 0 | 1;
  source: SentimentSourceName;
  /** Line number in its file (1-based). */
  line: number;
}

export type SentimentOrigin = 'option' | 'env' | 'cache' | 'shared' | 'download';

export interface SentimentData {
  /** Amazon, then IMDb, then Yelp, each in file order. */
  sentences: Sentence[];
  origin: SentimentOrigin;
  /** The folder or archive the files were read from. */
  location: string;
  /** sha256 of each text file (as read, from a folder or from the archive). */
  sha256: Record<string, string>;
  /** Whether every file is the release's (SENTIMENT_KNOWN_FILES). */
  knownRelease: boolean;
}

export interface LoadSentimentOptions {
  /** A folder with the three text files or the official archive; overrides every other source. Also $SENTIMENT_DIR. */
  dir?: string;
  /** Where a downloaded archive is kept (default $REPTILE_BENCH_CACHE or `<repo>/.cache/datasets`). */
  cacheDir?: string;
  /** The project's shared copy, searched after the cache (default `<repo>/../shared/data/sentiment`); false skips it. */
  sharedDir?: string | false;
  /** Where to download the archive from (default $SENTIMENT_URL or the UCI repository). */
  url?: string;
  /** Download when no local copy is found (default true). */
  download?: boolean;
  progress?: boolean;
  /** Accepted size/sha256 of a downloaded archive (default SENTIMENT_KNOWN_ARCHIVES). */
  expected?: ExpectedFile[];
}

/** `<repo>/../shared/data/sentiment`, where the project keeps a copy of the three files beside the checkout. */
export function defaultSentimentDir(): string | undefined {
  const root = findRepoRoot();
  return root ? resolve(root, '..', 'shared', 'data', 'sentiment') : undefined;
}

const fileNames = SENTIMENT_SOURCES.map((s) => SENTIMENT_FILES[s]);
const hasFiles = (dir: string) => fileNames.every((name) => existsSync(join(dir, name)));
const hasArchive = (dir: string) => existsSync(join(dir, SENTIMENT_ARCHIVE));

type Located = { kind: 'files' | 'archive'; path: string; origin: SentimentOrigin };

function inFolder(dir: string, how: string, origin: SentimentOrigin): Located {
  if (hasFiles(dir)) return { kind: 'files', path: dir, origin };
  if (hasArchive(dir)) return { kind: 'archive', path: join(dir, SENTIMENT_ARCHIVE), origin };
  const missing = fileNames.filter((name) => !existsSync(join(dir, name)));
  throw new Error(
    `sentiment: ${how} points at ${dir}, which lacks ${missing.join(', ')} (and "${SENTIMENT_ARCHIVE}"); ` +
      'put the three files of the release or its official archive there, or point it at the folder that holds them',
  );
}

async function locate(o: LoadSentimentOptions, cacheDir: string, progress: boolean): Promise<Located> {
  if (o.dir !== undefined) return inFolder(resolve(o.dir), 'the dir option', 'option');
  const fromEnv = process.env.SENTIMENT_DIR;
  if (fromEnv) return inFolder(resolve(fromEnv), '$SENTIMENT_DIR', 'env');
  const cached = join(cacheDir, 'sentiment');
  if (hasArchive(cached)) return { kind: 'archive', path: join(cached, SENTIMENT_ARCHIVE), origin: 'cache' };
  const sharedSetting = o.sharedDir === false ? undefined : (o.sharedDir ?? defaultSentimentDir());
  const shared = sharedSetting === undefined ? undefined : resolve(sharedSetting);
  if (shared && hasFiles(shared)) return { kind: 'files', path: shared, origin: 'shared' };
  if (o.download === false)
    throw new Error(
      `sentiment: no copy found (looked in ${cached}${shared ? ` and ${shared}` : ''}) and downloading is off; ` +
        `set SENTIMENT_DIR or pass dir to a folder with ${fileNames.join(', ')}, or allow the download`,
    );
  const url = o.url ?? process.env.SENTIMENT_URL ?? SENTIMENT_URL;
  const dest = join(cached, SENTIMENT_ARCHIVE);
  await downloadVerified(url, dest, o.expected ?? SENTIMENT_KNOWN_ARCHIVES, { progress });
  return { kind: 'archive', path: dest, origin: 'download' };
}

/** The three files' bytes from the official archive (`sentiment labelled sentences/<file>`; other entries ignored). */
function readArchive(path: string, bytes: Uint8Array): Record<string, Uint8Array> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (f) => !f.name.startsWith('__MACOSX/') && fileNames.includes(basename(f.name)),
    });
  } catch (error) {
    throw new Error(
      `sentiment: ${path} is not a readable zip archive (${error instanceof Error ? error.message : String(error)}); ` +
        'it may be truncated or corrupt: delete it and fetch it again',
    );
  }
  const files: Record<string, Uint8Array> = {};
  for (const name of fileNames) {
    const found = Object.keys(entries).filter((entry) => basename(entry) === name);
    if (found.length !== 1)
      throw new Error(
        `sentiment: ${path} holds ${found.length === 0 ? 'no' : `${found.length} entries named`} ${name}; ` +
          'is this the official archive ("sentiment labelled sentences.zip")?',
      );
    files[name] = entries[found[0] as string] as Uint8Array;
  }
  return files;
}

/**
 * The sentences of one file: UTF-8, one `<sentence>TAB<0|1>` per line (LF or CRLF; a last empty line allowed).
 * Only LF ends a line: the Unicode line breaks some IMDb sentences contain (U+0085) stay inside the sentence.
 * Anything else is an error naming the file and the line.
 */
export function parseSentimentFile(
  where: string,
  bytes: Uint8Array,
  source: SentimentSourceName,
): Sentence[] {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`sentiment: ${where} is not valid UTF-8; it is not a file of the release`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const tab = line.lastIndexOf('\t');
    const shown = line.length > 60 ? `${line.slice(0, 60)}…` : line;
    const bad = (what: string) =>
      new Error(
        `sentiment: ${where}:${i + 1}: ${what} in ${JSON.stringify(shown)}; expected "<sentence>\\t<0 or 1>" on every line`,
      );
    if (tab < 0) throw bad('no TAB before the label');
    const label = line.slice(tab + 1).trim();
    if (label !== '0' && label !== '1') throw bad(`label ${JSON.stringify(label)} is not 0 or 1`);
    const sentence = line.slice(0, tab).trim();
    if (sentence === '') throw bad('an empty sentence');
    return { text: sentence, label: label === '1' ? 1 : 0, source, line: i + 1 };
  });
}

/**
 * The release's sentences. Sources, in order: `dir`, $SENTIMENT_DIR, an archive downloaded earlier into the
 * cache, `../shared/data/sentiment` beside the repository, then the official archive by download (verified by
 * size and sha256 before it is kept).
 */
export async function loadSentiment(o: LoadSentimentOptions = {}): Promise<SentimentData> {
  const cacheDir = resolve(o.cacheDir ?? defaultCacheDir());
  const progress = o.progress ?? Boolean(process.stderr.isTTY);
  const found = await locate(o, cacheDir, progress);
  let files: Record<string, Uint8Array>;
  if (found.kind === 'archive') {
    files = readArchive(found.path, new Uint8Array(await readFile(found.path)));
  } else {
    files = {};
    for (const name of fileNames) files[name] = new Uint8Array(await readFile(join(found.path, name)));
  }
  const sha256 = Object.fromEntries(fileNames.map((name) => [name, sha256Hex(files[name] as Uint8Array)]));
  const sentences = SENTIMENT_SOURCES.flatMap((source) => {
    const name = SENTIMENT_FILES[source];
    const where = found.kind === 'archive' ? `${found.path}: ${name}` : join(found.path, name);
    return parseSentimentFile(where, files[name] as Uint8Array, source);
  });
  return {
    sentences,
    origin: found.origin,
    location: found.path,
    sha256,
    knownRelease: fileNames.every((name) => sha256[name] === SENTIMENT_KNOWN_FILES[name]),
  };
}

export interface SentimentSplitOptions {
  seed: number;
  /** Share of each (source, label) group held out for validation (default 0.15) and for testing (default 0.15). */
  validation?: number;
  test?: number;
  /** Tokens kept per sentence (default 48; longer sentences keep their first tokens). */
  maxLength?: number;
  /** Tokens seen fewer times than this in the training split map to `<unk>` (default 1). */
  minCount?: number;
}

/** One part of the split: sentences, their token ids as model inputs and their labels. */
export interface TextSplit {
  sentences: Sentence[];
  /** x: n × maxLength token ids (as float32, exact below 2²⁴), padded at the end; y: labels; inputShape [maxLength]. */
  batch: Batch;
  /** Tokens per sentence after cutting to maxLength. */
  lengths: Int32Array;
  truncated: number;
}

export interface SentimentSplits {
  train: TextSplit;
  validation: TextSplit;
  test: TextSplit;
  vocabulary: Vocabulary;
  maxLength: number;
  /** Sentences dropped before splitting: repeats of an earlier sentence, and sentences whose repeats disagree on the label. */
  removed: { duplicates: number; conflicting: number };
  /** Names the files and every setting: record it as a run's data checksum. */
  checksum: string;
}

function fraction(value: number, field: string): number {
  if (typeof value !== 'number' || !(value > 0 && value < 1))
    throw new RangeError(
      `sentiment split: ${field} must be a number in (0, 1), got ${JSON.stringify(value)}`,
    );
  return value;
}

/**
 * Deduplicates, splits and encodes the sentences. Sentences with the same tokens are one sentence to a model,
 * so only the first is kept (all are dropped when they disagree on the label): otherwise the same sentence
 * could be trained on and tested on. Each (source, label) group is shuffled with the seed and cut into test,
 * validation and training parts in the given shares, so every part has the same mix of sources and labels.
 * The vocabulary comes from the training part only.
 */
export function splitSentiment(data: SentimentData, o: SentimentSplitOptions): SentimentSplits {
  if (!Number.isInteger(o.seed) || o.seed < 0)
    throw new RangeError(
      `sentiment split: seed must be a non-negative integer, got ${JSON.stringify(o.seed)}`,
    );
  const validationShare = fraction(o.validation ?? 0.15, 'validation');
  const testShare = fraction(o.test ?? 0.15, 'test');
  if (validationShare + testShare >= 1)
    throw new RangeError(
      `sentiment split: validation + test = ${validationShare + testShare} leaves no training sentences; keep it below 1`,
    );
  const maxLength = o.maxLength ?? 48;
  const minCount = o.minCount ?? 1;

  const tokens = data.sentences.map((s) => tokenize(s.text));
  const groups = new Map<string, number[]>();
  tokens.forEach((t, i) => {
    const key = t.join(' ');
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  const kept: number[] = [];
  let duplicates = 0;
  let conflicting = 0;
  for (const group of groups.values()) {
    const labels = new Set(group.map((i) => (data.sentences[i] as Sentence).label));
    if (labels.size > 1) conflicting += group.length;
    else {
      kept.push(group[0] as number);
      duplicates += group.length - 1;
    }
  }
  kept.sort((a, b) => a - b);

  const parts = { train: [] as number[], validation: [] as number[], test: [] as number[] };
  const root = createRng(o.seed).derive('sentiment-split');
  for (const source of SENTIMENT_SOURCES) {
    for (const label of [0, 1] as const) {
      const members = kept.filter((i) => {
        const s = data.sentences[i] as Sentence;
        return s.source === source && s.label === label;
      });
      root.derive(source, label).shuffle(members);
      const nTest = Math.round(members.length * testShare);
      const nValidation = Math.round(members.length * validationShare);
      parts.test.push(...members.slice(0, nTest));
      parts.validation.push(...members.slice(nTest, nTest + nValidation));
      parts.train.push(...members.slice(nTest + nValidation));
    }
  }
  for (const list of Object.values(parts)) list.sort((a, b) => a - b);

  const vocabulary = buildVocabulary(
    parts.train.map((i) => tokens[i] as string[]),
    { minCount },
  );
  const encode = (indices: number[]): TextSplit => {
    const encoded = encodeSentences(
      vocabulary,
      indices.map((i) => tokens[i] as string[]),
      maxLength,
    );
    return {
      sentences: indices.map((i) => data.sentences[i] as Sentence),
      batch: {
        x: Float32Array.from(encoded.ids),
        y: Int32Array.from(indices, (i) => (data.sentences[i] as Sentence).label),
        size: indices.length,
        inputShape: [maxLength],
      },
      lengths: encoded.lengths,
      truncated: encoded.truncated,
    };
  };
  const settings = {
    seed: o.seed,
    validation: validationShare,
    test: testShare,
    maxLength,
    minCount,
    dedupe: 1,
  };
  return {
    train: encode(parts.train),
    validation: encode(parts.validation),
    test: encode(parts.test),
    vocabulary,
    maxLength,
    removed: { duplicates, conflicting },
    checksum: dataChecksum(data.sha256, settings),
  };
}

/**
 * A stratified subset of `labels` holding `fraction` of each class (rounded up, at least one example per class
 * present), as a 0/1 mask. Each class's examples are ranked once by the stream, and a fraction takes the first
 * ones: the subset for 10% lies inside the subset for 30%, which lies inside 100%.
 */
export function stratifiedSubset(labels: Int32Array, share: number, rng: Rng): Uint8Array {
  if (typeof share !== 'number' || !(share > 0 && share <= 1))
    throw new RangeError(`stratifiedSubset: the share must be in (0, 1], got ${JSON.stringify(share)}`);
  const mask = new Uint8Array(labels.length);
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  for (const c of classes) {
    const members: number[] = [];
    labels.forEach((l, i) => {
      if (l === c) members.push(i);
    });
    rng.derive('class', c).shuffle(members);
    const take = Math.max(1, Math.ceil(share * members.length - 1e-9));
    for (const i of members.slice(0, take)) mask[i] = 1;
  }
  return mask;
}

/** Counts and checksums of the prepared sentiment splits, for a data summary or a run record. */
export function summarizeSentiment(data: SentimentData, splits: SentimentSplits) {
  const count = (s: TextSplit) => ({
    sentences: s.sentences.length,
    positive: s.sentences.filter((x) => x.label === 1).length,
    truncated: s.truncated,
  });
  return {
    dataset: 'sentiment',
    sentences: data.sentences.length,
    origin: data.origin,
    location: data.location,
    sha256: data.sha256,
    known_release: data.knownRelease,
    removed: splits.removed,
    train: count(splits.train),
    validation: count(splits.validation),
    test: count(splits.test),
    vocabulary: splits.vocabulary.size,
    max_length: splits.maxLength,
    data_checksum: splits.checksum,
  };
}
