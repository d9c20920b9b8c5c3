import { createRng } from '@reptile-bench/core';
import type { MiniImageNet } from './mini-imagenet.ts';
import { countAlphabets, type Omniglot } from './omniglot.ts';
import { type OmniglotSplitOptions, splitOmniglot } from './omniglot-split.ts';
import { SINE_DISTRIBUTION, sineSampler } from './sine.ts';
import type { Batch } from './types.ts';

/** What `reptile-bench data omniglot --json` prints: counts, where the data came from, and its checksums. */
export function summarizeOmniglot(data: Omniglot, split: OmniglotSplitOptions) {
  const { train, test, checksum } = splitOmniglot(data, split);
  return {
    dataset: 'omniglot',
    alphabets: countAlphabets(data),
    characters: data.characters.length,
    images: data.characters.reduce((n, c) => n + c.count, 0),
    image_size: data.imageSize,
    filter: data.filter,
    split: split.split ?? 'paper',
    seed: split.seed,
    train_classes: train.numClasses,
    test_classes: test.numClasses,
    source: data.source,
    archive_dir: data.archiveDir,
    sha256: data.sha256,
    content_sha256: data.contentSha256,
    data_checksum: checksum,
    cache_file: data.cacheFile,
    from_cache: data.fromCache,
  };
}

function batchStats(b: Batch) {
  const xs = Array.from(b.x);
  const ys = Array.from(b.y);
  const mean = (v: number[]) => v.reduce((s, a) => s + a, 0) / v.length;
  return {
    size: b.size,
    x_min: Math.min(...xs),
    x_max: Math.max(...xs),
    y_min: Math.min(...ys),
    y_max: Math.max(...ys),
    y_mean: mean(ys),
  };
}

/** What `reptile-bench data sine --json` prints: one sample task drawn with the seed, and its support/query stats. */
export function summarizeSineTask(o: { seed: number; shots: number; queryShots?: number }) {
  const sampler = sineSampler({
    shots: o.shots,
    ...(o.queryShots === undefined ? {} : { queryShots: o.queryShots }),
  });
  const episode = sampler.sample(createRng(o.seed).derive('sine', 'sample-task'));
  return {
    dataset: 'sine',
    seed: o.seed,
    distribution: SINE_DISTRIBUTION,
    amplitude: episode.task.amplitude,
    phase: episode.task.phase,
    support: batchStats(episode.support),
    query: batchStats(episode.query),
    data_checksum: sampler.checksum,
  };
}

/** What `reptile-bench data mini-imagenet --json` prints. */
export function summarizeMiniImageNet(data: MiniImageNet) {
  const images = (s: MiniImageNet['train']) =>
    Array.from({ length: s.numClasses }, (_, c) => s.count(c)).reduce((a, b) => a + b, 0);
  return {
    dataset: 'mini-imagenet',
    train_classes: data.train.numClasses,
    val_classes: data.val.numClasses,
    test_classes: data.test.numClasses,
    images: images(data.train) + images(data.val) + images(data.test),
    image_size: data.imageSize,
    content_sha256: data.contentSha256,
    data_checksum: data.checksum,
    from_cache: data.fromCache,
  };
}
