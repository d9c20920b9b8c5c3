// The durable outbox that mirrors runs to MLflow, exactly once.
//
// A run's events already sit durably in its append-only log, so the outbox only keeps, per run,
// `outbox/<runId>.json`: which MLflow run mirrors it and the byte offset of the log delivered so far.
// Delivery reads the log from that offset and sends it in log-batch calls. Exactly-once rests on three rules:
//  1. The MLflow run is found again, never created twice: it is created with a tag holding the local attempt
//     id, and before creating one the outbox searches for that tag (a create whose answer was lost is found).
//  2. Every metric batch carries the tag `reptile_bench.synced_offset` = the log offset it ends at, and the
//     local offset is advanced (atomically) only after MLflow acknowledged the batch. Before a batch is sent
//     it is recorded as in flight.
//  3. A batch left in flight (a crash, a timeout, a 5xx that may have been applied) is uncertain. The next
//     delivery reads the remote offset tag: at or past the batch's end, the batch landed. Otherwise MLflow
//     applies a batch's metrics and tags in separate transactions, so some points may have landed: it reads
//     the history of the batch's keys and sends only the points not there yet.
// Points are identified by (key, step, timestamp, value); MLflow itself stores identical points once.
// Tags, params (same values) and artifact uploads (PUT to a fixed path) are idempotent and need no more.
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import { withRetries } from './backoff.ts';
import { MlflowApiError, type MlflowClient } from './mlflow/client.ts';
import { MLFLOW_LIMITS, SUMMARY_PREFIX, validateRunId } from './names.ts';
import { decodeValue, type EndEvent, type LogEntry, liveEntries, readLog } from './run-log.ts';
import { openRunStore, type RunHeader, readRunHeader, runDir, runLogPath, writerIsGone } from './store.ts';
import type { RunStatus, SyncReport } from './types.ts';

export const OUTBOX_FOLDER = 'outbox';
export const TAGS = {
  runId: 'reptile_bench.run_id',
  attempt: 'reptile_bench.attempt',
  syncedOffset: 'reptile_bench.synced_offset',
  error: 'reptile_bench.error',
} as const;

/** Metric points per batch, leaving room for tags so one batch is always one request. */
const MAX_BATCH_METRICS = 900;
const MAX_BATCH_TAGS = MLFLOW_LIMITS.maxTagsPerBatch - 1;
const MAX_BATCH_BYTES = 600_000;

/** Contents of `outbox/<runId>.json`. */
interface OutboxEntry {
  format: 1;
  runId: string;
  attempt: string;
  experiment: string;
  experimentId?: string;
  mlflowRunId?: string;
  /** Log bytes delivered. */
  offset: number;
  /** A batch starting at `offset` that was sent without a known outcome. */
  inFlight?: boolean;
  paramsDelivered: boolean;
  /** The run's end, once the batch holding it was delivered (the status update follows). */
  ending?: Ending;
  /** The final status reached MLflow: nothing left to deliver. */
  done: boolean;
}

export interface DeliveryResult {
  runId: string;
  delivered: number;
  pending: number;
  error?: string;
  /** Another process is delivering this run right now. */
  busy?: boolean;
  /** The server could not be reached at all (as opposed to answering with an error). */
  unreachable?: boolean;
}

function entryPath(storeDir: string, runId: string): string {
  return join(storeDir, OUTBOX_FOLDER, `${validateRunId(runId)}.json`);
}

async function readEntry(storeDir: string, runId: string): Promise<OutboxEntry | undefined> {
  const file = entryPath(storeDir, runId);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as OutboxEntry;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(
      `cannot read outbox entry ${file}: ${String(error)}; delete it to deliver the run afresh`,
    );
  }
}

async function writeEntry(storeDir: string, entry: OutboxEntry): Promise<void> {
  await writeFileAtomic(entryPath(storeDir, entry.runId), `${JSON.stringify(entry)}\n`);
}

/** Queues a run for mirroring (a new attempt of a run replaces the queued older one). */
export async function enqueueRun(storeDir: string, runId: string, experiment: string): Promise<void> {
  const header = await readRunHeader(storeDir, runId);
  if (header === undefined) throw new Error(`cannot queue run ${runId}: it is not in the store ${storeDir}`);
  await mkdir(join(storeDir, OUTBOX_FOLDER), { recursive: true });
  const existing = await readEntry(storeDir, runId);
  if (existing?.attempt === header.attempt) return;
  await writeEntry(storeDir, freshEntry(runId, header.attempt, experiment));
}

/**
 * A run continued from a checkpoint: its mirror is delivered again from where it stopped (the resume event in the
 * log sets the MLflow run back to RUNNING).
 */
export async function reopenRun(storeDir: string, runId: string, experiment: string): Promise<void> {
  const header = await readRunHeader(storeDir, runId);
  const existing = await readEntry(storeDir, runId);
  if (header === undefined || existing?.attempt !== header.attempt)
    return enqueueRun(storeDir, runId, experiment);
  const { ending: _ending, ...rest } = existing;
  await writeEntry(storeDir, { ...rest, done: false });
}

/** The user name MLflow's clients record (`mlflow.user`). */
function runUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

function freshEntry(runId: string, attempt: string, experiment: string): OutboxEntry {
  return { format: 1, runId, attempt, experiment, offset: 0, paramsDelivered: false, done: false };
}

/** Run ids with an outbox entry, delivered or not. */
export async function listOutbox(storeDir: string): Promise<string[]> {
  try {
    return (await readdir(join(storeDir, OUTBOX_FOLDER)))
      .filter((name) => name.endsWith('.json') && !name.startsWith('.'))
      .map((name) => name.slice(0, -'.json'.length))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export interface DeliverOptions {
  /** Attempts per request after a failure (with backoff); 0 gives up at the first failure. */
  retries?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Delivers what is pending for one run. Never throws for MLflow being unreachable or failing: the error is
 * reported and the state left consistent for the next call.
 */
export async function deliverRun(
  client: MlflowClient,
  storeDir: string,
  runId: string,
  options: DeliverOptions = {},
): Promise<DeliveryResult> {
  const file = entryPath(storeDir, runId);
  let release: () => Promise<void>;
  let compromised = false;
  try {
    release = await lockfile.lock(file, {
      stale: 60_000,
      // A training loop may block this thread for long; losing the lock then must not crash the process.
      onCompromised: () => {
        compromised = true;
      },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED')
      return { runId, delivered: 0, pending: 0, busy: true };
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { runId, delivered: 0, pending: 0 };
    throw error;
  }
  const delivery = new RunDelivery(client, storeDir, runId, options, () => compromised);
  try {
    await delivery.run();
  } catch (error) {
    delivery.error = error instanceof Error ? error.message : String(error);
    delivery.unreachable = error instanceof MlflowApiError && error.status === 0;
  } finally {
    await release().catch(() => undefined);
  }
  const result: DeliveryResult = { runId, delivered: delivery.delivered, pending: await delivery.pending() };
  if (delivery.error !== undefined) result.error = delivery.error;
  if (delivery.unreachable) result.unreachable = true;
  return result;
}

/** Metric point identity as MLflow stores it (infinities come back clamped to ±Number.MAX_VALUE). */
function pointIdentity(key: string, step: number, timestamp: number, value: number): string {
  const stored = Number.isNaN(value)
    ? 'NaN'
    : value === Number.POSITIVE_INFINITY
      ? String(Number.MAX_VALUE)
      : value === Number.NEGATIVE_INFINITY
        ? String(-Number.MAX_VALUE)
        : String(value);
  return `${key}\u0000${step}\u0000${timestamp}\u0000${stored}`;
}

interface Ending {
  status: Exclude<RunStatus, 'RUNNING'>;
  time: number;
  error?: string;
}

interface Batch {
  metrics: Array<{ key: string; value: number; timestamp: number; step: number }>;
  tags: Map<string, string>;
  /** Log offset just past the batch's last entry. */
  end: number;
  /** Events the batch stands for (points, tags), for the report. */
  events: number;
  /** The run's end event, when the batch reaches it. */
  ending?: Ending;
}

class RunDelivery {
  delivered = 0;
  error: string | undefined;
  unreachable = false;
  private entry: OutboxEntry | undefined;
  private entries: LogEntry[] = [];
  private writerGone = false;

  constructor(
    private readonly client: MlflowClient,
    private readonly storeDir: string,
    private readonly runId: string,
    private readonly options: DeliverOptions,
    private readonly lockLost: () => boolean,
  ) {}

  /** Delivers what is pending, step by step: the mirror run, its params, the log, the final status. */
  async run(): Promise<void> {
    const header = await this.openEntry();
    if (header === undefined) return;
    const mlflowRunId = await this.mirrorRun(header);
    if (this.entry!.inFlight) await this.skipWhatLanded(mlflowRunId);
    await this.deliverParams(mlflowRunId, header);
    await this.deliverLog(mlflowRunId);
    await this.deliverEnding(mlflowRunId);
  }

  /** Loads the outbox entry and the log after its offset; undefined when nothing is left to do. */
  private async openEntry(): Promise<RunHeader | undefined> {
    let entry = await readEntry(this.storeDir, this.runId);
    if (entry === undefined || entry.done) return undefined;
    const header = await readRunHeader(this.storeDir, this.runId);
    if (header === undefined) {
      // The run was removed from the store: nothing left to mirror.
      await unlink(entryPath(this.storeDir, this.runId)).catch(() => undefined);
      return undefined;
    }
    if (header.attempt !== entry.attempt) {
      entry = freshEntry(this.runId, header.attempt, entry.experiment);
      await this.save(entry);
    }
    this.entry = entry;
    // What a resume superseded and was not delivered yet is never sent (what was sent before stays in MLflow).
    this.entries = liveEntries(
      await readLog(runLogPath(this.storeDir, this.runId), entry.offset),
      entry.offset,
    );
    this.writerGone = writerIsGone(header);
    return header;
  }

  /**
   * The MLflow run that mirrors this attempt: found again by its attempt tag (a create whose answer was lost),
   * or created. Superseded attempts of the same run id are deleted from MLflow.
   */
  private async mirrorRun(header: RunHeader): Promise<string> {
    const entry = this.entry!;
    if (entry.mlflowRunId !== undefined) return entry.mlflowRunId;
    // A new experiment is marked for model training, as MLflow's own training clients' experiments are used.
    const experimentId = await this.retrying(() =>
      this.client.getOrCreateExperiment(entry.experiment, {
        'mlflow.experimentKind': 'custom_model_development',
      }),
    );
    entry.experimentId = experimentId;
    const filter = `tags."${TAGS.attempt}" = '${header.attempt}'`;
    const found = await this.retrying(() =>
      this.client.searchAllRuns({ experimentIds: [experimentId], filter, runViewType: 'ACTIVE_ONLY' }),
    );
    if (found[0] !== undefined) {
      // Created before, but its id was never recorded here: what it already holds is unknown.
      entry.mlflowRunId = found[0].info.runId;
      entry.inFlight = true;
    } else {
      const { meta } = header;
      const created = await this.retrying(() =>
        this.client.createRun({
          experimentId,
          runName: meta.name,
          startTime: header.startTime,
          tags: {
            [TAGS.runId]: meta.runId,
            [TAGS.attempt]: header.attempt,
            'reptile_bench.sweep': meta.sweep,
            'reptile_bench.config_hash': meta.configHash,
            'reptile_bench.seed': String(meta.seed),
            'reptile_bench.backend': `${meta.backend.name} ${meta.backend.version} (${meta.backend.threads} threads)`,
            'reptile_bench.data_checksum': meta.dataChecksum,
            'mlflow.source.git.commit': meta.commit,
            // What MLflow's own clients set for a run started from a local program.
            'mlflow.source.type': 'LOCAL',
            'mlflow.source.name': meta.tags?.sweep_file ?? 'reptile-bench',
            'mlflow.user': runUser(),
          },
        }),
      );
      entry.mlflowRunId = created.info.runId;
    }
    await this.save(entry);
    await this.deleteSupersededAttempts(experimentId, header.attempt);
    return entry.mlflowRunId;
  }

  /** Params, initial tags and the config artifact, once (re-sending the same values is harmless). */
  private async deliverParams(mlflowRunId: string, header: RunHeader): Promise<void> {
    const entry = this.entry!;
    if (entry.paramsDelivered) return;
    const params = Object.entries(header.meta.params).map(([key, value]) => ({ key, value }));
    const tags = Object.entries(header.meta.tags ?? {}).map(([key, value]) => ({ key, value }));
    await this.retrying(() => this.client.logBatch(mlflowRunId, { params, tags }, { retries: 0 }));
    await this.retrying(() =>
      this.client.uploadArtifact(
        mlflowRunId,
        'config.json',
        `${JSON.stringify(header.meta.config, null, 2)}\n`,
      ),
    );
    entry.paramsDelivered = true;
    this.delivered += 1;
    await this.save(entry);
  }

  /** The log after the delivered offset: metric/tag batches, artifacts and resumes, in order. */
  private async deliverLog(mlflowRunId: string): Promise<void> {
    const entry = this.entry!;
    let position = 0;
    while (position < this.entries.length) {
      this.checkLock();
      const next = this.entries[position]!;
      if ('resume' in next.event) {
        await this.retrying(() => this.client.updateRun(mlflowRunId, { status: 'RUNNING' }));
      } else if ('artifact' in next.event) {
        const name = next.event.artifact;
        const path = join(runDir(this.storeDir, this.runId), 'artifacts', name);
        await this.retrying(() => this.client.uploadArtifact(mlflowRunId, name, { file: path }));
        if (name === 'model.json') await this.deliverLoggedModel(mlflowRunId, path);
        this.delivered += 1;
      } else {
        const { batch, count } = this.buildBatch(position);
        await this.sendBatch(mlflowRunId, batch);
        position += count;
        continue;
      }
      entry.offset = next.end;
      await this.save(entry);
      position += 1;
    }
  }

  /**
   * The trained model as an MLflow logged model of the run (what MLflow's UI lists under "Logged models"): found
   * again by the attempt tag, so a repeated delivery completes it instead of making a second one.
   */
  private async deliverLoggedModel(mlflowRunId: string, file: string): Promise<void> {
    const entry = this.entry!;
    const experimentId =
      entry.experimentId ?? (await this.retrying(() => this.client.getRun(mlflowRunId))).info.experimentId;
    const filter = `tags.\`${TAGS.attempt}\` = '${entry.attempt}'`;
    // Looked for again before every create: a create that failed after it was applied is found, not repeated.
    const model = await this.retrying(
      async () =>
        (await this.client.searchLoggedModels(experimentId, filter))[0] ??
        this.client.createLoggedModel({
          experimentId,
          name: 'model',
          sourceRunId: mlflowRunId,
          modelType: 'reptile-bench',
          tags: { [TAGS.runId]: this.runId, [TAGS.attempt]: entry.attempt },
        }),
    );
    if (model.status !== 'LOGGED_MODEL_READY') {
      const target = model;
      await this.retrying(() => this.client.uploadLoggedModelArtifact(target, 'model.json', { file }));
      await this.retrying(() => this.client.finalizeLoggedModel(target.modelId));
    }
    const modelId = model.modelId;
    const run = await this.retrying(() => this.client.getRun(mlflowRunId));
    if (!run.modelOutputs.includes(modelId))
      await this.retrying(() => this.client.logRunOutputs(mlflowRunId, [modelId]));
  }

  /** The final status, once the log's end was delivered, or KILLED when the writer died without one. */
  private async deliverEnding(mlflowRunId: string): Promise<void> {
    const entry = this.entry!;
    if (entry.ending !== undefined && !entry.done) await this.finishRemote(mlflowRunId, entry.ending);
    if (!entry.done && entry.ending === undefined && this.writerGone) {
      // The writer died without an end event: mirror the store's verdict (KILLED, ended at its last event).
      const record = await openRunStore(this.storeDir).getRun(this.runId);
      if (record?.status === 'KILLED' && record.endTime !== undefined) {
        const ending: Ending = { status: 'KILLED', time: record.endTime };
        if (record.error !== undefined) ending.error = record.error;
        await this.finishRemote(mlflowRunId, ending);
      }
    }
  }

  /**
   * After an uncertain send (or when adopting an MLflow run found by its attempt tag), the remote offset tag
   * says how much of the log already landed whole; the batch after it stays uncertain.
   */
  private async skipWhatLanded(mlflowRunId: string): Promise<void> {
    const entry = this.entry!;
    const remote = await this.retrying(() => this.client.getRun(mlflowRunId));
    const remoteOffset = Number(remote.tags[TAGS.syncedOffset] ?? 0);
    if (!(remoteOffset > entry.offset)) return;
    for (const { event, end } of this.entries) {
      if (end <= remoteOffset && 'end' in event) entry.ending = endingOf(event);
    }
    this.entries = this.entries.filter(({ end }) => end > remoteOffset);
    entry.offset = remoteOffset;
    await this.save(entry);
  }

  /** Events still waiting: unread log entries, params, and the final status once the run has ended. */
  async pending(): Promise<number> {
    const entry = this.entry ?? (await readEntry(this.storeDir, this.runId));
    if (entry === undefined || entry.done) return 0;
    const rest = this.entry === undefined ? [] : this.entries.filter(({ end }) => end > entry.offset);
    const ended = entry.ending !== undefined || this.writerGone || rest.some(({ event }) => 'end' in event);
    return countEvents(rest) + (entry.paramsDelivered ? 0 : 1) + (ended ? 1 : 0);
  }

  private buildBatch(start: number): { batch: Batch; count: number } {
    const batch: Batch = { metrics: [], tags: new Map(), end: this.entry!.offset, events: 0 };
    let bytes = 0;
    let count = 0;
    for (let i = start; i < this.entries.length; i++) {
      const { event, end } = this.entries[i]!;
      if ('artifact' in event || 'resume' in event) break;
      if ('m' in event) {
        if (batch.metrics.length >= MAX_BATCH_METRICS) break;
        batch.metrics.push({ key: event.m, value: decodeValue(event.v), timestamp: event.t, step: event.s });
        bytes += event.m.length + 80;
      } else if ('tag' in event) {
        if (batch.tags.size >= MAX_BATCH_TAGS && !batch.tags.has(event.tag)) break;
        batch.tags.set(event.tag, event.value);
        bytes += event.tag.length + event.value.length + 40;
      } else if ('end' in event) {
        const summary = Object.entries(event.summary ?? {});
        if (count > 0 && batch.metrics.length + summary.length > MAX_BATCH_METRICS) break;
        for (const [key, value] of summary) {
          batch.metrics.push({
            key: `${SUMMARY_PREFIX}${key}`,
            value: decodeValue(value),
            timestamp: event.t,
            step: 0,
          });
        }
        batch.ending = endingOf(event);
      }
      batch.events += 'end' in event ? Object.keys(event.summary ?? {}).length : 1;
      batch.end = end;
      count += 1;
      if (bytes > MAX_BATCH_BYTES || batch.ending !== undefined) break;
    }
    return { batch, count };
  }

  private async sendBatch(mlflowRunId: string, batch: Batch): Promise<void> {
    const entry = this.entry!;
    await this.retrying(async () => {
      let metrics = batch.metrics;
      if (entry.inFlight) {
        const remote = await this.client.getRun(mlflowRunId);
        const remoteOffset = Number(remote.tags[TAGS.syncedOffset] ?? 0);
        if (remoteOffset >= batch.end) {
          return; // the uncertain send did land, whole
        }
        metrics = await this.notYetStored(mlflowRunId, metrics);
      }
      entry.inFlight = true;
      await this.save(entry);
      try {
        await this.client.logBatch(
          mlflowRunId,
          {
            metrics,
            tags: [...batch.tags.entries(), [TAGS.syncedOffset, String(batch.end)] as const].map(
              ([key, value]) => ({ key, value }),
            ),
          },
          { retries: 0 },
        );
      } catch (error) {
        if (error instanceof MlflowApiError && !error.mayHaveApplied) {
          entry.inFlight = false;
          await this.save(entry);
        }
        throw error;
      }
    });
    entry.offset = batch.end;
    entry.inFlight = false;
    if (batch.ending !== undefined) entry.ending = batch.ending;
    this.delivered += batch.events;
    await this.save(entry);
  }

  /** The points of an uncertain batch that MLflow does not hold yet. */
  private async notYetStored(mlflowRunId: string, metrics: Batch['metrics']): Promise<Batch['metrics']> {
    const stored = new Set<string>();
    for (const key of new Set(metrics.map((m) => m.key))) {
      for (const point of await this.client.getMetricHistory(mlflowRunId, key)) {
        stored.add(pointIdentity(key, point.step, point.timestamp, point.value));
      }
    }
    return metrics.filter((m) => !stored.has(pointIdentity(m.key, m.step, m.timestamp, m.value)));
  }

  private async finishRemote(mlflowRunId: string, ending: Ending): Promise<void> {
    const entry = this.entry!;
    if (ending.error !== undefined) {
      const error = ending.error;
      await this.retrying(() => this.client.setTag(mlflowRunId, TAGS.error, error));
    }
    await this.retrying(() =>
      this.client.updateRun(mlflowRunId, { status: ending.status, endTime: ending.time }),
    );
    entry.done = true;
    entry.inFlight = false;
    this.delivered += 1;
    await this.save(entry);
  }

  private async deleteSupersededAttempts(experimentId: string, attempt: string): Promise<void> {
    const filter = `tags."${TAGS.runId}" = '${this.runId}'`;
    const runs = await this.retrying(() =>
      this.client.searchAllRuns({ experimentIds: [experimentId], filter, runViewType: 'ACTIVE_ONLY' }),
    );
    for (const run of runs) {
      if (run.tags[TAGS.attempt] !== attempt)
        await this.retrying(() => this.client.deleteRun(run.info.runId));
    }
  }

  private checkLock(): void {
    if (this.lockLost()) {
      throw new Error(
        `delivery of run ${this.runId} stopped: its outbox lock went stale (another process took over)`,
      );
    }
  }

  private async save(entry: OutboxEntry): Promise<void> {
    this.checkLock();
    await writeEntry(this.storeDir, entry);
  }

  /** Runs one delivery step, retrying failures MLflow may recover from (unreachable, 429, 5xx), with backoff. */
  private retrying<T>(step: () => Promise<T>): Promise<T> {
    return withRetries(step, {
      retries: this.options.retries ?? 5,
      minBackoffMs: this.options.minBackoffMs ?? 250,
      maxBackoffMs: this.options.maxBackoffMs ?? 8000,
      retryable: (error) =>
        error instanceof MlflowApiError &&
        (error.status === 0 || error.status === 429 || error.status >= 500),
    });
  }
}

/** Delivers every pending outbox entry of a store, one run after another. */
export async function deliverOutbox(
  client: MlflowClient,
  storeDir: string,
  options: DeliverOptions & { runIds?: string[] } = {},
): Promise<SyncReport> {
  const report: SyncReport = { delivered: 0, pending: 0, runs: 0, errors: [] };
  const ids = options.runIds ?? (await listOutbox(storeDir));
  let unreachable = false;
  for (const runId of ids) {
    const entry = await readEntry(storeDir, runId);
    if (entry === undefined || entry.done) continue;
    report.runs += 1;
    if (unreachable) {
      // One unreachable server is enough to know: count what waits instead of retrying run after run.
      report.pending += await pendingWithoutDelivery(storeDir, entry);
      continue;
    }
    const result = await deliverRun(client, storeDir, runId, options);
    report.delivered += result.delivered;
    report.pending += result.busy ? await pendingWithoutDelivery(storeDir, entry) : result.pending;
    if (result.error !== undefined) {
      report.errors.push(`${runId}: ${result.error}`);
      unreachable = result.unreachable === true;
    }
    if (result.busy) report.errors.push(`${runId}: being delivered by another process`);
  }
  return report;
}

async function pendingWithoutDelivery(storeDir: string, entry: OutboxEntry): Promise<number> {
  const header = await readRunHeader(storeDir, entry.runId);
  if (header === undefined) return 0;
  const sameAttempt = header.attempt === entry.attempt;
  const rest = await readLog(runLogPath(storeDir, entry.runId), sameAttempt ? entry.offset : 0);
  const ended =
    (sameAttempt && entry.ending !== undefined) ||
    writerIsGone(header) ||
    rest.some(({ event }) => 'end' in event);
  return countEvents(rest) + (sameAttempt && entry.paramsDelivered ? 0 : 1) + (ended ? 1 : 0);
}

/** Log entries as report events: each point, tag and artifact, and each summary value of the end. */
function countEvents(entries: LogEntry[]): number {
  let count = 0;
  for (const { event } of entries)
    count += 'end' in event ? Object.keys(event.summary ?? {}).length : 'resume' in event ? 0 : 1;
  return count;
}

function endingOf(event: EndEvent): Ending {
  const ending: Ending = { status: event.end, time: event.t };
  if (event.error !== undefined) ending.error = event.error.slice(0, MLFLOW_LIMITS.maxTagValueLength);
  return ending;
}
