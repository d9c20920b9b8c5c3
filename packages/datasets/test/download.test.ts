import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExpectedFile, loadOmniglot, OMNIGLOT_ARCHIVES } from '../src/index.ts';
import { omniglotArchives, SMALL_SPEC } from './fixtures.ts';

const archives = omniglotArchives(SMALL_SPEC);
const expected = Object.fromEntries(
  Object.entries(archives).map(([name, bytes]) => [
    name,
    [{ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }] as ExpectedFile[],
  ]),
);

/** A local server with one behaviour per path prefix; it counts the requests it answers. */
let server: Server;
let base: string;
const requests: string[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'omniglot-download-'));

beforeAll(async () => {
  delete process.env.OMNIGLOT_DIR;
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const [, mode, name] = (req.url ?? '').split('/');
    const body = archives[name as keyof typeof archives];
    if (!body) return res.writeHead(404).end('no such file');
    switch (mode) {
      case 'ok':
        return res.writeHead(200, { 'content-length': body.length }).end(body);
      case 'corrupt': {
        const bad = Uint8Array.from(body);
        bad[100]! ^= 0xff;
        return res.writeHead(200, { 'content-length': bad.length }).end(bad);
      }
      case 'truncated':
        // Announces the full length, sends half, then drops the connection.
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, body.length >> 1), () => res.destroy());
        return;
      case 'short':
        // A well-formed response that is simply shorter than the release.
        return res
          .writeHead(200, { 'content-length': body.length >> 1 })
          .end(body.subarray(0, body.length >> 1));
      case 'error':
        return res.writeHead(500, 'Internal Server Error').end('boom');
      default:
        return res.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((done) => server.close(done));
  rmSync(scratch, { recursive: true, force: true });
});

let counter = 0;
const freshCache = () => join(scratch, `cache-${counter++}`);

describe('Omniglot download', () => {
  it('downloads, verifies and keeps the archives, then reuses them without the network', async () => {
    const cacheDir = freshCache();
    requests.length = 0;
    const data = await loadOmniglot({
      cacheDir,
      sharedDir: false,
      baseUrl: `${base}/ok/`,
      expected,
      progress: false,
    });
    expect(data.source).toBe('download');
    expect(data.characters).toHaveLength(7);
    expect(requests.sort()).toEqual(['/ok/images_background.zip', '/ok/images_evaluation.zip']);
    for (const name of OMNIGLOT_ARCHIVES) {
      const kept = readFileSync(join(cacheDir, 'omniglot', 'archives', name));
      expect(Buffer.compare(kept, archives[name])).toBe(0);
      expect(data.sha256[name]).toBe(expected[name]![0]!.sha256);
    }
    const again = await loadOmniglot({
      cacheDir,
      sharedDir: false,
      baseUrl: `${base}/error`,
      expected,
      progress: false,
    });
    expect(again.source).toBe('cache');
    expect(again.fromCache).toBe(true);
    expect(requests).toHaveLength(2);
  });

  it('fetches only the archive that is missing', async () => {
    const cacheDir = freshCache();
    await loadOmniglot({ cacheDir, sharedDir: false, baseUrl: `${base}/ok`, expected, progress: false });
    rmSync(join(cacheDir, 'omniglot', 'archives', 'images_evaluation.zip'));
    requests.length = 0;
    const data = await loadOmniglot({
      cacheDir,
      sharedDir: false,
      baseUrl: `${base}/ok`,
      expected,
      progress: false,
    });
    expect(requests).toEqual(['/ok/images_evaluation.zip']);
    expect(data.fromCache).toBe(true); // same archives, same decoded data
  });

  const failures: Array<[string, RegExp]> = [
    ['corrupt', /has the wrong checksum: sha256 [0-9a-f]{64}, expected \d+ bytes, sha256 [0-9a-f]{64}/],
    [
      'truncated',
      /download http:\/\/127\.0\.0\.1:\d+\/truncated\/images_background\.zip broke off after \d+ bytes/,
    ],
    ['short', /is truncated or wrong: got \d+ bytes, expected \d+ bytes/],
    ['error', /failed: the server answered HTTP 500 Internal Server Error/],
  ];
  for (const [mode, message] of failures) {
    it(`fails clearly on a ${mode} download and leaves nothing behind`, async () => {
      const cacheDir = freshCache();
      await expect(
        loadOmniglot({ cacheDir, sharedDir: false, baseUrl: `${base}/${mode}`, expected, progress: false }),
      ).rejects.toThrow(message);
      const archiveDir = join(cacheDir, 'omniglot', 'archives');
      expect(existsSync(archiveDir) ? readdirSync(archiveDir) : []).toEqual([]);
    });
  }

  it('refuses a file that is not a known release by default', async () => {
    const cacheDir = freshCache();
    await expect(
      loadOmniglot({ cacheDir, sharedDir: false, baseUrl: `${base}/ok`, progress: false }),
    ).rejects.toThrow(
      /truncated or wrong: got \d+ bytes, expected 9464212 bytes, sha256 ad41ab67.* or 8014965 bytes/,
    );
  });

  it('reports an unreachable server', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    await expect(
      loadOmniglot({
        cacheDir: freshCache(),
        sharedDir: false,
        baseUrl: `http://127.0.0.1:${port}`,
        expected,
        progress: false,
      }),
    ).rejects.toThrow(/download http:\/\/127\.0\.0\.1:\d+\/images_background\.zip failed: fetch failed/);
  });
});
