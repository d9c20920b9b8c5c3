import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { version } from '../src/index.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/reptile-bench.mjs', import.meta.url));

describe('reptile-bench CLI', () => {
  it('prints its version', async () => {
    const { stdout } = await run(process.execPath, [bin, '--version']);
    expect(stdout.trim()).toBe(version);
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('prints help naming the program', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    expect(stdout).toContain('Usage: reptile-bench');
    expect(stdout).toContain('--version');
  });

  it('exits non-zero on an unknown command', async () => {
    await expect(run(process.execPath, [bin, 'no-such-command'])).rejects.toMatchObject({ code: 1 });
  });
});
