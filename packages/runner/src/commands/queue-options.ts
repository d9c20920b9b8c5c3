import { type Command, InvalidArgumentError } from 'commander';
import { positiveInt } from './options.ts';

// Options shared by the commands that talk to the job queue (sweep --queue, collect, worker). The URL has no
// commander default: a default is printed by --help, and the URL may hold a password. $REPTILE_BENCH_QUEUE is
// read when the command runs.

export const queueUrlHelp =
  'Redis of the job queue: redis://[[user]:password@]host:port[/db], rediss:// for TLS (default: $REPTILE_BENCH_QUEUE)';

export function positiveSeconds(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n > 0) || !Number.isFinite(n))
      throw new InvalidArgumentError(`${name} must be a positive number of seconds, got "${value}"`);
    return n;
  };
}

export function addQueueOptions(command: Command): Command {
  return command
    .option('--queue <url>', queueUrlHelp)
    .option(
      '--insecure',
      'allow a Redis on another machine that asks for no password (a trusted network only)',
    );
}

/** The options with which the coordinator enqueues runs. */
export function addRetryOptions(command: Command): Command {
  return command
    .option(
      '--attempts <n>',
      'with --queue: attempts per run before it is reported failed (a lost worker does not use one)',
      positiveInt('--attempts'),
      3,
    )
    .option(
      '--backoff <seconds>',
      'with --queue: wait before retrying a failed attempt, doubled for each further one',
      positiveSeconds('--backoff'),
      30,
    );
}
