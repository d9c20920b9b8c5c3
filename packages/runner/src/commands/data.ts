import {
  loadMiniImageNet,
  loadOmniglot,
  type ResizeFilter,
  summarizeMiniImageNet,
  summarizeOmniglot,
  summarizeSineTask,
} from '@reptile-bench/datasets';
import { type Command, InvalidArgumentError } from 'commander';
import { positiveInt } from './options.ts';

function integer(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got "${value}"`);
    return n;
  };
}

function nonNegativeInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${value}"`);
    return n;
  };
}

function choice<T extends string>(name: string, values: readonly T[]) {
  return (value: string): T => {
    if (!(values as readonly string[]).includes(value))
      throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}, got "${value}"`);
    return value as T;
  };
}

/** JSON on one line for --json, otherwise `key: value` lines. */
function print(summary: Record<string, unknown>, json: boolean | undefined): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  for (const [key, value] of Object.entries(summary))
    process.stdout.write(
      `${key.padEnd(16)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}\n`,
    );
}

interface OmniglotOptions {
  json?: boolean;
  dir?: string;
  cacheDir?: string;
  baseUrl?: string;
  download: boolean;
  progress?: boolean;
  seed: number;
  split: 'paper' | 'official';
  trainCharacters?: number;
  augment: boolean;
  imageSize: number;
  filter: ResizeFilter;
}

export function register(program: Command): void {
  const data = program
    .command('data')
    .description('prepare and inspect the datasets (Omniglot, sine waves, mini-ImageNet)');

  data
    .command('omniglot')
    .description(
      'locate (or download), decode and cache Omniglot, then print its counts, split and checksums',
    )
    .option('--json', 'print one JSON line on stdout')
    .option(
      '--dir <dir>',
      'folder holding images_background.zip and images_evaluation.zip (also $OMNIGLOT_DIR)',
    )
    .option(
      '--cache-dir <dir>',
      'decoded-data and download cache (default $REPTILE_BENCH_CACHE or <repo>/.cache/datasets)',
    )
    .option('--base-url <url>', 'where to download the archives from (default: the official location)')
    .option('--no-download', 'fail instead of downloading when no local copy is found')
    .option('--progress', 'show progress bars even when stderr is not a terminal')
    .option('--seed <n>', 'seed of the paper split', integer('--seed'), 0)
    .option(
      '--split <name>',
      'paper (merged, shuffled, 1200/423) or official (background/evaluation)',
      choice('--split', ['paper', 'official'] as const),
      'paper',
    )
    .option(
      '--train-characters <n>',
      'training characters of the paper split (default 1200)',
      positiveInt('--train-characters'),
    )
    .option('--no-augment', 'no 90/180/270° rotations of the training characters')
    .option('--image-size <n>', 'side of the square images', positiveInt('--image-size'), 28)
    .option(
      '--filter <name>',
      'resize filter: area or nearest',
      choice('--filter', ['area', 'nearest'] as const),
      'area',
    )
    .action(async (o: OmniglotOptions) => {
      const started = performance.now();
      const omniglot = await loadOmniglot({
        ...(o.dir === undefined ? {} : { dir: o.dir }),
        ...(o.cacheDir === undefined ? {} : { cacheDir: o.cacheDir }),
        ...(o.baseUrl === undefined ? {} : { baseUrl: o.baseUrl }),
        ...(o.progress ? { progress: true } : {}),
        download: o.download,
        imageSize: o.imageSize,
        filter: o.filter,
      });
      const loadSeconds = (performance.now() - started) / 1000;
      const summary = summarizeOmniglot(omniglot, {
        seed: o.seed,
        split: o.split,
        augment: o.augment,
        ...(o.trainCharacters === undefined ? {} : { trainCharacters: o.trainCharacters }),
      });
      print({ ...summary, load_seconds: Number(loadSeconds.toFixed(3)) }, o.json);
    });

  data
    .command('sine')
    .description(
      'draw one sine-wave task with the seed and print its parameters and the support/query statistics',
    )
    .option('--json', 'print one JSON line on stdout')
    .option('--seed <n>', 'seed of the sample task', integer('--seed'), 0)
    .option('--shots <n>', 'support points', positiveInt('--shots'), 10)
    .option(
      '--query-shots <n>',
      'query points (default: as many as --shots)',
      nonNegativeInt('--query-shots'),
    )
    .action((o: { json?: boolean; seed: number; shots: number; queryShots?: number }) => {
      print(
        summarizeSineTask({
          seed: o.seed,
          shots: o.shots,
          ...(o.queryShots === undefined ? {} : { queryShots: o.queryShots }),
        }),
        o.json,
      );
    });

  data
    .command('mini-imagenet')
    .description("decode and cache mini-ImageNet from Ravi & Larochelle's split files, then print its counts")
    .requiredOption('--dir <dir>', 'folder with train.csv, val.csv, test.csv and images/')
    .option('--json', 'print one JSON line on stdout')
    .option('--images-dir <dir>', 'image folder (default <dir>/images)')
    .option(
      '--cache-dir <dir>',
      'decoded-data cache (default $REPTILE_BENCH_CACHE or <repo>/.cache/datasets)',
    )
    .option('--image-size <n>', 'side of the square images', positiveInt('--image-size'), 84)
    .option('--progress', 'show a progress bar even when stderr is not a terminal')
    .action(
      async (o: {
        dir: string;
        json?: boolean;
        imagesDir?: string;
        cacheDir?: string;
        imageSize: number;
        progress?: boolean;
      }) => {
        const mini = await loadMiniImageNet({
          dir: o.dir,
          imageSize: o.imageSize,
          ...(o.imagesDir === undefined ? {} : { imagesDir: o.imagesDir }),
          ...(o.cacheDir === undefined ? {} : { cacheDir: o.cacheDir }),
          ...(o.progress ? { progress: true } : {}),
        });
        print(summarizeMiniImageNet(mini), o.json);
      },
    );
}
