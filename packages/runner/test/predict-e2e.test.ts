import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSharedDir } from '@reptile-bench/datasets';
import { encode as encodePng } from 'fast-png';
import { unzipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, lastJson } from './cli-helpers.ts';

// A meta-trained Omniglot model on the user's own images, through the CLI: real Omniglot PNGs copied into class
// folders, generated images of other sizes and formats, and fixed episode folders.

// The official archives: $OMNIGLOT_DIR (what .ci/run sets for a clone), else the copy beside the checkout.
const shared = process.env.OMNIGLOT_DIR ?? defaultSharedDir();
const haveArchives = shared !== undefined && existsSync(join(shared, 'images_evaluation.zip'));
if (!haveArchives)
  console.warn(
    `SKIPPED: predict and evaluate --episodes-from on real Omniglot images: no images_evaluation.zip in ${shared ?? '../shared/data/omniglot'} (set OMNIGLOT_DIR)`,
  );

interface Prediction {
  file: string;
  predicted: string;
  probability: number;
  probabilities: number[];
  actual?: string;
  correct?: boolean;
}

describe.skipIf(!haveArchives)('reptile-bench predict and evaluate --episodes-from', () => {
  const dir = mkdtempSync(join(tmpdir(), 'predict-e2e-'));
  const out = join(dir, 'results');
  let runId: string;
  /** Omniglot evaluation characters: name → its 20 PNG files' bytes. */
  const characters = new Map<string, Uint8Array[]>();

  beforeAll(async () => {
    const sweep = join(dir, 'tiny.yaml');
    writeFileSync(
      sweep,
      `name: tiny
seeds: [0]
runs:
  - dataset: { name: omniglot, ways: 5, shots: 1, train_shots: 5 }
    model: { name: conv4, filters: 16 }
    algorithm: { name: reptile, meta_iters: 40, meta_batch: 2, inner_iters: 3, inner_batch: 10, learning_rate: 0.003 }
    eval: { episodes: 4, eval_iters: 10, eval_batch: 5, learning_rate: 0.003 }
`,
    );
    const trained = await cli(['sweep', sweep, '--out', out, '--json', '--progress', 'none']);
    expect(trained.code, trained.stderr).toBe(0);
    runId = lastJson(trained.stdout).runs[0]!.id;
    const zip = readFileSync(join(shared as string, 'images_evaluation.zip'));
    const entries = unzipSync(zip, { filter: (f) => /\/Angelic\/character0[1-6]\/.*\.png$/.test(f.name) });
    for (const name of Object.keys(entries).sort()) {
      const character = name.split('/').at(-2)!;
      characters.set(character, [...(characters.get(character) ?? []), entries[name]!]);
    }
  }, 300_000);

  /** Class folders of `ways` characters with the images `[from, to)` of each. */
  function classFolders(root: string, from: number, to: number, ways = 5): string {
    [...characters.keys()].slice(0, ways).forEach((character) => {
      mkdirSync(join(root, character), { recursive: true });
      characters
        .get(character)!
        .slice(from, to)
        .forEach((png, i) => {
          writeFileSync(join(root, character, `${i}.png`), png);
        });
    });
    return root;
  }

  /** `reptile-bench predict` with the run's model on support and query folders or files. */
  const predict = (support: string, query: string | string[], ...extra: string[]) =>
    cli([
      'predict',
      '--model',
      runId,
      '--out',
      out,
      '--support',
      support,
      ...[query].flat().flatMap((q) => ['--query', q]),
      ...extra,
    ]);

  it('adapts on real Omniglot support images and predicts labelled queries, with probabilities', async () => {
    const support = classFolders(join(dir, 'support'), 0, 5);
    // The support images themselves as queries: an adapted model must get nearly all of them.
    const same = await predict(support, support, '--json');
    expect(same.code, same.stderr).toBe(0);
    const memorised = JSON.parse(same.stdout) as {
      accuracy: number;
      predictions: Prediction[];
      classes: string[];
    };
    expect(memorised.classes).toEqual([...characters.keys()].slice(0, 5));
    expect(memorised.predictions).toHaveLength(25);
    expect(memorised.accuracy).toBeGreaterThanOrEqual(0.8);
    for (const p of memorised.predictions) {
      expect(p.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(p.probability).toBe(Math.max(...p.probabilities));
    }

    const query = classFolders(join(dir, 'query'), 10, 13);
    const table = await predict(support, query);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/adapted on 25 support images of 5 classes .*non-transductive/);
    expect(table.stdout).toMatch(/accuracy: \d+\.\d\d % \(\d+\/15\)/);
    const csv = await predict(support, query, '--csv', '--transductive');
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      `file,predicted,probability,actual,correct,${[...characters.keys()]
        .slice(0, 5)
        .map((c) => `p_${c}`)
        .join(',')}`,
    );
    expect(lines).toHaveLength(16);
  });

  it('takes loose query files of any size and format; unlabelled, one prediction each', async () => {
    const support = join(dir, 'support');
    const loose = join(dir, 'loose');
    mkdirSync(loose, { recursive: true });
    // An RGB PNG of 61×47 (gray paper, a dark stroke) and a real character image.
    const data = new Uint8Array(61 * 47 * 3).fill(230);
    for (let y = 10; y < 37; y++) data.set([20, 20, 120], (y * 61 + 30) * 3);
    writeFileSync(
      join(loose, 'stroke.png'),
      encodePng({ width: 61, height: 47, data, channels: 3, depth: 8 }),
    );
    writeFileSync(join(loose, 'real.png'), characters.get([...characters.keys()][0]!)![19]!);
    const result = await predict(support, [join(loose, 'stroke.png'), join(loose, 'real.png')], '--json');
    expect(result.code, result.stderr).toBe(0);
    const predictions = (JSON.parse(result.stdout) as { predictions: Prediction[]; accuracy?: number })
      .predictions;
    expect(predictions.map((p) => p.file.split('/').pop())).toEqual(['stroke.png', 'real.png']);
    expect(predictions.every((p) => p.actual === undefined)).toBe(true);
  });

  it('refuses what it cannot use, naming the folder or file', async () => {
    const fourWay = classFolders(join(dir, 'four'), 0, 2, 4);
    const wrongWays = await predict(fourWay, fourWay);
    expect(wrongWays.code).toBe(1);
    expect(wrongWays.stderr).toMatch(
      /four: 4 class folders .* but the model of run .* adapts 5-way: give exactly 5 class folders/,
    );
    const empty = join(dir, 'empty');
    classFolders(empty, 0, 1);
    mkdirSync(join(empty, 'zz-empty'));
    const emptyClass = await predict(empty, empty);
    expect(emptyClass.stderr).toMatch(/empty\/zz-empty: class folder without images/);
    const badDir = join(dir, 'bad');
    classFolders(badDir, 0, 1);
    writeFileSync(join(badDir, [...characters.keys()][0]!, 'broken.png'), 'not an image at all');
    const unreadable = await predict(badDir, badDir);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toMatch(/broken\.png: neither a PNG nor a JPEG/);
    const strange = join(dir, 'strange-query');
    mkdirSync(join(strange, 'unknown-class'), { recursive: true });
    writeFileSync(join(strange, 'unknown-class', '0.png'), characters.get([...characters.keys()][0]!)![0]!);
    const unknown = await predict(join(dir, 'support'), strange);
    expect(unknown.stderr).toMatch(
      /unknown-class: class "unknown-class" is not among the support set's classes/,
    );
  });

  it('scores fixed episode folders with the run’s own evaluation settings', async () => {
    const episodes = join(dir, 'episodes');
    for (let e = 0; e < 3; e++) {
      classFolders(join(episodes, `episode-${e}`, 'support'), e, e + 1);
      classFolders(join(episodes, `episode-${e}`, 'query'), 10 + e, 12 + e);
    }
    const scored = await cli(['evaluate', runId, '--out', out, '--episodes-from', episodes, '--json']);
    expect(scored.code, scored.stderr).toBe(0);
    const result = JSON.parse(scored.stdout) as {
      episodes: number;
      names: string[];
      results: Record<string, { mean: number; n: number; per_episode: number[] }>;
    };
    expect(result.episodes).toBe(3);
    expect(result.names).toEqual(['episode-0', 'episode-1', 'episode-2']);
    for (const mode of ['nontransductive', 'transductive']) {
      expect(result.results[mode]?.n).toBe(3);
      // 10 queries per episode: scores are tenths
      for (const score of result.results[mode]!.per_episode)
        expect(Math.round(score * 10) / 10).toBeCloseTo(score, 12);
    }
    classFolders(join(episodes, 'episode-3', 'support'), 0, 1, 4);
    classFolders(join(episodes, 'episode-3', 'query'), 1, 2, 4);
    const wrong = await cli(['evaluate', runId, '--out', out, '--episodes-from', episodes]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/episode-3\/support: 4 class folders, but the model adapts 5-way/);
  });
});
