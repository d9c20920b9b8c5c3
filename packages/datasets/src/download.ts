import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import { tempPathFor } from './files.ts';

/** A file we accept: its exact size in bytes and sha256 (hex); `label` says which release it is. */
export interface ExpectedFile {
  size: number;
  sha256: string;
  label?: string;
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}

/**
 * Downloads `url` to `dest`, streaming through a temporary file while hashing. The file appears at `dest` only
 * when its size and sha256 match one of `accepted`; on any failure (HTTP error, dropped connection, truncated or
 * oversized body, wrong checksum) nothing is left behind and the error says what happened.
 */
export async function downloadVerified(
  url: string,
  dest: string,
  accepted: readonly ExpectedFile[],
  o: { progress?: boolean } = {},
): Promise<{ size: number; sha256: string; match: ExpectedFile }> {
  if (accepted.length === 0) throw new Error(`download ${url}: no expected size/sha256 to verify against`);
  const maxSize = Math.max(...accepted.map((a) => a.size));
  const expectedText = accepted.map((a) => `${a.size} bytes, sha256 ${a.sha256}`).join(' or ');
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempPathFor(dest);
  const file = await open(tmp, 'w');
  let bar: SingleBar | undefined;
  try {
    let response: Response;
    try {
      response = await fetch(url, { redirect: 'follow' });
    } catch (error) {
      throw new Error(`download ${url} failed: ${describeCause(error)}`);
    }
    if (!response.ok || !response.body)
      throw new Error(
        `download ${url} failed: the server answered HTTP ${response.status} ${response.statusText}`,
      );
    const announced = Number(response.headers.get('content-length') ?? Number.NaN);
    if (announced > maxSize)
      throw new Error(`download ${url}: the server announces ${announced} bytes, expected ${expectedText}`);
    if (o.progress) {
      bar = new SingleBar(
        {
          format: `${url.split('/').pop()} [{bar}] {percentage}% {value}/{total} bytes`,
          stream: process.stderr,
        },
        Presets.shades_classic,
      );
      bar.start(Number.isFinite(announced) ? announced : maxSize, 0);
    }
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > maxSize)
          throw new Error(`download ${url}: the body exceeds ${maxSize} bytes, expected ${expectedText}`);
        hash.update(chunk);
        await file.write(chunk);
        bar?.update(size);
      }
    } catch (error) {
      if (error instanceof Error && error.message.startsWith(`download ${url}`)) throw error;
      throw new Error(`download ${url} broke off after ${size} bytes: ${describeCause(error)}`);
    }
    const sha256 = hash.digest('hex');
    const sized = accepted.filter((a) => a.size === size);
    if (sized.length === 0)
      throw new Error(`download ${url} is truncated or wrong: got ${size} bytes, expected ${expectedText}`);
    const match = sized.find((a) => a.sha256 === sha256);
    if (!match)
      throw new Error(
        `download ${url} has the wrong checksum: sha256 ${sha256}, expected ${expectedText}; ` +
          'the file on the server is not the release this loader knows (pass the right expected checksums or a local copy)',
      );
    await file.close();
    await rename(tmp, dest);
    return { size, sha256, match };
  } catch (error) {
    await file.close().catch(() => {});
    await rm(tmp, { force: true });
    throw error;
  } finally {
    bar?.stop();
  }
}
