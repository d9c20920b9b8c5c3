import { availableParallelism } from 'node:os';
import { type Command, InvalidArgumentError } from 'commander';
import type { WorkerCommandOptions } from '../actions/queue.ts';
import { positiveInt } from './options.ts';
import { addQueueOptions, positiveSeconds } from './queue-options.ts';

const backendNames = ['wasm', 'cpu', 'tensorflow'];

export function register(program: Command): void {
  const command = program
    .command('worker')
    .description(
      'take runs from the job queue and execute them on this machine (any number of machines may run workers)',
    )
    .option(
      '--backend <name>',
      "the backend whose runs this worker takes: wasm, cpu or tensorflow (a run's backend is part of its config)",
      (value: string) => {
        if (!backendNames.includes(value))
          throw new InvalidArgumentError(
            `--backend must be one of ${backendNames.join(', ')}, got "${value}"`,
          );
        return value;
      },
      'wasm',
    )
    .option(
      '--concurrency <n|auto>',
      'runs at once, each in its own process (auto: one per CPU core)',
      (value: string) => (value === 'auto' ? availableParallelism() : positiveInt('--concurrency')(value)),
      1,
    )
    .option(
      '--out <dir>',
      "this worker's own run store (runs in progress, and a copy of each run)",
      '.cache/queue-worker',
    )
    .option(
      '--checkpoints <where>',
      'where run checkpoints are kept for other workers: redis (beside the queue), none, or a folder every worker mounts',
      'redis',
    )
    .option(
      '--stall-seconds <s>',
      'a worker silent this long is taken as lost and its runs continue elsewhere',
      positiveSeconds('--stall-seconds'),
      30,
    )
    .option(
      '--max-stalls <n>',
      'times a run may lose its worker before it is failed',
      positiveInt('--max-stalls'),
      2,
    );
  addQueueOptions(command).action(async (opts: WorkerCommandOptions) => {
    const { workerCommand } = await import('../actions/queue.ts');
    await workerCommand(opts);
  });
}
