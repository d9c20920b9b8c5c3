/** What identifies a run and how it was produced; written once when the run starts. */
export interface RunMeta {
  /** Directory-safe id chosen by the caller, e.g. `<sweep>-<configHash>-s<seed>` (see `validateRunId`). */
  runId: string;
  /** The sweep the run belongs to; the MLflow experiment name when mirrored. */
  sweep: string;
  /** Human-readable run name (MLflow's run name). */
  name: string;
  configHash: string;
  seed: number;
  /** Source commit the run was produced from. */
  commit: string;
  backend: { name: string; version: string; threads: number };
  /** Checksum of the data the run read. */
  dataChecksum: string;
  config: unknown;
  /** Flattened config (see `flattenParams`); keys and values must satisfy MLflow's rules. */
  params: Record<string, string | number | boolean>;
  tags?: Record<string, string>;
}

export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';

/** One point of a metric history; `timestamp` is milliseconds since the epoch. */
export interface MetricPoint {
  step: number;
  value: number;
  timestamp: number;
}

export interface RunRecord {
  meta: RunMeta;
  /**
   * `KILLED` is also reported for a run whose writing process exited without finishing it
   * (a sweep killed mid-run); `error` then says so.
   */
  status: RunStatus;
  startTime: number;
  endTime?: number;
  error?: string;
  summary: Record<string, number>;
  metrics: Record<string, MetricPoint[]>;
  /** Artifact names, in the order they were first added. */
  artifacts: string[];
  /** `meta.tags` merged with every `setTag` call, later values winning. */
  tags: Record<string, string>;
  /** Identifies this attempt of the run: starting a run id again starts a new attempt with a new id. */
  attempt: string;
  /** Every time the attempt was continued from a checkpoint (see `RunStore.resumeRun`), in order. */
  resumes: RunResume[];
}

/** One continuation of a run from its checkpoint. */
export interface RunResume {
  /** Milliseconds since the epoch. */
  time: number;
  /** The commit of the code that continued it (which may differ from `meta.commit`). */
  commit: string;
  /** Iterations completed when the checkpoint was written. */
  iteration: number;
  /** What the run was doing: 'train' or 'eval'. */
  phase: string;
}

export interface RunWriter {
  readonly runId: string;
  /** Appends one point; synchronous so training loops need not await. Throws on keys MLflow would reject. */
  logMetric(key: string, value: number, step: number): void;
  logMetrics(values: Record<string, number>, step: number): void;
  setTag(key: string, value: string): void;
  /** Stores an artifact atomically under the run (`name` may contain `/`-separated folders). */
  addArtifact(name: string, content: string | Uint8Array | { file: string }): Promise<void>;
  /** Bytes of the run's log written so far: where a checkpoint written now stands in the log. */
  logPosition(): number;
  /** Marks the run ended; later calls on this writer throw. */
  finish(
    status: Exclude<RunStatus, 'RUNNING'>,
    summary?: Record<string, number>,
    error?: string,
  ): Promise<void>;
}

export interface RunStore {
  readonly dir: string;
  /** Starts a run; a run id that already exists is replaced by a fresh attempt. */
  startRun(meta: RunMeta): Promise<RunWriter>;
  /**
   * Continues the stored attempt of a run from a checkpoint: this process becomes its writer, and a resume event
   * supersedes what the log holds after byte `from` (written after that checkpoint). Metrics logged from here on
   * continue its history.
   */
  resumeRun(runId: string, resume: Omit<RunResume, 'time'> & { from: number }): Promise<RunWriter>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  listRuns(filter?: { sweep?: string; status?: RunStatus }): Promise<RunRecord[]>;
  /** Where an artifact of a run lives on disk (it may not exist yet). */
  artifactPath(runId: string, name: string): string;
  /** Where a run's checkpoint lives (inside its folder, so a fresh attempt of the run starts without one). */
  checkpointPath(runId: string): string;
}

/** Outcome of delivering the outbox to MLflow. */
export interface SyncReport {
  /**
   * Events delivered by this call: each metric point, tag, artifact and summary value, plus one for a run's
   * params (with its initial tags and config) and one for its final status.
   */
  delivered: number;
  /** Events still waiting after this call (the server was unreachable or failing). */
  pending: number;
  /** Runs this call worked on. */
  runs: number;
  /** One line per run that could not be fully delivered, saying why. */
  errors: string[];
}

/**
 * Records runs in the local store and, when an MLflow tracking URI is configured, mirrors each of them to
 * MLflow through the durable outbox (delivery happens in the background and never fails a run).
 */
export interface Tracker {
  readonly store: RunStore;
  /** The MLflow tracking URI runs are mirrored to, if any. */
  readonly mlflowUri: string | undefined;
  startRun(meta: RunMeta): Promise<RunWriter>;
  /** Continues a stored run from a checkpoint (see `RunStore.resumeRun`); mirrored runs are reopened in MLflow. */
  resumeRun(runId: string, resume: Omit<RunResume, 'time'> & { from: number }): Promise<RunWriter>;
  /** Delivers everything waiting in the outbox now (no-op report without MLflow). */
  sync(): Promise<SyncReport>;
  /** Waits for in-flight deliveries; what could not be delivered stays in the outbox for `sync`. */
  close(): Promise<void>;
}
