import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A name beside `path` for writing before the rename, unique per process and call. */
export function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
}

/**
 * Writes `chunks` to `path` through a temporary file and a rename, so readers (and concurrent runs) see either
 * the old file or the complete new one, never a half-written file.
 */
export async function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, chunks);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** The monorepo's root (the folder holding pnpm-workspace.yaml) above this package, or above the working dir. */
export function findRepoRoot(): string | undefined {
  const starts = [dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    let dir = resolve(start);
    for (;;) {
      if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return undefined;
}

/** Where decoded datasets and downloaded archives live: $REPTILE_BENCH_CACHE, else `<repo>/.cache/datasets`. */
export function defaultCacheDir(): string {
  const fromEnv = process.env.REPTILE_BENCH_CACHE;
  if (fromEnv) return resolve(fromEnv);
  const root = findRepoRoot();
  return root ? join(root, '.cache', 'datasets') : join(homedir(), '.cache', 'reptile-bench', 'datasets');
}
