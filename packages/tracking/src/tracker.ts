// The tracker the runner records through: every run goes to the local store, and with an MLflow tracking URI
// (option or MLFLOW_TRACKING_URI) it is also queued in the outbox and delivered in the background. Delivery
// never fails or blocks a run: while MLflow is unreachable events simply wait for `sync`, or the next tracker.
import { createMlflowClient, type MlflowClient } from './mlflow/client.ts';
import {
  type DeliverOptions,
  deliverOutbox,
  deliverRun,
  enqueueRun,
  listOutbox,
  reopenRun,
} from './outbox.ts';
import { listRunIds, openRunStore, readRunHeader } from './store.ts';
import type { RunWriter, SyncReport, Tracker } from './types.ts';

export interface TrackerOptions {
  /** The run store folder (runs/ and outbox/ go inside). */
  dir: string;
  /** MLflow tracking URI; defaults to MLFLOW_TRACKING_URI; `null` turns mirroring off. */
  mlflowUri?: string | null;
  /** MLflow experiment for the runs; defaults to each run's sweep. */
  experiment?: string;
  /** Delay between a logged event and its background delivery, batching what comes meanwhile (default 2000). */
  flushIntervalMs?: number;
  /** Retries per delivery step before leaving events for later (default 3). */
  retries?: number;
}

/** After MLflow could not be reached, background deliveries pause this long instead of failing run after run. */
const UNREACHABLE_PAUSE_MS = 15_000;

export function createTracker(options: TrackerOptions): Tracker {
  const store = openRunStore(options.dir);
  const uri =
    options.mlflowUri === undefined
      ? process.env.MLFLOW_TRACKING_URI || undefined
      : options.mlflowUri || undefined;
  if (uri === undefined) {
    return {
      store,
      mlflowUri: undefined,
      startRun: (meta) => store.startRun(meta),
      resumeRun: (runId, resume) => store.resumeRun(runId, resume),
      sync: async () => ({ delivered: 0, pending: 0, runs: 0, errors: [] }),
      close: async () => {},
    };
  }
  const client = createMlflowClient({ trackingUri: uri, retries: 0 });
  const retries = options.retries ?? 3;
  const flushIntervalMs = options.flushIntervalMs ?? 2000;
  const active = new Map<string, Promise<void>>();
  const again = new Set<string>();
  const timers = new Map<string, NodeJS.Timeout>();
  const started = new Set<string>();
  let pausedUntil = 0;
  let syncing: Promise<SyncReport> | undefined;

  const deliver = (runId: string): Promise<void> => {
    const running = active.get(runId);
    if (running !== undefined) {
      again.add(runId);
      return running;
    }
    const delivery = (async () => {
      do {
        again.delete(runId);
        if (Date.now() < pausedUntil) return;
        const result = await deliverRun(client, store.dir, runId, { retries }).catch(() => undefined);
        if (result?.unreachable) pausedUntil = Date.now() + UNREACHABLE_PAUSE_MS;
      } while (again.has(runId));
    })().finally(() => active.delete(runId));
    active.set(runId, delivery);
    return delivery;
  };

  const schedule = (runId: string, delayMs: number): void => {
    if (timers.has(runId)) return;
    const timer = setTimeout(() => {
      timers.delete(runId);
      if (syncing === undefined) void deliver(runId);
    }, delayMs);
    timer.unref();
    timers.set(runId, timer);
  };

  const mirrored = (writer: RunWriter): RunWriter => {
    const { runId } = writer;
    return {
      runId,
      logPosition: () => writer.logPosition(),
      logMetric(key, value, step) {
        writer.logMetric(key, value, step);
        schedule(runId, flushIntervalMs);
      },
      logMetrics(values, step) {
        writer.logMetrics(values, step);
        schedule(runId, flushIntervalMs);
      },
      setTag(key, value) {
        writer.setTag(key, value);
        schedule(runId, flushIntervalMs);
      },
      async addArtifact(name, content) {
        await writer.addArtifact(name, content);
        schedule(runId, flushIntervalMs);
      },
      async finish(status, summary, error) {
        await writer.finish(status, summary, error);
        clearTimeout(timers.get(runId));
        timers.delete(runId);
        schedule(runId, 0);
      },
    };
  };

  const drain = async (): Promise<void> => {
    for (const timer of timers.values()) clearTimeout(timer);
    timers.clear();
    while (active.size > 0) await Promise.all(active.values());
  };

  return {
    store,
    mlflowUri: client.trackingUri,
    async startRun(meta) {
      const writer = await store.startRun(meta);
      await enqueueRun(store.dir, meta.runId, options.experiment ?? meta.sweep);
      started.add(meta.runId);
      schedule(meta.runId, 0);
      return mirrored(writer);
    },
    async resumeRun(runId, resume) {
      const writer = await store.resumeRun(runId, resume);
      const header = await readRunHeader(store.dir, runId);
      await reopenRun(store.dir, runId, options.experiment ?? header?.meta.sweep ?? runId);
      started.add(runId);
      schedule(runId, 0);
      return mirrored(writer);
    },
    async sync() {
      const run = async (): Promise<SyncReport> => {
        await drain();
        return deliverOutbox(client, store.dir, { retries });
      };
      syncing = run().finally(() => {
        syncing = undefined;
      });
      return syncing;
    },
    async close() {
      await drain();
      if (Date.now() >= pausedUntil && started.size > 0) {
        await deliverOutbox(client, store.dir, { runIds: [...started], retries });
      }
    },
  };
}

export interface SyncOptions {
  dir: string;
  mlflowUri: string;
  /** Also queue the store's runs that were recorded without MLflow (to experiment = their sweep). */
  all?: boolean;
  /** Retries per delivery step (default 5), with exponential backoff between `minBackoffMs` and `maxBackoffMs`. */
  retries?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  client?: MlflowClient;
}

/** Delivers everything waiting in a store's outbox (what `reptile-bench sync` runs). */
export async function syncOutbox(options: SyncOptions): Promise<SyncReport> {
  const store = openRunStore(options.dir);
  const client = options.client ?? createMlflowClient({ trackingUri: options.mlflowUri, retries: 0 });
  if (options.all) {
    const queued = new Set(await listOutbox(store.dir));
    for (const runId of await listRunIds(store.dir)) {
      if (queued.has(runId)) continue;
      const header = await readRunHeader(store.dir, runId);
      if (header !== undefined) await enqueueRun(store.dir, runId, header.meta.sweep);
    }
  }
  const delivery: DeliverOptions = { retries: options.retries ?? 5 };
  if (options.minBackoffMs !== undefined) delivery.minBackoffMs = options.minBackoffMs;
  if (options.maxBackoffMs !== undefined) delivery.maxBackoffMs = options.maxBackoffMs;
  return deliverOutbox(client, store.dir, delivery);
}
