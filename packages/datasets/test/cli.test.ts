import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { summarizeSineTask } from '../src/index.ts';
import { omniglotArchives, SMALL_SPEC, writeArchives } from './fixtures.ts';

// `reptile-bench data ...` lives in the runner package; these tests run the real CLI as a user would.
const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../runner/bin/reptile-bench.mjs', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'datasets-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const env = { ...process.env, OMNIGLOT_DIR: '' };

describe('reptile-bench data', () => {
  it('omniglot reads a given folder and applies the split options', async () => {
    const dir = join(scratch, 'archives');
    writeArchives(dir, omniglotArchives(SMALL_SPEC));
    const args = ['data', 'omniglot', '--json', '--dir', dir, '--cache-dir', join(scratch, 'cache')];
    const { stdout } = await run(process.execPath, [bin, ...args, '--split', 'official', '--no-augment'], {
      env,
    });
    expect(JSON.parse(stdout)).toMatchObject({
      alphabets: 3,
      characters: 7,
      images: 21,
      split: 'official',
      train_classes: 5,
      test_classes: 2,
      source: 'option',
      from_cache: false,
    });
  });

  it('sine --json prints the sample task drawn with the seed', async () => {
    const { stdout } = await run(
      process.execPath,
      [bin, 'data', 'sine', '--json', '--seed', '7', '--shots', '5'],
      { env },
    );
    const summary = JSON.parse(stdout);
    expect(summary).toEqual(JSON.parse(JSON.stringify(summarizeSineTask({ seed: 7, shots: 5 }))));
    expect(summary.support.size).toBe(5);
    expect(summary.amplitude).toBeGreaterThanOrEqual(0.1);
    expect(summary.amplitude).toBeLessThan(5);
    expect(Math.abs(summary.support.y_max)).toBeLessThanOrEqual(summary.amplitude);
  });
});
