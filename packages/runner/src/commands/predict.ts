import type { Command } from 'commander';
import type { PredictOptions } from '../actions/predict.ts';
import { seedOption } from './options.ts';

export function register(program: Command): void {
  program
    .command('predict')
    .description(
      "adapt a run's model to your own support images (one folder per class) and predict your query images",
    )
    .requiredOption('--model <run id | model.json>', 'a run id in the run store, or a model.json a run saved')
    .requiredOption(
      '--support <dir>',
      'the support set: one sub-folder of images per class (PNG or JPEG, any size)',
    )
    .requiredOption(
      '--query <path>',
      'query images or folders of them (repeatable); one folder of class folders gives labelled queries and an accuracy',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--out <dir>', 'folder holding the run store (runs/)', 'results')
    .option('--transductive', 'predict all queries in one batch (batch norm sees them together)')
    .option('--seed <n>', "seed of the adaptation's mini-batches (default 0)", seedOption)
    .option('--json', 'print the predictions as one JSON object')
    .option('--csv', 'print the predictions as CSV (with each class probability)')
    .action(async (opts: PredictOptions) => {
      const { predictCommand } = await import('../actions/predict.ts');
      await predictCommand(opts);
    });
}
