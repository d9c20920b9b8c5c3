// The coordinator side of a sweep on the queue (`sweep --queue`, `collect`): enqueue every planned run that has
// not finished (the reuse rule of a local sweep: same config hash, seed and backend), follow the jobs with the
// same progress bars or lines, and collect each outcome, a run bundle, into the local run store, where the
// reports are written from as after a local sweep.
//
// Nothing here is lost to a crash: jobs are keyed by run id (enqueueing again finds them), a finished run's
// bundle stays in Redis until it is in the store, and the store is written before the job is removed. The state
// of every job is polled as well as followed through BullMQ's events, so events missed during a Redis restart or
// before this process started only cost a few seconds.
import { resolve } from 'node:path';
import { flattenParams, importRun, openRunStore, type RunStore, unpackRun } from '@reptile-bench/tracking';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PlannedRun, SweepPlan } from '../config/sweep.ts';
import { estimateCost } from '../cost.ts';
import type { RunProgress } from '../execute.ts';
import { acquireSweepLock } from '../lock.ts';
import type { ProgressReporter } from '../progress.ts';
import { codeCommit } from '../provenance.ts';
import { metricKindOf, modeKeys, resultFromSummary } from '../records.ts';
import { formatMeanCi } from '../report/format.ts';
import type { RunOutcome } from '../scheduler.ts';
import { checkReachable, type QueueTarget, redisClient, scrub } from './connection.ts';
import {
  headerMatches,
  JOB_FORMAT,
  KEY_PREFIX,
  queueNameFor,
  type RunJob,
  type RunJobProgress,
  type RunJobResult,
  resultKey,
} from './jobs.ts';

export interface QueueSettings {
  target: QueueTarget;
  /** Attempts per run before it is reported FAILED (a lost worker does not count as one). */
  attempts: number;
  /** Delay before the first retry of a failed attempt; it doubles with each further one. */
  backoffSeconds: number;
}

/**
 * `follow`: enqueue, then wait for every outcome (sweep --queue). `enqueue`: enqueue and return (--detach).
 * `collect`: enqueue nothing; gather the outcomes the queue holds now (collect), or wait for them (`wait`).
 */
export type QueueMode = 'follow' | 'enqueue' | 'collect';

export interface QueueSweepOptions {
  out: string;
  progress: ProgressReporter;
  force?: boolean;
  mode: QueueMode;
  /** With mode `collect`: wait until every run has an outcome. */
  wait?: boolean;
}

/** When a run's job was enqueued, taken, run, stored in Redis and in the local run store (epoch ms). */
export type QueueTiming = RunJobResult['timing'] & { enqueued: number; collected: number };

export type QueueOutcome = RunOutcome & { timing?: QueueTiming; worker?: string };

export interface QueueSweepResult {
  /** One per run with an outcome: reused, collected now or earlier, or failed. */
  outcomes: QueueOutcome[];
  /** Runs still in the queue (waiting, active, delayed) or, when nothing enqueues them, not in it at all. */
  pending: Array<{ run: PlannedRun; state: string }>;
  /** Jobs added by this call, and jobs that were in the queue already (a coordinator started again). */
  enqueued: number;
  alreadyQueued: number;
  interrupted?: NodeJS.Signals;
}

/** One line with a run's main result, as the local scheduler prints it. */
function headline(run: PlannedRun, summary: Record<string, number>): string | undefined {
  const metric = metricKindOf(run.config);
  const parts = modeKeys.flatMap((mode) => {
    const r = resultFromSummary(summary, metric, mode);
    return r ? [`${mode} ${formatMeanCi(metric, r)}`] : [];
  });
  return parts.length > 0 ? `${metric === 'accuracy' ? 'accuracy %' : 'MSE'} ${parts.join(', ')}` : undefined;
}

function isFinished(
  record: Awaited<ReturnType<RunStore['getRun']>>,
  run: PlannedRun,
): record is NonNullable<typeof record> {
  return (
    record?.status === 'FINISHED' &&
    record.meta.configHash === run.configHash &&
    record.meta.seed === run.seed &&
    record.meta.backend.name === run.config.backend
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Tracked {
  run: PlannedRun;
  queue: Queue;
  started: boolean;
  /** The job's state when last looked at. */
  state?: string;
  /** Failed attempts already told. */
  failures: number;
  cost: ReturnType<typeof estimateCost>;
}

/**
 * Runs planned sweeps on the queue. Outcomes are collected into the run store at `out` (under the same sweep
 * lock as a local sweep: one coordinator per output folder). Never throws for a failed run.
 */
export async function queueSweeps(
  plans: SweepPlan[],
  options: QueueSweepOptions,
  settings: QueueSettings,
): Promise<QueueSweepResult> {
  const { target } = settings;
  const { progress, mode } = options;
  const out = resolve(options.out);
  const release = acquireSweepLock(out);
  const clients: Redis[] = [];
  const closers: Array<() => Promise<void>> = [];
  try {
    const store = openRunStore(out);
    const planned = plans.flatMap((p) => p.runs);
    const outcomes = new Map<string, QueueOutcome>();
    const todo: PlannedRun[] = [];
    for (const run of planned) {
      const record = await store.getRun(run.runId);
      if (!options.force && isFinished(record, run))
        outcomes.set(run.runId, {
          run,
          status: 'FINISHED',
          reused: true,
          summary: record.summary,
          seconds: 0,
        });
      else todo.push(run);
    }
    const costs = new Map(todo.map((r) => [r.runId, estimateCost(r.config)]));
    // Longest first (the queue is FIFO), as a local sweep orders them, so short runs fill the gaps at the end.
    todo.sort((a, b) => (costs.get(b.runId)?.total ?? 0) - (costs.get(a.runId)?.total ?? 0));

    await checkReachable(target);
    const note = (text: string) => progress.note(text);
    const connection = redisClient(target, { onNote: note });
    clients.push(connection);
    const queues = new Map<string, Queue>();
    const queueFor = (run: PlannedRun): Queue => {
      const name = queueNameFor(run.config.backend);
      let queue = queues.get(name);
      if (queue === undefined) {
        queue = new Queue(name, { connection, prefix: KEY_PREFIX });
        queue.on('error', () => {});
        queues.set(name, queue);
        const q = queue;
        closers.push(() => q.close());
      }
      return queue;
    };
    const commit = codeCommit();
    const add = async (run: PlannedRun): Promise<void> => {
      const data: RunJob = { format: JOB_FORMAT, run, force: options.force === true, commit };
      await queueFor(run).add('run', data, {
        jobId: run.runId,
        attempts: settings.attempts,
        backoff: { type: 'exponential', delay: Math.round(settings.backoffSeconds * 1000) },
        removeOnComplete: false,
        removeOnFail: false,
      });
    };
    const forget = async (run: PlannedRun): Promise<void> => {
      await connection.del(resultKey(run.runId));
      await queueFor(run).remove(run.runId);
    };

    const tracked = new Map<string, Tracked>();
    const pendingStates = new Map<string, string>();
    let enqueued = 0;
    let alreadyQueued = 0;
    for (const run of todo) {
      const queue = queueFor(run);
      let state: string = await queue.getJobState(run.runId);
      if (mode !== 'collect' && (state === 'failed' || (options.force && state === 'completed'))) {
        // Rerunning a sweep retries what failed (as a local sweep does), and --force runs everything again.
        await forget(run);
        state = 'unknown';
      }
      if (state === 'unknown') {
        if (mode === 'collect') {
          pendingStates.set(run.runId, 'not queued');
          continue;
        }
        await add(run);
        enqueued++;
        state = 'waiting';
      } else if (state !== 'completed' && state !== 'failed') {
        alreadyQueued++;
      }
      tracked.set(run.runId, {
        run,
        queue,
        started: false,
        failures: 0,
        cost: costs.get(run.runId) ?? estimateCost(run.config),
      });
    }
    if (mode !== 'collect') {
      for (const [name, queue] of queues) {
        const waiting = [...tracked.values()].some((t) => t.queue === queue);
        if (waiting && (await queue.getWorkersCount()) === 0)
          note(
            `queue: no worker takes ${name} jobs yet; start one on any machine with the project: ` +
              `reptile-bench worker --queue ${target.display} --backend ${name.replace(/^runs-/, '')}`,
          );
      }
    }
    const result = (interrupted?: NodeJS.Signals): QueueSweepResult => ({
      outcomes: planned.flatMap((r) => {
        const o = outcomes.get(r.runId);
        return o ? [o] : [];
      }),
      pending: planned.flatMap((run) => {
        const state = pendingStates.get(run.runId);
        return state === undefined ? [] : [{ run, state }];
      }),
      enqueued,
      alreadyQueued,
      ...(interrupted ? { interrupted } : {}),
    });
    if (mode === 'enqueue') {
      for (const t of tracked.values()) pendingStates.set(t.run.runId, 'queued');
      return result();
    }

    const reusedCount = outcomes.size;
    progress.start({
      runs: tracked.size,
      reused: reusedCount,
      cost: [...tracked.values()].reduce((s, t) => s + t.cost.total, 0),
    });

    const ended = (t: Tracked, outcome: QueueOutcome) => {
      outcomes.set(t.run.runId, outcome);
      tracked.delete(t.run.runId);
      const line = headline(t.run, outcome.summary);
      progress.runEnded(t.run, {
        status: outcome.status,
        seconds: outcome.seconds,
        cost: t.cost.total,
        ...(line ? { headline: line } : {}),
        ...(outcome.error ? { error: outcome.error } : {}),
      });
    };

    const collectFinished = async (t: Tracked): Promise<void> => {
      const { run } = t;
      const job = await t.queue.getJob(run.runId);
      if (job === undefined) return;
      const value = job.returnvalue as RunJobResult | undefined;
      const bytes = await connection.getBuffer(resultKey(run.runId));
      if (bytes === null || value?.sha256 === undefined) {
        const record = await store.getRun(run.runId);
        if (isFinished(record, run) && record.attempt === value?.attempt) {
          // Collected before, by a coordinator that stopped before removing the job.
          await forget(run);
          ended(t, { run, status: 'FINISHED', reused: false, summary: record.summary, seconds: 0 });
          return;
        }
        note(
          `${run.runId}: its job is complete but its result is not in Redis (lost?); enqueueing the run again`,
        );
        await forget(run);
        await add(run);
        return;
      }
      let imported = false;
      let inStore = 0;
      try {
        const bundle = unpackRun(bytes, `the result of ${run.runId} in Redis`);
        if (!headerMatches(bundle, run) || bundle.status !== 'FINISHED')
          throw new Error(`it holds a ${bundle.status} run of another config`);
        await importRun(out, bundle);
        inStore = Date.now();
        imported = true;
      } catch (error) {
        note(
          `${run.runId}: its result cannot be used (${error instanceof Error ? error.message : String(error)}); enqueueing the run again`,
        );
      }
      await forget(run);
      if (!imported) {
        await add(run);
        return;
      }
      const stored = await store.getRun(run.runId);
      if (value.commit !== commit)
        note(`${run.runId}: ran on commit ${value.commit} (this coordinator: ${commit}); the run records it`);
      ended(t, {
        run,
        status: 'FINISHED',
        reused: false,
        summary: stored?.summary ?? value.summary,
        seconds: (value.timing.runEnd - value.timing.runStart) / 1000,
        timing: { ...value.timing, enqueued: job.timestamp, collected: inStore },
        worker: value.worker,
      });
    };

    const collectFailed = async (t: Tracked): Promise<void> => {
      const { run } = t;
      const job = await t.queue.getJob(run.runId);
      if (job === undefined) return;
      const reason = job.failedReason || 'failed (no reason given)';
      const bytes = await connection.getBuffer(resultKey(run.runId));
      let recorded = false;
      if (bytes !== null) {
        try {
          const bundle = unpackRun(bytes, `the failed run ${run.runId} in Redis`);
          if (headerMatches(bundle, run) && bundle.status !== 'FINISHED' && bundle.status !== 'RUNNING') {
            await importRun(out, bundle);
            recorded = true;
          }
        } catch {
          // Recorded below from the job's reason instead.
        }
      }
      if (!recorded) {
        // No run record came back (the config was refused, the job stalled too often): record the failure here,
        // so that the reports list the run and its reason as after a local sweep.
        const writer = await store.startRun({
          runId: run.runId,
          sweep: run.sweep,
          name: run.name,
          configHash: run.configHash,
          seed: run.seed,
          commit,
          backend: { name: run.config.backend, version: 'unavailable', threads: 0 },
          dataChecksum: 'unavailable',
          config: run.config,
          params: { ...flattenParams(run.config), seed: run.seed },
          tags: { sweep_file: run.file, queue_job: String(job.id) },
        });
        await writer.finish('FAILED', {}, reason);
      }
      await forget(run);
      const attempts = job.attemptsMade;
      ended(t, {
        run,
        status: 'FAILED',
        reused: false,
        summary: {},
        error: `${reason} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`,
        seconds: job.finishedOn && job.processedOn ? (job.finishedOn - job.processedOn) / 1000 : 0,
      });
    };

    const check = async (t: Tracked): Promise<void> => {
      const state = await t.queue.getJobState(t.run.runId);
      const before = t.state;
      t.state = state;
      if (state === 'active') {
        if (!t.started) {
          t.started = true;
          progress.runStarted(t.run);
        }
      } else if (state === 'completed') {
        if (!t.started) progress.runStarted(t.run);
        t.started = true;
        await collectFinished(t);
      } else if (state === 'failed') {
        if (!t.started) progress.runStarted(t.run);
        t.started = true;
        await collectFailed(t);
      } else if ((state === 'delayed' || state === 'waiting') && before !== state) {
        // Back from active: an attempt failed (a lost worker's job comes back through `stalled`, told above).
        const job = await t.queue.getJob(t.run.runId);
        if (job && job.attemptsMade > t.failures) {
          t.failures = job.attemptsMade;
          note(
            `${t.run.runId}: attempt ${job.attemptsMade} of ${settings.attempts} failed: ` +
              `${(job.failedReason ?? '').split('\n')[0]}; it will be retried`,
          );
        }
      } else if (state === 'unknown') {
        if (mode === 'collect') {
          pendingStates.set(t.run.runId, 'not queued');
          tracked.delete(t.run.runId);
          return;
        }
        const record = await store.getRun(t.run.runId);
        if (isFinished(record, t.run)) {
          ended(t, { run: t.run, status: 'FINISHED', reused: false, summary: record.summary, seconds: 0 });
          return;
        }
        note(`${t.run.runId}: its job is no longer in the queue (Redis lost its data?); enqueueing it again`);
        await add(t.run);
      }
    };

    // Wake-ups: BullMQ's events for our jobs, and a full poll every few seconds.
    const woken = new Set<string>();
    let wakeAll = true;
    let wakeUp: (() => void) | undefined;
    const wake = (id?: string) => {
      if (id === undefined) wakeAll = true;
      else woken.add(id);
      wakeUp?.();
    };
    let interrupted: NodeJS.Signals | undefined;
    const follow = mode === 'follow' || options.wait === true;
    if (follow) {
      for (const [name] of queues) {
        const client = redisClient(target);
        clients.push(client);
        const events = new QueueEvents(name, { connection: client, prefix: KEY_PREFIX });
        events.on('error', () => {});
        closers.push(async () => {
          await Promise.race([events.close(), sleep(1000)]);
        });
        events.on('active', ({ jobId }) => wake(jobId));
        events.on('completed', ({ jobId }) => wake(jobId));
        events.on('failed', ({ jobId }) => wake(jobId));
        events.on('delayed', ({ jobId }) => wake(jobId));
        events.on('stalled', ({ jobId }) => {
          const t = tracked.get(jobId);
          if (t)
            note(
              `${jobId}: its worker stopped answering (lost?); the job goes back to the queue and continues from its last kept checkpoint`,
            );
        });
        events.on('progress', ({ jobId, data }) => {
          const t = tracked.get(jobId);
          const report = data as RunJobProgress;
          if (t === undefined || typeof report !== 'object' || report === null) return;
          if (!t.started) {
            t.started = true;
            progress.runStarted(t.run);
          }
          if (report.kind === 'note') {
            note(report.text);
          } else if (report.kind === 'progress') {
            const p: RunProgress = report.progress;
            const share = (part: number) => (part * p.done) / Math.max(p.total, 1);
            const { cost } = t;
            const done =
              p.phase === 'setup'
                ? 0
                : p.phase === 'train'
                  ? cost.startup + share(cost.train)
                  : cost.startup + cost.train + share(cost.eval);
            progress.runProgress(t.run, p, Math.min(cost.total, done));
          }
        });
      }
    }
    const poll = setInterval(() => wake(), 5000);
    poll.unref();
    const onSignal = (signal: NodeJS.Signals) => {
      if (interrupted) {
        progress.note(`${signal} again: stopping now`);
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }
      interrupted = signal;
      progress.note(
        `${signal}: no longer following the queue; its runs go on on the workers. Rerun the same command, or ` +
          '`reptile-bench collect`, to gather them',
      );
      wakeUp?.();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      let first = true;
      while (tracked.size > 0 && interrupted === undefined) {
        if (!wakeAll && woken.size === 0) {
          await new Promise<void>((r) => {
            wakeUp = r;
          });
          wakeUp = undefined;
          continue;
        }
        const ids = wakeAll ? [...tracked.keys()] : [...woken];
        woken.clear();
        wakeAll = false;
        for (const id of ids) {
          const t = tracked.get(id);
          if (t === undefined || interrupted) continue;
          try {
            await check(t);
          } catch (error) {
            note(
              `${id}: ${scrub(target, error instanceof Error ? error.message : String(error))}; will look again`,
            );
          }
        }
        if (!follow && first) break;
        first = false;
      }
    } finally {
      clearInterval(poll);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      progress.stop();
    }
    for (const t of tracked.values())
      pendingStates.set(t.run.runId, await t.queue.getJobState(t.run.runId).catch(() => 'unknown'));
    return result(interrupted);
  } finally {
    for (const close of closers) await close().catch(() => {});
    for (const client of clients) client.disconnect();
    release();
  }
}
