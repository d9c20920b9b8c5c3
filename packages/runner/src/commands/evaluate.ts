import { type Command, InvalidArgumentError } from 'commander';
import type { EvaluateCommandOptions } from '../actions/evaluate.ts';
import { positiveInt, seedOption, workerCount } from './options.ts';

const modeNames = ['non-transductive', 'transductive'];

function modesOption(value: string): string[] {
  const modes = value.split(',').map((m) => m.trim());
  for (const mode of modes)
    if (!modeNames.includes(mode))
      throw new InvalidArgumentError(`--modes takes ${modeNames.join(' and/or ')}, got "${mode}"`);
  return modes;
}

function optimizerStateOption(value: string): 'fresh' | 'trained' {
  if (value !== 'fresh' && value !== 'trained')
    throw new InvalidArgumentError(`--optimizer-state takes fresh or trained, got "${value}"`);
  return value;
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description(
      "evaluate a run's exported model again without training: its own test episodes (reproducing the recorded numbers), more, or others",
    )
    .argument('<run>', 'a run id in the run store (e.g. bench-055d42947dca-s0), or a model.json a run saved')
    .option('--out <dir>', 'folder holding the run store (runs/)', 'results')
    .option('--episodes <n>', "test episodes (default: the run's eval.episodes)", positiveInt('--episodes'))
    .option('--modes <list>', "non-transductive,transductive (default: the run's eval.modes)", modesOption)
    .option('--eval-seed <n>', "draw other test episodes from this seed (default: the run's own)", seedOption)
    .option('--workers <n|auto>', 'replica threads for adapting episodes in parallel', workerCount, 1)
    .option(
      '--optimizer-state <fresh|trained>',
      "adapt each episode from a fresh inner optimizer or from the one meta-training left (default: the run's eval.optimizer_state)",
      optimizerStateOption,
    )
    .option(
      '--episodes-from <dir>',
      'score fixed episodes instead: <dir>/<episode>/support/<class>/* and <dir>/<episode>/query/<class>/* (images)',
    )
    .option('--json', 'print the result as one JSON object on stdout')
    .action(async (run: string, opts: EvaluateCommandOptions) => {
      const { evaluateCommand } = await import('../actions/evaluate.ts');
      await evaluateCommand(run, opts);
    });
}
