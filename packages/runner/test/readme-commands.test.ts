import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The README promises commands that work on a machine with only Node, npm and Python: after its install, every
// "Using it" command runs through npx, without a global pnpm. Each one is run here (with --help, so nothing
// trains) with a PATH that holds only node, npm and npx.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const run = promisify(execFile);

/** A PATH with nothing but the node, npm and npx this test runs with, and basic shell tools. */
function bareBin(): string {
  const bin = mkdtempSync(join(tmpdir(), 'bare-bin-'));
  const nodeDir = dirname(process.execPath);
  for (const tool of ['node', 'npm', 'npx']) symlinkSync(join(nodeDir, tool), join(bin, tool));
  // The shell tools every machine has, which npx and the installed command shims use.
  for (const tool of ['sh', 'dirname', 'sed', 'uname', 'env']) {
    const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((f) => existsSync(f));
    if (found) symlinkSync(found, join(bin, tool));
  }
  return bin;
}

/** The commands of the README's "Using it" block, without their comments and environment prefixes. */
function usingItCommands(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Using it'));
  const block = section.slice(
    section.indexOf('```sh') + 5,
    section.indexOf('```', section.indexOf('```sh') + 5),
  );
  return block
    .split('\n')
    .map((line) =>
      line
        .replace(/#.*$/, '')
        .replace(/^[A-Z_]+=\S+\s+/, '')
        .trim(),
    )
    .filter((line) => line.length > 0);
}

describe("the README's commands without a global pnpm", () => {
  const path = bareBin();

  it('has no pnpm on that PATH', async () => {
    await expect(run('sh', ['-c', 'command -v pnpm'], { env: { PATH: path } })).rejects.toThrow();
  });

  it('runs every "Using it" command (with --help) through npx', async () => {
    const commands = usingItCommands();
    expect(commands.length).toBeGreaterThanOrEqual(8);
    const subcommands = new Set<string>();
    for (const command of commands) {
      const [npx, cli, subcommand] = command.split(/\s+/);
      expect([npx, cli], command).toEqual(['npx', 'reptile-bench']);
      subcommands.add(subcommand!);
    }
    for (const subcommand of subcommands) {
      const command = `npx reptile-bench ${subcommand}`;
      const { stdout } = await run(
        join(path, 'npx'),
        ['--no-install', 'reptile-bench', subcommand!, '--help'],
        {
          cwd: root,
          env: { PATH: path, HOME: process.env.HOME ?? tmpdir() },
        },
      );
      expect(stdout, command).toContain(`Usage: reptile-bench ${subcommand}`);
    }
  }, 120_000);
});
