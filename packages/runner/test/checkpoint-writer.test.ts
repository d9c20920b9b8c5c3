import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker } from '@reptile-bench/tracking';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint } from '../src/checkpoint.ts';
import { planSweep } from '../src/config/sweep.ts';
import { executeRun } from '../src/execute.ts';

// Every kind of run tells `onCheckpoint` after each checkpoint it writes: that is how a queue worker keeps a copy
// of the checkpoint off its machine, so a run of any kind continues elsewhere when the machine is lost.

const runs = {
  'few-shot': `
  dataset: { name: sine, shots: 5, train_shots: 10, query_shots: 10 }
  model: { name: mlp, hidden: [8] }
  algorithm: { name: reptile, meta_iters: 9, meta_batch: 2, inner_iters: 2, inner_batch: 5, learning_rate: 0.01, optimizer: adam }
  eval: { episodes: 4, eval_iters: 2, eval_batch: 5, optimizer: adam, learning_rate: 0.01 }`,
  text: `
  dataset: { name: sentiment }
  model: { name: lstm, embedding: 8, hidden: 8 }
  algorithm: { name: supervised, train_iters: 9, train_batch: 16, learning_rate: 0.005 }
  eval: { every: 0, timing_sentences: 2 }`,
  'local SGD': `
  dataset: { name: fashion-mnist }
  model: { name: mlp, hidden: [8], activation: relu }
  algorithm: { name: local-sgd, replicas: 2, sync_every: 1, batch: 8, learning_rate: 0.05, examples: 144 }
  eval: { every_examples: 144 }`,
};

describe('checkpoints are announced for every kind of run', () => {
  for (const [kind, run] of Object.entries(runs))
    it(kind, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'checkpoint-writer-'));
      const file = join(dir, 'sweep.yaml');
      writeFileSync(
        file,
        `name: announced
seeds: [0]
defaults:
  backend: cpu
  checkpoint: { every_iterations: 3, every_seconds: 100000 }
runs:
  - name: run${run.replaceAll('\n', '\n  ')}
`,
      );
      const [planned] = planSweep(file).runs;
      if (planned === undefined) throw new Error('the sweep planned no run');
      const tracker = createTracker({ dir: join(dir, 'results'), experiment: 'announced' });
      const seen: string[] = [];
      const checkpointFile = tracker.store.checkpointPath(planned.runId);
      const result = await executeRun(planned, {
        tracker,
        commit: 'test',
        threads: 1,
        onCheckpoint: () => {
          // Read now, before the run goes on: the announced checkpoint is on disk and whole.
          const c = decodeCheckpoint(readFileSync(checkpointFile), checkpointFile);
          seen.push(c.phase === 'train' ? `train ${c.training.iteration}` : c.phase);
        },
      });
      expect(result.status, result.error).toBe('FINISHED');
      // Every third training iteration; a few-shot run also checkpoints as its final evaluation starts.
      expect(seen.filter((s) => s.startsWith('train'))).toEqual(['train 3', 'train 6']);
      if (kind === 'few-shot') expect(seen).toContain('eval');
    });
});
