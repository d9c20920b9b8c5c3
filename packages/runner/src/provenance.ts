import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This source file's folder: the commit is the one of the code that runs, wherever it is invoked from. */
const codeDir = dirname(fileURLToPath(import.meta.url));

/**
 * The commit the code was run from: `git rev-parse HEAD`, with `-dirty` when the working tree has changes
 * (tracked or untracked files, ignored ones and results/ aside), or `unknown` outside a git checkout. Asked
 * of the checkout holding this code, not of the working directory.
 */
export function codeCommit(cwd = codeDir): string {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', 'HEAD');
    // Reports under results/ are outputs, not code: writing them must not mark the next runs dirty.
    const dirty = git('status', '--porcelain', '--', ':/', ':(top,exclude)results') !== '';
    return dirty ? `${head}-dirty` : head;
  } catch {
    return 'unknown';
  }
}
