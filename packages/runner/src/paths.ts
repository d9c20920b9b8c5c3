// Where the project's files are, wherever the CLI is invoked from.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder holding pnpm-workspace.yaml), for finding experiments/ from anywhere. */
export function repoRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** `experiments/<suite>.yaml` from the working directory or the repository root, or the path as given. */
export function suiteFile(suite: string): string {
  if (suite.endsWith('.yaml') || suite.endsWith('.yml')) return suite;
  const candidates = [resolve('experiments', `${suite}.yaml`)];
  const root = repoRoot();
  if (root) candidates.push(join(root, 'experiments', `${suite}.yaml`));
  return candidates.find((c) => existsSync(c)) ?? (candidates[0] as string);
}
