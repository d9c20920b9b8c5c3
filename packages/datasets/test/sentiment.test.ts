import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@reptile-bench/core';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildVocabulary,
  encodeSentences,
  loadSentiment,
  PAD_ID,
  SENTIMENT_FILES,
  SENTIMENT_KNOWN_FILES,
  splitSentiment,
  stratifiedSubset,
  tokenize,
  UNKNOWN_ID,
  vocabularyFromTokens,
} from '../src/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'sentiment-'));
let counter = 0;
const fresh = () => {
  const dir = join(scratch, `case-${counter++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** A small release of the same format: per source, `n` positive and `n` negative sentences. */
function fixtureFiles(n = 10): Record<string, string> {
  const words = ['good', 'great', 'bad', 'awful', 'fine', 'poor', 'nice', 'sad'];
  const files: Record<string, string> = {};
  for (const [source, name] of Object.entries(SENTIMENT_FILES)) {
    const lines: string[] = [];
    for (let i = 0; i < 2 * n; i++) {
      const label = i % 2;
      lines.push(`${source} ${words[(i * 3) % words.length]} item ${i}.\t${label}`);
    }
    files[name] = `${lines.join('\n')}\n`;
  }
  return files;
}

function writeFolder(dir: string, files: Record<string, string>): string {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function archiveOf(files: Record<string, string>): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  for (const [name, text] of Object.entries(files)) {
    entries[`sentiment labelled sentences/${name}`] = new TextEncoder().encode(text);
    entries[`__MACOSX/sentiment labelled sentences/._${name}`] = new Uint8Array([0, 5, 22, 7]);
  }
  entries['sentiment labelled sentences/readme.txt'] = new TextEncoder().encode('read me');
  return zipSync(entries);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('tokenize', () => {
  it('lower-cases words, keeps inner apostrophes, "!" and "?", and drops other punctuation', () => {
    expect(tokenize("Wow... Loved this place!! Don't go?")).toEqual([
      'wow',
      'loved',
      'this',
      'place',
      '!',
      '!',
      "don't",
      'go',
      '?',
    ]);
    expect(tokenize('A very, very slow-moving movie.')).toEqual([
      'a',
      'very',
      'very',
      'slow',
      'moving',
      'movie',
    ]);
  });

  it('handles Unicode: accents, other scripts, NFKC forms, typographic apostrophes, control characters', () => {
    expect(tokenize('Crema Café — the crêpe in Québec')).toEqual([
      'crema',
      'café',
      'the',
      'crêpe',
      'in',
      'québec',
    ]);
    // a decomposed é (e + U+0301) is the same token as the composed one
    expect(tokenize('Cafe\u0301')).toEqual(['café']);
    expect(tokenize('ＧＯＯＤ ﬁne')).toEqual(['good', 'fine']);
    expect(tokenize('it’s ОЧЕНЬ хорошо 好')).toEqual(["it's", 'очень', 'хорошо', '好']);
    // the stray U+0085 and U+0096 of the IMDb file separate words
    expect(tokenize('script is\u0085was there \u0096 a script?')).toEqual([
      'script',
      'is',
      'was',
      'there',
      'a',
      'script',
      '?',
    ]);
  });

  it('gives no tokens for empty or punctuation-only sentences', () => {
    expect(tokenize('')).toEqual([]);
    expect(tokenize('   ...   ')).toEqual([]);
    expect(() => tokenize(undefined as unknown as string)).toThrow(/tokenize: expected a string/);
  });
});

describe('vocabulary and encoding', () => {
  const sentences = [
    ['the', 'food', 'was', 'good'],
    ['the', 'service', 'was', 'bad'],
    ['good', 'good', 'food'],
  ];
  it('orders tokens by count, then code point; <pad> and <unk> first', () => {
    const v = buildVocabulary(sentences);
    expect(v.tokens).toEqual(['<pad>', '<unk>', 'good', 'food', 'the', 'was', 'bad', 'service']);
    expect(v.id('food')).toBe(3);
    expect(buildVocabulary([...sentences].reverse()).tokens).toEqual(v.tokens);
    expect(buildVocabulary(sentences, { minCount: 2 }).tokens).toEqual([
      '<pad>',
      '<unk>',
      'good',
      'food',
      'the',
      'was',
    ]);
    expect(buildVocabulary(sentences, { maxTokens: 2 }).tokens).toEqual(['<pad>', '<unk>', 'good', 'food']);
    expect(() => buildVocabulary(sentences, { minCount: 0 })).toThrow(
      /minCount must be a positive integer, got 0/,
    );
  });

  it('maps unknown words to <unk>, pads at the end, cuts long sentences, and encodes empty ones as all padding', () => {
    const v = buildVocabulary(sentences);
    const encoded = encodeSentences(
      v,
      [['the', 'pizza', 'was', 'good'], [], ['good', 'good', 'good', 'good', 'bad']],
      4,
    );
    expect(Array.from(encoded.ids)).toEqual([4, UNKNOWN_ID, 5, 2, PAD_ID, 0, 0, 0, 2, 2, 2, 2]);
    expect(Array.from(encoded.lengths)).toEqual([4, 0, 4]);
    expect(encoded.truncated).toBe(1);
    // a literal "<pad>" in a sentence is an unknown word, never padding
    expect(v.id('<pad>')).toBe(UNKNOWN_ID);
    expect(vocabularyFromTokens(v.tokens).tokens).toEqual(v.tokens);
    expect(() => vocabularyFromTokens(['a', 'b'])).toThrow(/first two tokens must be "<pad>" and "<unk>"/);
  });
});

describe('loadSentiment', () => {
  it('reads the real release beside the repository or from $SENTIMENT_DIR, checked against its sha256s', async () => {
    const data = await loadSentiment({ cacheDir: fresh(), download: false });
    // .ci/run sets $SENTIMENT_DIR for a clone, whose folder has no copy beside it
    expect(data.origin).toBe(process.env.SENTIMENT_DIR === undefined ? 'shared' : 'env');
    expect(data.sentences).toHaveLength(3000);
    expect(data.knownRelease).toBe(true);
    expect(data.sha256).toEqual(SENTIMENT_KNOWN_FILES);
    for (const source of ['amazon', 'imdb', 'yelp'] as const) {
      const own = data.sentences.filter((s) => s.source === source);
      expect(own).toHaveLength(1000);
      expect(own.filter((s) => s.label === 1)).toHaveLength(500);
    }
    // A U+0085 inside an IMDb sentence does not end the line.
    expect(data.sentences.find((s) => s.text.startsWith('The script is'))?.text).toBe(
      'The script is\u0085was there a script?',
    );
  });

  it('reads a folder of the three files or of the official archive, with the same sentences and checksums', async () => {
    const files = fixtureFiles();
    const folder = await loadSentiment({ dir: writeFolder(fresh(), files) });
    const archiveDir = fresh();
    writeFileSync(join(archiveDir, 'sentiment labelled sentences.zip'), archiveOf(files));
    const zipped = await loadSentiment({ dir: archiveDir });
    expect(folder.origin).toBe('option');
    expect(zipped.sentences).toEqual(folder.sentences);
    expect(zipped.sha256).toEqual(folder.sha256);
    expect(folder.knownRelease).toBe(false);
    expect(folder.sentences).toHaveLength(60);
  });

  it('accepts CRLF line ends and a byte-order mark', async () => {
    const files = fixtureFiles(2);
    const crlf = Object.fromEntries(
      Object.entries(files).map(([k, v]) => [k, `\ufeff${v.replace(/\n/g, '\r\n')}`]),
    );
    const a = await loadSentiment({ dir: writeFolder(fresh(), files) });
    const b = await loadSentiment({ dir: writeFolder(fresh(), crlf) });
    expect(b.sentences).toEqual(a.sentences);
  });

  it('names the missing file when a folder lacks one', async () => {
    const dir = writeFolder(fresh(), fixtureFiles());
    rmSync(join(dir, 'imdb_labelled.txt'));
    await expect(loadSentiment({ dir })).rejects.toThrow(
      /the dir option points at .*, which lacks imdb_labelled\.txt \(and "sentiment labelled sentences\.zip"\)/,
    );
    const before = process.env.SENTIMENT_DIR;
    process.env.SENTIMENT_DIR = dir;
    try {
      await expect(loadSentiment()).rejects.toThrow(/\$SENTIMENT_DIR points at .* lacks imdb_labelled\.txt/);
    } finally {
      if (before === undefined) delete process.env.SENTIMENT_DIR;
      else process.env.SENTIMENT_DIR = before;
    }
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['no tab', 'A fine phone 1', /yelp_labelled\.txt:3: no TAB before the label in "A fine phone 1"/],
    ['a bad label', 'A fine phone\t2', /yelp_labelled\.txt:3: label "2" is not 0 or 1/],
    ['an empty sentence', '  \t1', /yelp_labelled\.txt:3: an empty sentence/],
  ];
  for (const [what, line, message] of malformed) {
    it(`names the file and line of a malformed line (${what})`, async () => {
      const files = fixtureFiles();
      const lines = (files['yelp_labelled.txt'] as string).split('\n');
      lines[2] = line;
      files['yelp_labelled.txt'] = lines.join('\n');
      await expect(loadSentiment({ dir: writeFolder(fresh(), files) })).rejects.toThrow(message);
    });
  }

  it('names a file that is not UTF-8 and an archive that lacks a file', async () => {
    const dir = writeFolder(fresh(), fixtureFiles());
    writeFileSync(join(dir, 'amazon_cells_labelled.txt'), Uint8Array.from([0x47, 0xff, 0x09, 0x31, 0x0a]));
    await expect(loadSentiment({ dir })).rejects.toThrow(/amazon_cells_labelled\.txt is not valid UTF-8/);
    const files = fixtureFiles();
    delete files['yelp_labelled.txt'];
    const archiveDir = fresh();
    writeFileSync(join(archiveDir, 'sentiment labelled sentences.zip'), archiveOf(files));
    await expect(loadSentiment({ dir: archiveDir })).rejects.toThrow(
      /holds no yelp_labelled\.txt; is this the official archive/,
    );
  });
});

describe('loadSentiment download (local HTTP server)', () => {
  const archive = archiveOf(fixtureFiles());
  const expected = [{ size: archive.length, sha256: sha256(archive) }];
  let server: Server;
  let base: string;
  const requests: string[] = [];
  // $SENTIMENT_DIR (set by .ci/run for a clone) would be found before any download: out of the way here.
  const sentimentDir = process.env.SENTIMENT_DIR;
  beforeAll(async () => {
    delete process.env.SENTIMENT_DIR;
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/ok.zip') return res.writeHead(200, { 'content-length': archive.length }).end(archive);
      if (req.url === '/corrupt.zip') {
        const bad = Uint8Array.from(archive);
        bad[50]! ^= 0xff;
        return res.writeHead(200, { 'content-length': bad.length }).end(bad);
      }
      if (req.url === '/truncated.zip') {
        res.writeHead(200, { 'content-length': archive.length });
        res.write(archive.subarray(0, archive.length >> 1), () => res.destroy());
        return;
      }
      return res.writeHead(500, 'Internal Server Error').end('boom');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    if (sentimentDir !== undefined) process.env.SENTIMENT_DIR = sentimentDir;
    await new Promise((done) => server.close(done));
    rmSync(scratch, { recursive: true, force: true });
  });

  it('downloads, verifies and keeps the archive, then reads it from the cache without the network', async () => {
    const cacheDir = fresh();
    requests.length = 0;
    const data = await loadSentiment({
      cacheDir,
      sharedDir: false,
      url: `${base}/ok.zip`,
      expected,
      progress: false,
    });
    expect(data.origin).toBe('download');
    expect(data.sentences).toHaveLength(60);
    expect(existsSync(join(cacheDir, 'sentiment', 'sentiment labelled sentences.zip'))).toBe(true);
    const again = await loadSentiment({ cacheDir, sharedDir: false, url: `${base}/error`, expected });
    expect(again.origin).toBe('cache');
    expect(again.sentences).toEqual(data.sentences);
    expect(requests).toEqual(['/ok.zip']);
  });

  const failures: Array<[string, RegExp]> = [
    ['corrupt', /has the wrong checksum: sha256 [0-9a-f]{64}, expected \d+ bytes/],
    ['truncated', /broke off after \d+ bytes/],
    ['error', /the server answered HTTP 500 Internal Server Error/],
  ];
  for (const [mode, message] of failures) {
    it(`fails clearly on a ${mode} download and leaves nothing behind`, async () => {
      const cacheDir = fresh();
      await expect(
        loadSentiment({ cacheDir, sharedDir: false, url: `${base}/${mode}.zip`, expected, progress: false }),
      ).rejects.toThrow(message);
      const dir = join(cacheDir, 'sentiment');
      expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
    });
  }

  it('accepts by default only the official archive (84,188 bytes and its sha256)', async () => {
    await expect(
      loadSentiment({ cacheDir: fresh(), sharedDir: false, url: `${base}/ok.zip`, progress: false }),
    ).rejects.toThrow(/got \d+ bytes, expected 84188 bytes, sha256 afc26626d7108999/);
  });

  it('refuses to download when downloading is off, saying where it looked', async () => {
    await expect(loadSentiment({ cacheDir: fresh(), sharedDir: false, download: false })).rejects.toThrow(
      /no copy found \(looked in .*sentiment\) and downloading is off/,
    );
  });
});

describe('splitSentiment', () => {
  it('splits the real data by (source, label), the same for a seed, with no sentence in two parts', async () => {
    const data = await loadSentiment({ download: false });
    const a = splitSentiment(data, { seed: 3 });
    const b = splitSentiment(data, { seed: 3 });
    const c = splitSentiment(data, { seed: 4 });
    expect(a.removed).toEqual({ duplicates: 21, conflicting: 0 });
    const sizes = [a.train, a.validation, a.test].map((p) => p.sentences.length);
    expect(sizes.reduce((s, n) => s + n, 0)).toBe(3000 - 21);
    expect(a.test.sentences.length).toBeGreaterThan(440);
    expect(a.test.batch.x).toEqual(b.test.batch.x);
    expect(a.checksum).toBe(b.checksum);
    expect(c.checksum).not.toBe(a.checksum);
    expect(c.test.sentences).not.toEqual(a.test.sentences);
    const keys = (p: typeof a.train) => p.sentences.map((s) => tokenize(s.text).join(' '));
    const train = new Set(keys(a.train));
    for (const k of [...keys(a.validation), ...keys(a.test)]) expect(train.has(k)).toBe(false);
    for (const part of [a.train, a.validation, a.test])
      for (const source of ['amazon', 'imdb', 'yelp']) {
        const own = part.sentences.filter((s) => s.source === source);
        const positive = own.filter((s) => s.label === 1).length;
        // exactly balanced before deduplication; the 21 repeats removed tip it by under 1%
        expect(Math.abs(positive / own.length - 0.5)).toBeLessThan(0.01);
        expect(own.length / part.sentences.length).toBeCloseTo(1 / 3, 1);
      }
  });

  it('builds the vocabulary from the training part only', async () => {
    const data = await loadSentiment({ download: false });
    const split = splitSentiment(data, { seed: 0, minCount: 1 });
    const trainTokens = new Set(split.train.sentences.flatMap((s) => tokenize(s.text)));
    expect(split.vocabulary.size).toBe(trainTokens.size + 2);
    const testOnly = split.test.sentences.flatMap((s) => tokenize(s.text)).filter((t) => !trainTokens.has(t));
    expect(testOnly.length).toBeGreaterThan(0);
    for (const t of testOnly) expect(split.vocabulary.id(t)).toBe(UNKNOWN_ID);
    expect(split.train.batch.inputShape).toEqual([48]);
    expect(() => splitSentiment(data, { seed: 0, validation: 0.6, test: 0.5 })).toThrow(
      /validation \+ test = 1\.1 leaves no training sentences/,
    );
  });
});

describe('stratifiedSubset', () => {
  it('takes the share of each class, nested: the 10% subset lies inside the 30% one', () => {
    const labels = Int32Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? 1 : 0));
    const pick = (share: number) => stratifiedSubset(labels, share, createRng(5).derive('labels'));
    const [ten, thirty, all] = [pick(0.1), pick(0.3), pick(1)];
    const count = (m: Uint8Array, c: number) => m.reduce((n, v, i) => n + (v && labels[i] === c ? 1 : 0), 0);
    expect([count(ten, 0), count(ten, 1)]).toEqual([15, 5]);
    expect([count(thirty, 0), count(thirty, 1)]).toEqual([45, 15]);
    expect(all.every((v) => v === 1)).toBe(true);
    ten.forEach((v, i) => {
      if (v) expect(thirty[i]).toBe(1);
    });
    expect(() => stratifiedSubset(labels, 0, createRng(1))).toThrow(/share must be in \(0, 1\], got 0/);
  });
});
