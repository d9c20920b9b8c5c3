// Prints how long Omniglot takes to become usable: a cold load (decode the archives, write the cache) and warm
// loads (read the cache), then how fast the task sampler draws episodes. Run: pnpm --filter @reptile-bench/datasets bench
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@reptile-bench/core';
import { fewShotSampler, loadOmniglot, splitOmniglot } from '../src/index.ts';

const seconds = (start: number) => ((performance.now() - start) / 1000).toFixed(3);
// CPU seconds of this process: on a shared machine, a steadier figure than wall time.
const cpuSeconds = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return ((used.user + used.system) / 1e6).toFixed(3);
};
const cacheDir = mkdtempSync(join(tmpdir(), 'omniglot-bench-'));
try {
  let start = performance.now();
  const cpu = process.cpuUsage();
  const cold = await loadOmniglot({ cacheDir, progress: false, download: false });
  console.log(
    `cold load (decode ${cold.characters.length} characters from ${cold.source}): ${seconds(start)} s wall, ${cpuSeconds(cpu)} s CPU`,
  );
  for (let i = 1; i <= 3; i++) {
    start = performance.now();
    const warm = await loadOmniglot({ cacheDir, progress: false, download: false });
    if (!warm.fromCache) throw new Error('expected the cache to be used');
    console.log(`warm load ${i} (from the cache): ${seconds(start)} s`);
  }
  const { train, test } = splitOmniglot(cold, { seed: 0 });
  for (const [name, set, o] of [
    ['train 5-way × 10 images', train, { ways: 5, shots: 10, queryShots: 0 }],
    ['test 20-way 5-shot + 1 query', test, { ways: 20, shots: 5, queryShots: 1 }],
  ] as const) {
    const sampler = fewShotSampler(set, o);
    const rng = createRng(0);
    const n = 2000;
    start = performance.now();
    for (let i = 0; i < n; i++) sampler.sample(rng);
    const elapsed = (performance.now() - start) / 1000;
    console.log(`${name}: ${(n / elapsed).toFixed(0)} episodes/s`);
  }
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
