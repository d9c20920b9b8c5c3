// `reptile-bench worker`: takes run jobs from the queue of one backend and executes each in a fresh run process
// (the same run-process.ts and executeRun as a local sweep), recording it in this worker's own run store. Each
// checkpoint the run writes is copied to the checkpoint store, so that if this machine is lost the job, found
// stalled by BullMQ once its lock expires, continues on another worker from there. The outcome goes back as a
// run bundle under the run's result key; the job's return value says where and what it holds.
//
// Stopping: the first SIGINT/SIGTERM stops the runs in progress between steps (each checkpoints) and puts their
// jobs back in the queue for other workers, then exits (130/143); a second one exits at once.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importRun, openRunStore, packRun, type RunBundle, unpackRun } from '@reptile-bench/tracking';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { decodeCheckpoint, loadCheckpoint } from '../checkpoint.ts';
import type { BackendChoice } from '../config/schema.ts';
import type { PlannedRun } from '../config/sweep.ts';
import { codeCommit } from '../provenance.ts';
import { forkRun } from '../worker/fork.ts';
import {
  type CheckpointStore,
  type CheckpointStoreSpec,
  dirCheckpointStore,
  noCheckpointStore,
  redisCheckpointStore,
} from './checkpoint-store.ts';
import { checkReachable, type QueueTarget, redisClient, scrub } from './connection.ts';
import {
  checkRunJob,
  headerMatches,
  KEY_PREFIX,
  queueNameFor,
  type RunJob,
  type RunJobProgress,
  type RunJobResult,
  resultKey,
} from './jobs.ts';

export interface QueueWorkerOptions {
  target: QueueTarget;
  /** The backend whose runs this worker takes (one queue per backend). */
  backend: BackendChoice;
  /** Runs at once, each in its own process (with more than one, each run uses one replica thread). */
  concurrency: number;
  /** This worker's own run store. */
  out: string;
  checkpoints: CheckpointStoreSpec;
  /** A worker that has not renewed its jobs' locks for this long is taken as lost; its jobs go to others. */
  stallSeconds: number;
  /** How many times a job may be lost with its worker before it fails. */
  maxStalls: number;
  /** Lines for the worker's log (stderr). */
  log: (text: string) => void;
}

const bin = fileURLToPath(new URL('../../bin/reptile-bench.mjs', import.meta.url));

const sizeOf = (bytes: number) =>
  bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(2)} MB`;

/** Runs the worker until it is stopped; resolves with the process exit code. */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<number> {
  const { target, backend, log } = options;
  const out = resolve(options.out);
  const store = openRunStore(out);
  const version = await checkReachable(target);
  const name = `${hostname()}:${process.pid}`;
  const commit = codeCommit();
  const kv = redisClient(target, { onNote: log });
  const checkpoints: CheckpointStore =
    options.checkpoints.kind === 'redis'
      ? redisCheckpointStore(kv, target.display)
      : options.checkpoints.kind === 'dir'
        ? dirCheckpointStore(options.checkpoints.dir)
        : noCheckpointStore;
  const queueName = queueNameFor(backend);

  interface Active {
    run: PlannedRun;
    stop(reason: string): void;
    lost: boolean;
  }
  const active = new Map<string, Active>();
  let stopping: NodeJS.Signals | undefined;

  // Omniglot is decoded (or read from its cache) once per resize filter before the first run that needs it, in a
  // process of its own, so that parallel runs do not all decode it at once and this process stays responsive.
  const prepared = new Map<string, Promise<void>>();
  const prepare = (run: PlannedRun): Promise<void> => {
    const dataset = run.config.dataset;
    if (dataset.name !== 'omniglot' || options.concurrency === 1) return Promise.resolve();
    const filter = dataset.resize;
    let ready = prepared.get(filter);
    if (ready === undefined) {
      log(
        `preparing Omniglot (resize ${filter}; the first time decodes the archives, later runs read the cache)`,
      );
      ready = new Promise<void>((done) => {
        const child = spawn(process.execPath, [bin, 'data', 'omniglot', '--filter', filter, '--json'], {
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        // A failure shows again, with its message, in the run that needs the data.
        child.on('exit', () => done());
        child.on('error', () => done());
      });
      prepared.set(filter, ready);
    }
    return ready;
  };

  /** Continues a run from the checkpoint store when it holds a later checkpoint than this worker's store. */
  const adoptCheckpoint = async (run: PlannedRun): Promise<void> => {
    let bytes: Buffer | undefined;
    try {
      bytes = await checkpoints.load(run.runId);
    } catch (error) {
      log(
        `${run.runId}: cannot read its checkpoint from ${checkpoints.description} (${scrub(target, String(error))}); ` +
          'continuing from what this worker has, or from the start',
      );
      return;
    }
    if (bytes === undefined) return;
    let bundle: RunBundle;
    try {
      bundle = unpackRun(bytes, `the checkpoint of ${run.runId} in ${checkpoints.description}`);
      if (!headerMatches(bundle, run)) throw new Error('it belongs to another config of the run id');
    } catch (error) {
      log(
        `${run.runId}: ignoring its stored checkpoint: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    const file = bundle.files.get('checkpoint.bin');
    if (file === undefined) return;
    const theirs = decodeCheckpoint(file, `checkpoint of ${run.runId}`);
    const record = await store.getRun(run.runId).catch(() => undefined);
    const ours = await loadCheckpoint(store.checkpointPath(run.runId)).catch(() => undefined);
    if (record?.status === 'KILLED' && ours !== undefined && ours.time >= theirs.time) return;
    const writer = (
      JSON.parse(bundle.files.get('run.json')?.toString('utf8') ?? '{}') as {
        writer?: { host?: string; pid?: number };
      }
    ).writer;
    await importRun(out, bundle, {
      interrupted: `its worker (${writer?.host ?? 'unknown'}, pid ${writer?.pid ?? '?'}) was lost; continued by ${name}`,
    });
    log(
      `${run.runId}: continuing from the checkpoint kept in ${checkpoints.description} ` +
        `(${theirs.phase === 'train' ? `iteration ${theirs.training.iteration}` : `evaluation, ${theirs.episodes.length} episodes done`})`,
    );
  };

  /** Stores the run's bundle as its result; returns its digest. */
  const storeResult = async (runId: string): Promise<{ bytes: Buffer; bundle: RunBundle }> => {
    const bytes = await packRun(out, runId);
    const bundle = unpackRun(bytes, `the bundle of ${runId}`);
    await kv.set(resultKey(runId), bytes);
    return { bytes, bundle };
  };

  const resultOf = (
    bundle: RunBundle,
    bytes: Buffer,
    summary: Record<string, number>,
    timing: RunJobResult['timing'],
  ): RunJobResult => ({
    status: 'FINISHED',
    runId: bundle.runId,
    attempt: bundle.attempt,
    sha256: createDigest(bytes),
    bytes: bytes.length,
    summary,
    commit,
    worker: name,
    timing,
  });

  const processor = async (job: Job, token?: string): Promise<RunJobResult> => {
    const taken = Date.now();
    let data: RunJob;
    try {
      data = checkRunJob(job.data, String(job.id));
    } catch (error) {
      throw new UnrecoverableError(error instanceof Error ? error.message : String(error));
    }
    const { run } = data;
    if (run.config.backend !== backend)
      throw new UnrecoverableError(
        `job ${job.id} is a ${run.config.backend} run in the ${queueName} queue; it belongs in ${queueNameFor(run.config.backend)}`,
      );
    const tell = (report: RunJobProgress) => job.updateProgress(report).catch(() => {});
    if (data.commit !== commit && data.commit !== 'unknown')
      log(`${run.runId}: planned by commit ${data.commit}; this worker runs ${commit} (the run records it)`);

    if (!data.force) {
      // An earlier attempt may have finished and stored its result before its worker was lost.
      const stored = await kv.getBuffer(resultKey(run.runId));
      if (stored !== null) {
        try {
          const bundle = unpackRun(stored, `the stored result of ${run.runId}`);
          if (bundle.status === 'FINISHED' && headerMatches(bundle, run)) {
            log(
              `${run.runId}: its result is already stored (attempt ${bundle.attempt}); not running it again`,
            );
            const now = Date.now();
            return resultOf(bundle, stored, {}, { taken, runStart: now, runEnd: now, stored: now });
          }
        } catch {
          // Not usable: run it.
        }
      }
      await adoptCheckpoint(run);
    }
    await prepare(run);

    log(
      `${run.runId}: started (${run.name} seed ${run.seed}; attempt ${job.attemptsMade + 1}, job ${job.id})`,
    );
    const runStart = Date.now();
    let saving: Promise<void> | undefined;
    let saveAgain = false;
    const saveCheckpoint = () => {
      if (saving !== undefined) {
        saveAgain = true;
        return;
      }
      saving = (async () => {
        do {
          saveAgain = false;
          // A checkpoint is replaced atomically, and only a bundle with one is worth keeping.
          if (!existsSync(store.checkpointPath(run.runId))) continue;
          try {
            const bytes = await packRun(out, run.runId, { checkpoint: true });
            await checkpoints.save(run.runId, bytes);
            if (options.checkpoints.kind !== 'none')
              log(`${run.runId}: checkpoint kept in ${checkpoints.description} (${sizeOf(bytes.length)})`);
          } catch (error) {
            log(
              `${run.runId}: could not keep its checkpoint in ${checkpoints.description} ` +
                `(${scrub(target, String(error))}); the run goes on`,
            );
          }
        } while (saveAgain);
      })().finally(() => {
        saving = undefined;
      });
    };
    let lastProgress = 0;
    const child = forkRun(
      {
        type: 'run',
        run,
        out,
        commit,
        threads: options.concurrency > 1 ? 1 : run.config.workers,
        resume: !data.force,
      },
      (message) => {
        if (message.type === 'progress') {
          const now = Date.now();
          if (now - lastProgress < 1000 && message.progress.done !== message.progress.total) return;
          lastProgress = now;
          void tell({ kind: 'progress', progress: message.progress, worker: name });
        } else if (message.type === 'note') {
          log(message.text);
          void tell({ kind: 'note', text: message.text, worker: name });
        } else if (message.type === 'checkpoint') {
          saveCheckpoint();
        }
      },
    );
    const entry: Active = { run, lost: false, stop: (reason) => child.abort(reason) };
    active.set(String(job.id), entry);
    if (stopping) child.abort(`worker stopping (${stopping})`);
    let exit: Awaited<typeof child.exited>;
    try {
      exit = await child.exited;
      while (saving !== undefined) await saving;
    } finally {
      active.delete(String(job.id));
    }
    const runEnd = Date.now();
    const done = exit.done;
    // Only the worker that holds the job stores its outcome: a worker taken as lost (its lock expired while it was
    // cut off from Redis) must not overwrite the result of the worker that took the job over. Renewing the lock
    // succeeds only for its holder, and keeps it for a whole lock duration, far longer than storing takes.
    const holdsJob = async () =>
      !entry.lost && token !== undefined && (await job.extendLock(token, options.stallSeconds * 1000)) === 1;
    if ((done?.status === 'FINISHED' || done?.status === 'FAILED') && !(await holdsJob())) {
      log(
        `${run.runId}: ended ${done.status}, but another worker has its job now; leaving the outcome to it`,
      );
      throw new Error(`${run.runId}: this worker lost the job (its lock expired)`);
    }
    if (done?.status === 'FINISHED') {
      const { bytes, bundle } = await storeResult(run.runId);
      await checkpoints.remove(run.runId).catch(() => {});
      const stored = Date.now();
      log(
        `${run.runId}: FINISHED in ${((runEnd - runStart) / 1000).toFixed(1)} s; result stored (${sizeOf(bytes.length)})`,
      );
      return resultOf(bundle, bytes, done.summary, { taken, runStart, runEnd, stored });
    }
    if (done?.status === 'KILLED' && stopping && !entry.lost && token !== undefined) {
      // Stopped with this worker: the checkpoint is kept, and the job goes straight back for another worker.
      if (existsSync(store.checkpointPath(run.runId))) {
        saveCheckpoint();
        while (saving !== undefined) await saving;
      }
      await job.moveToWait(token);
      log(`${run.runId}: stopped with a checkpoint; its job is back in the queue`);
      throw new WaitingError();
    }
    if (entry.lost)
      throw new Error(`${run.runId}: this worker lost the job (its lock expired); stopped the run`);
    if (done?.status === 'FAILED') {
      // The failed run goes back too, so the coordinator records it with its error once no attempt is left.
      if (existsSync(store.checkpointPath(run.runId)) || (await store.getRun(run.runId)) !== undefined)
        await storeResult(run.runId).catch(() => {});
      await checkpoints.remove(run.runId).catch(() => {});
      log(`${run.runId}: FAILED (attempt ${job.attemptsMade + 1}): ${(done.error ?? '').split('\n')[0]}`);
      throw new Error(done.error ?? 'the run failed');
    }
    // The run process died (out of memory, a crash): retried, from its checkpoint.
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    log(`${run.runId}: the run process exited (${how}) before the run ended`);
    throw new Error(`the run process exited (${how}) before the run ended`);
  };

  const connection = redisClient(target, { onNote: log });
  const worker = new Worker(queueName, processor, {
    connection,
    prefix: KEY_PREFIX,
    name,
    concurrency: options.concurrency,
    lockDuration: options.stallSeconds * 1000,
    stalledInterval: options.stallSeconds * 1000,
    maxStalledCount: options.maxStalls,
    autorun: false,
  });
  const shown = new Map<string, number>();
  worker.on('error', (error: Error) => {
    // Connection errors repeat while Redis is away; the client already said so once.
    const text = scrub(target, error.message);
    if (/ECONNREFUSED|ECONNRESET|Connection is closed|ETIMEDOUT|EPIPE|getaddrinfo/.test(text)) return;
    const last = shown.get(text) ?? 0;
    if (Date.now() - last < 30_000) return;
    shown.set(text, Date.now());
    log(`worker: ${text}`);
  });
  worker.on('lockRenewalFailed', (ids: string[]) => {
    for (const id of ids) {
      const entry = active.get(id);
      if (entry === undefined) continue;
      entry.lost = true;
      log(`${entry.run.runId}: its job's lock was lost (taken as stalled); stopping the run here`);
      entry.stop('the job was taken over by another worker');
    }
  });

  const finished = new Promise<number>((resolveExit) => {
    const onSignal = (signal: NodeJS.Signals) => {
      const code = signal === 'SIGINT' ? 130 : 143;
      if (stopping) {
        log(`${signal} again: exiting now`);
        process.exit(code);
      }
      stopping = signal;
      log(
        `${signal}: stopping; runs in progress save a checkpoint and go back to the queue (press Ctrl-C again to exit at once)`,
      );
      for (const entry of active.values()) entry.stop(`worker stopping (${signal})`);
      void (async () => {
        await worker.close();
        connection.disconnect();
        kv.disconnect();
        resolveExit(code);
      })();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  log(
    `worker ${name}: taking ${backend} runs from ${target.display} (Redis ${version}), ${options.concurrency} at a time; ` +
      `run store ${out}; checkpoints kept in ${checkpoints.description}`,
  );
  void worker.run().catch((error: Error) => log(`worker: ${scrub(target, error.message)}`));
  return finished;
}

function createDigest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
