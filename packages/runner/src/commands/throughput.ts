import { availableParallelism } from 'node:os';
import { type BackendName, parseBackendName } from '@reptile-bench/backend';
import { type Command, InvalidArgumentError } from 'commander';
import { throughputWorkloads } from '../throughput/workloads.ts';

interface ThroughputCliOptions {
  workload: string;
  backend: BackendName;
  workers?: number;
  seconds?: number;
  steps?: number;
  json?: boolean;
}

function positive(kind: 'integer' | 'number') {
  return (value: string): number => {
    const n = Number(value);
    if (!(n > 0) || (kind === 'integer' && !Number.isInteger(n)))
      throw new InvalidArgumentError(`expected a positive ${kind}, got "${value}"`);
    return n;
  };
}

function backendOption(value: string): BackendName {
  try {
    return parseBackendName(value, '--backend');
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

export function register(program: Command): void {
  program
    .command('throughput')
    .description(
      'training throughput of a workload: inner steps/s and meta-iterations/s with replica workers',
    )
    .option('--workload <name>', `one of ${Object.keys(throughputWorkloads).join(', ')}`, 'omniglot-5w1s')
    .option('--backend <name>', 'wasm, cpu or tensorflow', backendOption, 'wasm')
    .option(
      '--workers <n>',
      "replica threads (default: one per CPU core); tensorflow's threads per replica: TF_NUM_INTRAOP_THREADS",
      positive('integer'),
    )
    .option('--seconds <s>', 'time budget of the parallel measurements (default 10)', positive('number'))
    .option(
      '--steps <n>',
      'measure a fixed number of inner steps per worker instead of a time budget',
      positive('integer'),
    )
    .option('--json', 'print the result as one JSON object on stdout')
    .action(async (opts: ThroughputCliOptions) => {
      if (!(opts.workload in throughputWorkloads))
        throw new Error(
          `throughput: unknown workload "${opts.workload}"; use one of ${Object.keys(throughputWorkloads).join(', ')}`,
        );
      const { measureThroughput } = await import('../throughput/measure.ts');
      const result = await measureThroughput({
        workload: opts.workload,
        backend: opts.backend,
        ...(opts.workers === undefined ? {} : { workers: opts.workers }),
        ...(opts.seconds === undefined ? {} : { seconds: opts.seconds }),
        ...(opts.steps === undefined ? {} : { steps: opts.steps }),
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const f = (n: number, digits = 1) => n.toFixed(digits);
      process.stdout.write(
        [
          `workload            ${result.workload} (batch ${result.settings.innerBatch}, ${result.settings.innerIterations} inner iterations, meta-batch ${result.settings.metaBatch})`,
          `backend             ${result.backend} (${result.backend_version}), ${result.workers} worker(s) × ${result.threads_per_worker} thread(s)`,
          `inner steps/s       ${f(result.inner_steps_per_s)}  (${result.inner_steps} steps)`,
          ...(result.inner_steps_per_cpu_s === undefined
            ? []
            : [
                `  per CPU-second    ${f(result.inner_steps_per_cpu_s)} per replica thread (what an idle core delivers)`,
              ]),
          `  per process CPU-s ${f(result.inner_steps_per_process_cpu_s)} (all threads of this process)`,
          `meta-iterations/s   ${f(result.meta_iters_per_s, 2)}  (${result.meta_iterations} iterations)`,
          `train step          ${f(result.train_step_ms, 2)} ms, forward ${f(result.forward_ms, 2)} ms on one thread (CPU time ${f(result.train_step_cpu_ms, 2)} / ${f(result.forward_cpu_ms, 2)} ms: ratio ${f(result.train_step_over_forward, 2)})`,
          `load average        ${f(result.load_average[0], 2)} at the start, ${f(result.load_average[1], 2)} at the end (${availableParallelism()} cores)`,
          '',
        ].join('\n'),
      );
    });
}
