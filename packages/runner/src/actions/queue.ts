// The queue's commands: `sweep --queue` (enqueue, follow, collect, report), `sweep --queue --detach`,
// `collect` and `worker`.
import { resolve } from 'node:path';
import { type Command, CommanderError } from 'commander';
import type { BackendChoice } from '../config/schema.ts';
import type { SweepPlan } from '../config/sweep.ts';
import { createProgress, type ProgressMode } from '../progress.ts';
import { parseCheckpointStore } from '../queue/checkpoint-store.ts';
import { parseQueueUrl, QUEUE_ENV, type QueueTarget } from '../queue/connection.ts';
import type { QueueSettings, QueueSweepResult } from '../queue/coordinator.ts';
import type { RunOutcome } from '../scheduler.ts';
import { sweepAndReport } from '../sweep-and-report.ts';
import { executePlans, pickRuns, type SweepCommandOptions } from './sweep.ts';

/** The queue's Redis from `--queue` or $REPTILE_BENCH_QUEUE, checked (never printed with its password). */
function queueTarget(opts: { queue?: string; insecure?: boolean }): QueueTarget {
  const fromEnv = opts.queue === undefined;
  const url = opts.queue ?? process.env[QUEUE_ENV];
  if (!url) {
    process.stderr.write(
      `no job queue given: pass --queue redis://host:port (or set ${QUEUE_ENV}); ` +
        'node scripts/redis-server.mjs starts a Redis on this machine\n',
    );
    throw new CommanderError(2, 'reptile-bench.usage', 'no queue');
  }
  try {
    return parseQueueUrl(url, {
      insecure: opts.insecure === true,
      what: fromEnv ? `$${QUEUE_ENV}` : '--queue',
    });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    throw new CommanderError(2, 'reptile-bench.usage', 'bad queue');
  }
}

function settingsOf(opts: SweepCommandOptions): QueueSettings {
  return { target: queueTarget(opts), attempts: opts.attempts ?? 3, backoffSeconds: opts.backoff ?? 30 };
}

async function coordinator() {
  return import('../queue/coordinator.ts');
}

/** Runs still in the queue when the coordinator stopped following, as outcomes the sweep summary lists. */
function pendingOutcomes(result: QueueSweepResult): RunOutcome[] {
  return result.pending.map(({ run, state }) => ({
    run,
    status: 'KILLED',
    reused: false,
    summary: {},
    error: `still in the queue (${state}); rerun the same command, or \`reptile-bench collect\`, to gather it`,
    seconds: 0,
  }));
}

/** `reptile-bench sweep <files> --queue URL [--detach]`. */
export async function sweepOnQueue(
  command: Command,
  files: string[],
  plans: SweepPlan[],
  opts: SweepCommandOptions,
): Promise<void> {
  const settings = settingsOf(opts);
  if (opts.workers > 1)
    process.stderr.write(
      'note: --workers has no effect with --queue; each `reptile-bench worker` runs its own\n',
    );
  const { queueSweeps } = await coordinator();
  if (opts.detach) {
    const result = await queueSweeps(
      plans,
      { out: opts.out, progress: createProgress('none'), force: opts.force ?? false, mode: 'enqueue' },
      settings,
    );
    const reused = result.outcomes.filter((o) => o.reused).length;
    const text =
      `enqueued ${result.enqueued} run(s) on ${settings.target.display} (${result.alreadyQueued} already queued, ` +
      `${reused} finished earlier); gather them with: reptile-bench collect ${files.join(' ')} --out ${opts.out}` +
      `${opts.set.map((s) => ` --set ${s}`).join('')}${(opts.only ?? []).map((o) => ` --only ${o}`).join('')}`;
    if (opts.json) {
      process.stderr.write(`${text}\n`);
      process.stdout.write(
        `${JSON.stringify({
          sweep: plans.map((p) => p.name).join(','),
          queue: settings.target.display,
          enqueued: result.enqueued,
          already_queued: result.alreadyQueued,
          reused,
          runs: result.pending.map((p) => p.run.runId),
        })}\n`,
      );
    } else {
      process.stdout.write(`${text}\n`);
    }
    return;
  }
  await executePlans(command, plans, opts, async (planned, options) => {
    const result = await queueSweeps(
      planned,
      { out: options.out, progress: options.progress, force: options.force ?? false, mode: 'follow' },
      settings,
    );
    const outcomes: RunOutcome[] = [...result.outcomes, ...pendingOutcomes(result)];
    const order = new Map(planned.flatMap((p) => p.runs).map((r, i) => [r.runId, i]));
    outcomes.sort((a, b) => (order.get(a.run.runId) ?? 0) - (order.get(b.run.runId) ?? 0));
    return Object.assign(outcomes, result.interrupted ? { interrupted: result.interrupted } : {});
  });
}

export interface CollectCommandOptions {
  out: string;
  set: string[];
  only?: string[];
  wait?: boolean;
  json?: boolean;
  progress: ProgressMode;
  queue?: string;
  insecure?: boolean;
}

/** `reptile-bench collect <files>`: what has finished goes into the run store; the reports are written. */
export async function collectCommand(files: string[], opts: CollectCommandOptions): Promise<void> {
  const plans = pickRuns(files, opts.set, opts.only ?? []);
  const target = queueTarget(opts);
  const { queueSweeps } = await coordinator();
  let pending: QueueSweepResult['pending'] = [];
  const result = await sweepAndReport(plans, {
    out: opts.out,
    workers: 1,
    progress: createProgress(opts.progress),
    schedule: async (planned, options) => {
      const collected = await queueSweeps(
        planned,
        { out: options.out, progress: options.progress, mode: 'collect', wait: opts.wait === true },
        { target, attempts: 1, backoffSeconds: 1 },
      );
      pending = collected.pending;
      return Object.assign(
        [...collected.outcomes],
        collected.interrupted ? { interrupted: collected.interrupted } : {},
      );
    },
  });
  const failed = result.outcomes.filter((o) => o.status !== 'FINISHED');
  const finished = result.outcomes.filter((o) => o.status === 'FINISHED');
  const lines = [
    `${finished.length}/${result.outcomes.length + pending.length} runs finished ` +
      `(${finished.filter((o) => o.reused).length} collected earlier), ${failed.length} failed, ` +
      `${pending.length} not done yet`,
    ...result.reports.map((r) => `reports: ${r.dir}`),
    ...failed.map(
      (f) =>
        `  ${f.status} ${f.run.runId} (${f.run.name} seed ${f.run.seed}): ${(f.error ?? '').split('\n')[0]}`,
    ),
  ];
  if (pending.length > 0) {
    const states = new Map<string, number>();
    for (const p of pending) states.set(p.state, (states.get(p.state) ?? 0) + 1);
    lines.push(
      `not done yet: ${[...states].map(([s, n]) => `${n} ${s}`).join(', ')}; run collect again later, or with --wait`,
    );
    for (const p of pending) lines.push(`  ${p.state} ${p.run.runId} (${p.run.name} seed ${p.run.seed})`);
  }
  const text = lines.join('\n');
  if (opts.json) {
    process.stderr.write(`${text}\n`);
    process.stdout.write(
      `${JSON.stringify({
        sweep: plans.map((p) => p.name).join(','),
        ok: failed.length === 0,
        counts: {
          runs: result.outcomes.length + pending.length,
          finished: result.outcomes.filter((o) => o.status === 'FINISHED').length,
          reused: result.outcomes.filter((o) => o.reused).length,
          failed: failed.length,
          pending: pending.length,
        },
        reports: result.reports.map((r) => r.dir),
        runs: result.outcomes.map((o) => ({
          id: o.run.runId,
          status: o.status,
          reused: o.reused,
          ...(o.error ? { error: o.error } : {}),
        })),
        pending: pending.map((p) => ({ id: p.run.runId, state: p.state })),
      })}\n`,
    );
  } else {
    process.stdout.write(`${text}\n`);
  }
  if (result.interrupted)
    throw new CommanderError(result.interrupted === 'SIGINT' ? 130 : 143, 'reptile-bench.interrupted', '');
  if (failed.length > 0) {
    process.stderr.write(`${failed.length} run(s) failed; rerun \`sweep --queue\` to retry them\n`);
    throw new CommanderError(1, 'reptile-bench.failed', 'failed runs');
  }
}

export interface WorkerCommandOptions {
  backend: BackendChoice;
  concurrency: number;
  out: string;
  checkpoints: string;
  stallSeconds: number;
  maxStalls: number;
  queue?: string;
  insecure?: boolean;
}

/** `reptile-bench worker`: runs until stopped (SIGINT/SIGTERM), then exits with 130/143. */
export async function workerCommand(opts: WorkerCommandOptions): Promise<void> {
  const target = queueTarget(opts);
  const { runQueueWorker } = await import('../queue/worker.ts');
  const log = (text: string) => process.stderr.write(`${new Date().toISOString()} ${text}\n`);
  const code = await runQueueWorker({
    target,
    backend: opts.backend,
    concurrency: opts.concurrency,
    out: resolve(opts.out),
    checkpoints: parseCheckpointStore(opts.checkpoints),
    stallSeconds: opts.stallSeconds,
    maxStalls: opts.maxStalls,
    log,
  });
  // Timers of the queue library may outlive its close; the worker is done.
  process.exit(code);
}
