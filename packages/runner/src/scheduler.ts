import { type ChildProcess, fork } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOmniglot } from '@reptile-bench/datasets';
import { createTracker, openRunStore, type RunRecord } from '@reptile-bench/tracking';
import type { PlannedRun, SweepPlan } from './config/sweep.ts';
import { estimateCost } from './cost.ts';
import type { RunProgress } from './execute.ts';
import { acquireSweepLock } from './lock.ts';
import type { ProgressReporter } from './progress.ts';
import { codeCommit } from './provenance.ts';
import { metricKindOf, modeKeys, resultFromSummary } from './records.ts';
import { formatMeanCi } from './report/format.ts';
import type { FromWorker, ToWorker } from './worker/protocol.ts';

export type RunOutcomeStatus = 'FINISHED' | 'FAILED' | 'KILLED';

export interface RunOutcome {
  run: PlannedRun;
  status: RunOutcomeStatus;
  /** True when the run had finished in an earlier sweep and was not run again. */
  reused: boolean;
  summary: Record<string, number>;
  error?: string;
  seconds: number;
}

export interface SweepOptions {
  /** Folder of the run store (`<out>/runs`) and the reports (`<out>/<sweep>/`). */
  out: string;
  /** Runs executed at once, each in its own process. */
  workers: number;
  progress: ProgressReporter;
  /** Run again even the runs that finished before. */
  force?: boolean;
}

const workerEntry = fileURLToPath(new URL('./worker/run-process.ts', import.meta.url));
const tsxLoader = import.meta.resolve('tsx');

/** Whether a stored run is the finished result of this planned run (same id, config hash and backend). */
export function isFinishedResult(record: RunRecord | undefined, run: PlannedRun): boolean {
  return (
    record?.status === 'FINISHED' &&
    record.meta.configHash === run.configHash &&
    record.meta.seed === run.seed &&
    record.meta.backend.name === run.config.backend
  );
}

/** One line with a run's main result, e.g. "accuracy nontransductive 97.10 ± 0.52". */
export function headline(run: PlannedRun, summary: Record<string, number>): string | undefined {
  const metric = metricKindOf(run.config);
  const parts = modeKeys.flatMap((mode) => {
    const r = resultFromSummary(summary, metric, mode);
    return r ? [`${mode} ${formatMeanCi(metric, r)}`] : [];
  });
  return parts.length > 0 ? `${metric === 'accuracy' ? 'accuracy %' : 'MSE'} ${parts.join(', ')}` : undefined;
}

/**
 * Runs every planned run that has not finished before, `workers` at a time, each in a fresh worker process
 * that records it in the run store. Finished runs (same id, config hash, seed and backend) are reused, so
 * rerunning a killed sweep resumes it: runs that were RUNNING when it died are started again as new attempts.
 * Resolves with one outcome per planned run, in plan order; never throws for a failed run.
 */
export async function runSweeps(
  plans: SweepPlan[],
  options: SweepOptions,
): Promise<RunOutcome[] & { interrupted?: NodeJS.Signals }> {
  const out = resolve(options.out);
  const release = acquireSweepLock(out);
  const { progress } = options;
  try {
    const store = openRunStore(out);
    const planned = plans.flatMap((p) => p.runs);
    const outcomes = new Map<string, RunOutcome>();
    const queue: PlannedRun[] = [];
    for (const run of planned) {
      const record = await store.getRun(run.runId);
      if (!options.force && isFinishedResult(record, run)) {
        outcomes.set(run.runId, {
          run,
          status: 'FINISHED',
          reused: true,
          summary: record?.summary ?? {},
          seconds: 0,
        });
      } else {
        queue.push(run);
      }
    }
    const costs = new Map(queue.map((r) => [r.runId, estimateCost(r.config)]));
    // Longest runs first: with several workers the sweep then ends with short runs filling the gaps instead of
    // one long run alone at the end (the classic longest-processing-time rule).
    if (options.workers > 1)
      queue.sort((a, b) => (costs.get(b.runId)?.total ?? 0) - (costs.get(a.runId)?.total ?? 0));
    progress.start({
      runs: queue.length,
      reused: outcomes.size,
      cost: [...costs.values()].reduce((s, c) => s + c.total, 0),
    });
    const filters = new Set(
      queue.flatMap((r) => (r.config.dataset.name === 'omniglot' ? [r.config.dataset.resize] : [])),
    );
    if (filters.size > 0) {
      // Decode (or read the cache of) Omniglot once here, so parallel workers do not all decode it at once.
      progress.note('preparing Omniglot (the first time decodes the archives; later runs read the cache)');
      for (const filter of filters) await loadOmniglot({ filter });
    }
    const commit = codeCommit();
    const workers = Math.max(1, Math.min(options.workers, queue.length || 1));
    const interrupted = new AbortController();
    const active = new Set<ChildProcess>();
    const onSignal = (signal: NodeJS.Signals) => {
      if (interrupted.signal.aborted) {
        // The second request: no more waiting for checkpoints.
        progress.note(`${signal} again: stopping now`);
        for (const child of active) child.kill('SIGKILL');
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }
      progress.note(
        `${signal}: stopping; runs in progress save a checkpoint and continue from it on the next sweep ` +
          '(press Ctrl-C again to stop at once)',
      );
      interrupted.abort(signal);
      for (const child of active)
        if (child.connected)
          child.send({ type: 'abort', reason: `sweep interrupted (${signal})` } satisfies ToWorker);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    const runOne = (run: PlannedRun): Promise<RunOutcome> =>
      new Promise((resolveOutcome) => {
        const cost = costs.get(run.runId) ?? estimateCost(run.config);
        const started = Date.now();
        // With several runs at once each uses one thread; the machine's cores are already shared out.
        const threads = workers > 1 ? 1 : run.config.workers;
        const child = fork(workerEntry, [], {
          execArgv: ['--import', tsxLoader],
          // Anything a worker prints goes to stderr: stdout carries only the sweep's own output (e.g. --json).
          stdio: ['ignore', 2, 2, 'ipc'],
          serialization: 'advanced',
        });
        active.add(child);
        let done: (FromWorker & { type: 'done' }) | undefined;
        child.on('message', (message: FromWorker) => {
          if (message.type === 'progress') {
            const p: RunProgress = message.progress;
            const share = (part: number) => (part * p.done) / Math.max(p.total, 1);
            const costDone =
              p.phase === 'setup'
                ? 0
                : p.phase === 'train'
                  ? cost.startup + share(cost.train)
                  : cost.startup + cost.train + share(cost.eval);
            progress.runProgress(run, p, Math.min(cost.total, costDone));
          } else if (message.type === 'note') {
            progress.note(message.text);
          } else if (message.type === 'done') {
            done = message;
          }
        });
        child.on('error', (error) => {
          done ??= { type: 'done', runId: run.runId, status: 'FAILED', summary: {}, error: String(error) };
        });
        child.on('exit', (code, signal) => {
          active.delete(child);
          const seconds = (Date.now() - started) / 1000;
          const result: FromWorker & { type: 'done' } = done ?? {
            type: 'done',
            runId: run.runId,
            // Killed by a signal (or stopped with the sweep), it resumes from its checkpoint; anything else failed.
            status: interrupted.signal.aborted || signal !== null ? 'KILLED' : 'FAILED',
            summary: {},
            error: `worker process exited (${signal ? `signal ${signal}` : `code ${code}`}) before the run ended`,
          };
          const outcome: RunOutcome = {
            run,
            status: result.status,
            reused: false,
            summary: result.summary,
            ...(result.error === undefined ? {} : { error: result.error }),
            seconds,
          };
          const line = headline(run, result.summary);
          progress.runEnded(run, {
            status: result.status,
            seconds,
            cost: cost.total,
            ...(line ? { headline: line } : {}),
            ...(result.error ? { error: result.error } : {}),
          });
          resolveOutcome(outcome);
        });
        progress.runStarted(run);
        child.send({ type: 'run', run, out, commit, threads, resume: !options.force } satisfies ToWorker);
      });

    try {
      let next = 0;
      const lane = async () => {
        while (next < queue.length && !interrupted.signal.aborted) {
          const run = queue[next++] as PlannedRun;
          const outcome = await runOne(run);
          outcomes.set(run.runId, outcome);
        }
      };
      await Promise.all(Array.from({ length: workers }, lane));
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      progress.stop();
    }
    for (const run of queue) {
      if (!outcomes.has(run.runId))
        outcomes.set(run.runId, {
          run,
          status: 'KILLED',
          reused: false,
          summary: {},
          error: 'not started: the sweep was interrupted',
          seconds: 0,
        });
    }
    if (process.env.MLFLOW_TRACKING_URI) {
      // Runs were mirrored by their workers; deliver whatever is still waiting in the outbox.
      const tracker = createTracker({ dir: out });
      try {
        const report = await tracker.sync();
        const ran = queue.length;
        progress.note(
          report.pending > 0
            ? `MLflow (${tracker.mlflowUri}): ${report.pending} event(s) of ${report.runs} run(s) still wait in the outbox` +
                `${report.errors[0] ? ` (${report.errors[0]})` : ''}; run \`reptile-bench sync\` when the server is back`
            : `MLflow (${tracker.mlflowUri}): the ${ran} run(s) of this sweep are mirrored, nothing waits in the outbox`,
        );
      } finally {
        await tracker.close();
      }
    }
    const results = planned.map((r) => outcomes.get(r.runId) as RunOutcome);
    const signal = interrupted.signal.reason as NodeJS.Signals | undefined;
    return Object.assign(results, signal === undefined ? {} : { interrupted: signal });
  } finally {
    release();
  }
}
