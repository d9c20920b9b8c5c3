// A typed client for MLflow's REST API (tracking + served artifacts), written on `fetch`. It validates what it
// sends against the server's rules, splits log-batch calls to MLflow's limits, retries 429 and 5xx with
// exponential backoff and full jitter, and turns MLflow's `{error_code, message}` into `MlflowApiError`.
import { readFile } from 'node:fs/promises';
import { backoffDelay, sleep } from '../backoff.ts';
import {
  MLFLOW_LIMITS,
  validateMlflowKey,
  validateParamValue,
  validateStep,
  validateTagValue,
} from '../names.ts';

export type MlflowRunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
export type MlflowViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

export interface MlflowExperiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: 'active' | 'deleted';
  tags: Record<string, string>;
}

export interface MlflowMetric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface MlflowRunInfo {
  runId: string;
  runName: string;
  experimentId: string;
  status: MlflowRunStatus;
  startTime: number;
  endTime?: number;
  artifactUri: string;
  lifecycleStage: 'active' | 'deleted';
}

export interface MlflowRun {
  info: MlflowRunInfo;
  /** Latest value of each metric. */
  metrics: MlflowMetric[];
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Ids of the logged models recorded as the run's outputs. */
  modelOutputs: string[];
}

export interface MlflowFileInfo {
  path: string;
  isDir: boolean;
  fileSize?: number;
}

export interface MlflowBatch {
  metrics?: MlflowMetric[];
  params?: Array<{ key: string; value: string | number | boolean }>;
  tags?: Array<{ key: string; value: string }>;
}

export interface CallOptions {
  /** Retries for this call; 0 sends once (for calls whose repetition is not harmless). */
  retries?: number;
}

export interface MlflowClientOptions {
  /** `http(s)://host:port[/prefix]` of an MLflow tracking server. */
  trackingUri: string;
  /** Retries after a 429, a 5xx or a network failure (default 5). */
  retries?: number;
  /** First backoff ceiling in ms; doubles per retry up to `maxBackoffMs` (defaults 250 and 8000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per-request timeout in ms (default 30 000). */
  timeoutMs?: number;
  /** Extra headers on every request, e.g. `Authorization`. */
  headers?: Record<string, string>;
  /** Source of jitter in [0, 1); injectable so tests can pin the backoff. */
  random?: () => number;
  fetch?: typeof fetch;
}

export interface MlflowClient {
  readonly trackingUri: string;
  getExperimentByName(name: string): Promise<MlflowExperiment | undefined>;
  createExperiment(name: string, tags?: Record<string, string>): Promise<string>;
  /**
   * The experiment's id, creating it if needed (safe when several processes race to create it), with `tags`
   * when this call creates it.
   */
  getOrCreateExperiment(name: string, tags?: Record<string, string>): Promise<string>;
  /** Creates an MLflow 3 logged model (a model entity of its own, listed with its source run). */
  createLoggedModel(o: {
    experimentId: string;
    name: string;
    sourceRunId?: string;
    modelType?: string;
    tags?: Record<string, string>;
  }): Promise<MlflowLoggedModel>;
  /** Logged models of an experiment matching a filter (e.g. `tags.\`key\` = 'value'`). */
  searchLoggedModels(experimentId: string, filter?: string): Promise<MlflowLoggedModel[]>;
  /** Stores a file among a logged model's artifacts. */
  uploadLoggedModelArtifact(
    model: MlflowLoggedModel,
    path: string,
    content: string | Uint8Array | { file: string },
  ): Promise<void>;
  /** Marks a logged model ready (its artifacts are complete). */
  finalizeLoggedModel(modelId: string): Promise<void>;
  /** Records logged models as a run's outputs (how MLflow's UI finds a run's "Logged models"); once per model. */
  logRunOutputs(runId: string, modelIds: string[]): Promise<void>;
  createRun(o: {
    experimentId: string;
    runName?: string;
    startTime?: number;
    tags?: Record<string, string>;
  }): Promise<MlflowRun>;
  updateRun(
    runId: string,
    o: { status?: MlflowRunStatus; endTime?: number; runName?: string },
  ): Promise<MlflowRunInfo>;
  getRun(runId: string): Promise<MlflowRun>;
  deleteRun(runId: string): Promise<void>;
  searchRuns(o: {
    experimentIds: string[];
    filter?: string;
    runViewType?: MlflowViewType;
    orderBy?: string[];
    maxResults?: number;
    pageToken?: string;
  }): Promise<{ runs: MlflowRun[]; nextPageToken?: string }>;
  /** Every run matching, following `next_page_token`. */
  searchAllRuns(o: {
    experimentIds: string[];
    filter?: string;
    runViewType?: MlflowViewType;
    orderBy?: string[];
    pageSize?: number;
  }): Promise<MlflowRun[]>;
  /** Logs a batch of any size as as many requests as MLflow's limits require. */
  logBatch(runId: string, batch: MlflowBatch, options?: CallOptions): Promise<void>;
  setTag(runId: string, key: string, value: string): Promise<void>;
  /** The full history of one metric, following `next_page_token`. */
  getMetricHistory(runId: string, key: string, o?: { pageSize?: number }): Promise<MlflowMetric[]>;
  /** Uploads to the run's artifact root on a server started with served artifacts. */
  uploadArtifact(runId: string, path: string, content: string | Uint8Array | { file: string }): Promise<void>;
  listArtifacts(runId: string, path?: string): Promise<MlflowFileInfo[]>;
  downloadArtifact(runId: string, path: string): Promise<Uint8Array>;
}

/** An error answer from MLflow (or from the network after the last retry). */
export class MlflowApiError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when no answer came (network failure or timeout). */
    readonly status: number,
    /** MLflow's `error_code`, e.g. `RESOURCE_DOES_NOT_EXIST`, or `NETWORK_ERROR`. */
    readonly errorCode: string,
    readonly endpoint: string,
  ) {
    super(message);
    this.name = 'MlflowApiError';
  }

  /** True when the server may have applied the request even though it failed (so a resend could repeat it). */
  get mayHaveApplied(): boolean {
    if (this.status === 429) return false;
    if (this.status === 0) return this.errorCode !== 'CONNECTION_REFUSED';
    return this.status >= 500;
  }
}

const RETRYABLE_STATUS = (status: number): boolean => status === 429 || status >= 500;

export function createMlflowClient(options: MlflowClientOptions): MlflowClient {
  const base = parseTrackingUri(options.trackingUri);
  const defaultRetries = options.retries ?? 5;
  const backoff = {
    minBackoffMs: options.minBackoffMs ?? 250,
    maxBackoffMs: options.maxBackoffMs ?? 8000,
    random: options.random ?? Math.random,
  };
  const timeoutMs = options.timeoutMs ?? 30_000;
  const doFetch = options.fetch ?? fetch;
  const artifactRoots = new Map<string, string>();

  async function request(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH',
    endpoint: string,
    o: { query?: Record<string, string | number | undefined>; json?: unknown; body?: Uint8Array } = {},
    retries = defaultRetries,
  ): Promise<Response> {
    const url = new URL(`${base}${endpoint}`);
    for (const [key, value] of Object.entries(o.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { ...options.headers };
    let body: string | Uint8Array | undefined;
    if (o.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = encodeJson(o.json);
    } else if (o.body !== undefined) {
      headers['Content-Type'] = 'application/octet-stream';
      body = o.body;
    }
    for (let attempt = 0; ; attempt++) {
      let failure: MlflowApiError;
      let retryAfterMs: number | undefined;
      try {
        const response = await doFetch(url, {
          method,
          headers,
          body: body as RequestInit['body'],
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (response.ok) return response;
        failure = await errorFromResponse(response, method, endpoint);
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
        if (!RETRYABLE_STATUS(response.status)) throw failure;
      } catch (error) {
        if (error instanceof MlflowApiError) {
          if (!RETRYABLE_STATUS(error.status) && error.status !== 0) throw error;
          failure = error;
        } else {
          failure = networkError(error, method, endpoint, base);
        }
      }
      if (attempt >= retries) throw failure;
      await sleep(Math.max(retryAfterMs ?? 0, backoffDelay(attempt, backoff)));
    }
  }

  async function call<T>(
    method: 'GET' | 'POST',
    endpoint: string,
    payload: Record<string, unknown>,
    retries?: number,
  ): Promise<T> {
    const response =
      method === 'GET'
        ? await request(method, endpoint, { query: payload as Record<string, string | number> }, retries)
        : await request(method, endpoint, { json: payload }, retries);
    const text = await response.text();
    return (text.length === 0 ? {} : decodeJson(text, endpoint)) as T;
  }

  async function artifactRoot(runId: string): Promise<string> {
    let root = artifactRoots.get(runId);
    if (root === undefined) {
      const run = await client.getRun(runId);
      root = servedArtifactPath(run.info.artifactUri, runId);
      artifactRoots.set(runId, root);
    }
    return root;
  }

  /** Uploads one file to the artifact store under `root` (a run's or a logged model's served path). */
  async function putArtifact(root: string, path: string, content: string | Uint8Array | { file: string }) {
    const body =
      typeof content === 'string'
        ? new TextEncoder().encode(content)
        : content instanceof Uint8Array
          ? content
          : new Uint8Array(await readFile(content.file));
    await request(
      'PUT',
      `/api/2.0/mlflow-artifacts/artifacts/${encodePath(`${root}/${artifactName(path)}`)}`,
      {
        body,
      },
    );
  }

  const client: MlflowClient = {
    trackingUri: base,

    async getExperimentByName(name) {
      try {
        const answer = await call<{ experiment: RawExperiment }>(
          'GET',
          '/api/2.0/mlflow/experiments/get-by-name',
          {
            experiment_name: name,
          },
        );
        return toExperiment(answer.experiment);
      } catch (error) {
        if (error instanceof MlflowApiError && error.errorCode === 'RESOURCE_DOES_NOT_EXIST')
          return undefined;
        throw error;
      }
    },

    async createExperiment(name, tags = {}) {
      validateExperimentName(name);
      const answer = await call<{ experiment_id: string }>('POST', '/api/2.0/mlflow/experiments/create', {
        name,
        tags: toKeyValues('tag', tags),
      });
      return answer.experiment_id;
    },

    async getOrCreateExperiment(name, tags = {}) {
      validateExperimentName(name);
      const existing = await client.getExperimentByName(name);
      if (existing !== undefined) {
        if (existing.lifecycleStage === 'deleted') {
          throw new Error(
            `MLflow experiment ${JSON.stringify(name)} (id ${existing.experimentId}) is deleted; restore it ` +
              `(mlflow experiments restore --experiment-id ${existing.experimentId}) or choose another name`,
          );
        }
        return existing.experimentId;
      }
      try {
        return await client.createExperiment(name, tags);
      } catch (error) {
        // Another process created it between our lookup and our create.
        if (error instanceof MlflowApiError && error.errorCode === 'RESOURCE_ALREADY_EXISTS') {
          const created = await client.getExperimentByName(name);
          if (created !== undefined) return created.experimentId;
        }
        throw error;
      }
    },

    async createRun({ experimentId, runName, startTime, tags = {} }) {
      const answer = await call<{ run: RawRun }>('POST', '/api/2.0/mlflow/runs/create', {
        experiment_id: experimentId,
        run_name: runName,
        start_time: startTime ?? Date.now(),
        tags: toKeyValues('tag', tags),
      });
      return toRun(answer.run);
    },

    async updateRun(runId, { status, endTime, runName }) {
      const answer = await call<{ run_info: RawRunInfo }>('POST', '/api/2.0/mlflow/runs/update', {
        run_id: runId,
        status,
        end_time: endTime,
        run_name: runName,
      });
      return toRunInfo(answer.run_info);
    },

    async getRun(runId) {
      const answer = await call<{ run: RawRun }>('GET', '/api/2.0/mlflow/runs/get', { run_id: runId });
      return toRun(answer.run);
    },

    async deleteRun(runId) {
      await call('POST', '/api/2.0/mlflow/runs/delete', { run_id: runId });
    },

    async searchRuns({ experimentIds, filter, runViewType, orderBy, maxResults, pageToken }) {
      if (
        maxResults !== undefined &&
        (maxResults < 1 || maxResults > MLFLOW_LIMITS.maxResultsPerSearchPage)
      ) {
        throw new Error(`searchRuns: maxResults must be 1 to ${MLFLOW_LIMITS.maxResultsPerSearchPage}`);
      }
      const answer = await call<{ runs?: RawRun[]; next_page_token?: string }>(
        'POST',
        '/api/2.0/mlflow/runs/search',
        {
          experiment_ids: experimentIds,
          filter,
          run_view_type: runViewType,
          order_by: orderBy,
          max_results: maxResults,
          page_token: pageToken,
        },
      );
      const result: { runs: MlflowRun[]; nextPageToken?: string } = { runs: (answer.runs ?? []).map(toRun) };
      if (answer.next_page_token) result.nextPageToken = answer.next_page_token;
      return result;
    },

    async searchAllRuns({ pageSize = 1000, ...query }) {
      const runs: MlflowRun[] = [];
      let pageToken: string | undefined;
      do {
        const page = await client.searchRuns({ ...query, maxResults: pageSize, pageToken });
        runs.push(...page.runs);
        pageToken = page.nextPageToken;
      } while (pageToken !== undefined);
      return runs;
    },

    async logBatch(runId, batch, callOptions = {}) {
      for (const chunk of splitBatch(validateBatch(batch))) {
        await call(
          'POST',
          '/api/2.0/mlflow/runs/log-batch',
          { run_id: runId, ...chunk },
          callOptions.retries,
        );
      }
    },

    async setTag(runId, key, value) {
      validateMlflowKey('tag', key);
      validateTagValue(key, value);
      await call('POST', '/api/2.0/mlflow/runs/set-tag', { run_id: runId, key, value });
    },

    async getMetricHistory(runId, key, { pageSize = 25_000 } = {}) {
      validateMlflowKey('metric', key);
      const points: MlflowMetric[] = [];
      let pageToken: string | undefined;
      do {
        const answer = await call<{ metrics?: RawMetric[]; next_page_token?: string }>(
          'GET',
          '/api/2.0/mlflow/metrics/get-history',
          { run_id: runId, metric_key: key, max_results: pageSize, page_token: pageToken },
        );
        points.push(...(answer.metrics ?? []).map(toMetric));
        pageToken = answer.next_page_token || undefined;
      } while (pageToken !== undefined);
      return points;
    },

    async createLoggedModel({ experimentId, name, sourceRunId, modelType, tags = {} }) {
      const answer = await call<{ model: RawLoggedModel }>('POST', '/api/2.0/mlflow/logged-models', {
        experiment_id: experimentId,
        name,
        source_run_id: sourceRunId,
        model_type: modelType,
        tags: toKeyValues('tag', tags),
      });
      return toLoggedModel(answer.model);
    },

    async searchLoggedModels(experimentId, filter) {
      const models: MlflowLoggedModel[] = [];
      let pageToken: string | undefined;
      do {
        const answer = await call<{ models?: RawLoggedModel[]; next_page_token?: string }>(
          'POST',
          '/api/2.0/mlflow/logged-models/search',
          { experiment_ids: [experimentId], filter, page_token: pageToken },
        );
        models.push(...(answer.models ?? []).map(toLoggedModel));
        pageToken = answer.next_page_token || undefined;
      } while (pageToken !== undefined);
      return models;
    },

    async uploadLoggedModelArtifact(model, path, content) {
      await putArtifact(servedArtifactPath(model.artifactUri, model.modelId), path, content);
    },

    async finalizeLoggedModel(modelId) {
      await request('PATCH', `/api/2.0/mlflow/logged-models/${encodeURIComponent(modelId)}`, {
        json: { model_id: modelId, status: 'LOGGED_MODEL_READY' },
      });
    },

    async logRunOutputs(runId, modelIds) {
      await call('POST', '/api/2.0/mlflow/runs/outputs', {
        run_id: runId,
        models: modelIds.map((id) => ({ model_id: id, step: 0 })),
      });
    },

    async uploadArtifact(runId, path, content) {
      await putArtifact(await artifactRoot(runId), path, content);
    },

    async listArtifacts(runId, path) {
      const root = await artifactRoot(runId);
      const prefix = path === undefined || path === '' ? root : `${root}/${artifactName(path)}`;
      const answer = await call<{
        files?: Array<{ path: string; is_dir?: boolean; file_size?: string | number }>;
      }>('GET', '/api/2.0/mlflow-artifacts/artifacts', { path: prefix });
      const relativeTo = path === undefined || path === '' ? '' : `${artifactName(path)}/`;
      return (answer.files ?? []).map((file) => {
        const info: MlflowFileInfo = { path: `${relativeTo}${file.path}`, isDir: file.is_dir === true };
        if (file.file_size !== undefined) info.fileSize = Number(file.file_size);
        return info;
      });
    },

    async downloadArtifact(runId, path) {
      const root = await artifactRoot(runId);
      const response = await request(
        'GET',
        `/api/2.0/mlflow-artifacts/artifacts/${encodePath(`${root}/${artifactName(path)}`)}`,
      );
      return new Uint8Array(await response.arrayBuffer());
    },
  };
  return client;
}

// ── request and answer shapes ────────────────────────────────────────────────────────────────────────────

function parseTrackingUri(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`MLflow tracking URI ${JSON.stringify(uri)} is not a URL; expected http(s)://host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(
      `MLflow tracking URI ${JSON.stringify(uri)} uses ${url.protocol}; only http(s) tracking servers are ` +
        'supported (start one with scripts/mlflow-server.sh)',
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function validateExperimentName(name: string): void {
  if (typeof name !== 'string' || name.trim().length === 0) {
    throw new Error(`MLflow experiment name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  if (name.length > MLFLOW_LIMITS.maxExperimentNameLength) {
    throw new Error(
      `MLflow experiment name is ${name.length} characters long; at most ` +
        `${MLFLOW_LIMITS.maxExperimentNameLength} are allowed`,
    );
  }
}

/** Artifact paths inside a run: relative, normalised, no `..` (checked like MLflow's keys). */
function artifactName(path: string): string {
  if (typeof path !== 'string' || path.length === 0 || path.startsWith('/') || path.includes('\\')) {
    throw new Error(`invalid artifact path ${JSON.stringify(path)}: use a relative '/'-separated path`);
  }
  const parts = path.split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`invalid artifact path ${JSON.stringify(path)}: no empty, '.' or '..' parts`);
  }
  return path;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** `mlflow-artifacts:/1/<run>/artifacts` (or with `//host:port`) → `1/<run>/artifacts`. */
interface RawLoggedModel {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    artifact_uri: string;
    status?: string;
    source_run_id?: string;
    tags?: Array<{ key: string; value: string }>;
  };
}

/** An MLflow 3 logged model. */
export interface MlflowLoggedModel {
  modelId: string;
  experimentId: string;
  name: string;
  artifactUri: string;
  status?: string;
  sourceRunId?: string;
  tags: Record<string, string>;
}

function toLoggedModel(raw: RawLoggedModel): MlflowLoggedModel {
  const { info } = raw;
  return {
    modelId: info.model_id,
    experimentId: info.experiment_id,
    name: info.name,
    artifactUri: info.artifact_uri,
    ...(info.status === undefined ? {} : { status: info.status }),
    ...(info.source_run_id === undefined ? {} : { sourceRunId: info.source_run_id }),
    tags: Object.fromEntries((info.tags ?? []).map((t) => [t.key, t.value])),
  };
}

function servedArtifactPath(artifactUri: string, runId: string): string {
  const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(artifactUri);
  if (match === null) {
    throw new Error(
      `MLflow run ${runId} stores artifacts at ${artifactUri}, which this client cannot reach; start the ` +
        'server with served artifacts (mlflow server --serve-artifacts --artifacts-destination DIR)',
    );
  }
  return match[1]!.replace(/\/+$/, '');
}

function toKeyValues(kind: 'tag', values: Record<string, string>): Array<{ key: string; value: string }> {
  return Object.entries(values).map(([key, value]) => {
    validateMlflowKey(kind, key);
    return { key, value: validateTagValue(key, value) };
  });
}

interface WireBatch {
  metrics: Array<{ key: string; value: number | string; timestamp: number; step: number }>;
  params: Array<{ key: string; value: string }>;
  tags: Array<{ key: string; value: string }>;
}

function validateBatch(batch: MlflowBatch): WireBatch {
  const seenParams = new Map<string, string>();
  const params = (batch.params ?? []).map(({ key, value }) => {
    validateMlflowKey('param', key);
    const text = validateParamValue(key, value);
    if (seenParams.has(key) && seenParams.get(key) !== text) {
      throw new Error(`param ${JSON.stringify(key)} appears twice in one batch with different values`);
    }
    seenParams.set(key, text);
    return { key, value: text };
  });
  const metrics = (batch.metrics ?? []).map(({ key, value, timestamp, step }) => {
    validateMlflowKey('metric', key);
    if (typeof value !== 'number') throw new Error(`metric ${JSON.stringify(key)}: value must be a number`);
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw new Error(`metric ${JSON.stringify(key)}: timestamp must be milliseconds since the epoch`);
    }
    validateStep(key, step);
    return { key, value: Number.isFinite(value) ? value : String(value), timestamp, step };
  });
  const tags = (batch.tags ?? []).map(({ key, value }) => {
    validateMlflowKey('tag', key);
    return { key, value: validateTagValue(key, value) };
  });
  return { metrics, params: [...new Map(params.map((p) => [p.key, p])).values()], tags };
}

/**
 * Splits a batch into as few requests as MLflow's limits allow: each request takes up to 100 of the remaining
 * params and 100 of the remaining tags, then fills up with metrics to 1000 entities or the request size cap.
 */
export function splitBatch(batch: WireBatch): WireBatch[] {
  const chunks: WireBatch[] = [];
  const byteCap = MLFLOW_LIMITS.maxBatchRequestBytes * 0.9;
  const sizeOf = (item: unknown): number => Buffer.byteLength(JSON.stringify(item)) + 1;
  let p = 0;
  let t = 0;
  let m = 0;
  while (p < batch.params.length || t < batch.tags.length || m < batch.metrics.length) {
    const chunk: WireBatch = { metrics: [], params: [], tags: [] };
    let bytes = 100;
    let entities = 0;
    const fits = (item: unknown): boolean => {
      const size = sizeOf(item);
      if (entities > 0 && (entities >= MLFLOW_LIMITS.maxEntitiesPerBatch || bytes + size > byteCap))
        return false;
      bytes += size;
      entities += 1;
      return true;
    };
    while (
      p < batch.params.length &&
      chunk.params.length < MLFLOW_LIMITS.maxParamsPerBatch &&
      fits(batch.params[p])
    ) {
      chunk.params.push(batch.params[p++]!);
    }
    while (
      t < batch.tags.length &&
      chunk.tags.length < MLFLOW_LIMITS.maxTagsPerBatch &&
      fits(batch.tags[t])
    ) {
      chunk.tags.push(batch.tags[t++]!);
    }
    while (
      m < batch.metrics.length &&
      chunk.metrics.length < MLFLOW_LIMITS.maxMetricsPerBatch &&
      fits(batch.metrics[m])
    ) {
      chunk.metrics.push(batch.metrics[m++]!);
    }
    chunks.push(chunk);
  }
  return chunks;
}

interface RawExperiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  tags?: Array<{ key: string; value: string }>;
}
interface RawRunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  status?: MlflowRunStatus;
  start_time?: string | number;
  end_time?: string | number;
  artifact_uri?: string;
  lifecycle_stage?: string;
}
interface RawMetric {
  key: string;
  value: number | string;
  timestamp?: string | number;
  step?: string | number;
}
interface RawRun {
  info: RawRunInfo;
  data?: {
    metrics?: RawMetric[];
    params?: Array<{ key: string; value: string }>;
    tags?: Array<{ key: string; value: string }>;
  };
  outputs?: { model_outputs?: Array<{ model_id: string; step?: number }> };
}

const toRecord = (pairs: Array<{ key: string; value: string }> = []): Record<string, string> =>
  Object.fromEntries(pairs.map(({ key, value }) => [key, value]));

function toExperiment(raw: RawExperiment): MlflowExperiment {
  return {
    experimentId: raw.experiment_id,
    name: raw.name,
    artifactLocation: raw.artifact_location ?? '',
    lifecycleStage: raw.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
    tags: toRecord(raw.tags),
  };
}

function toRunInfo(raw: RawRunInfo): MlflowRunInfo {
  const info: MlflowRunInfo = {
    runId: raw.run_id,
    runName: raw.run_name ?? '',
    experimentId: raw.experiment_id,
    status: raw.status ?? 'RUNNING',
    startTime: Number(raw.start_time ?? 0),
    artifactUri: raw.artifact_uri ?? '',
    lifecycleStage: raw.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
  };
  if (raw.end_time !== undefined && raw.end_time !== null) info.endTime = Number(raw.end_time);
  return info;
}

function toMetric(raw: RawMetric): MlflowMetric {
  return {
    key: raw.key,
    value: Number(raw.value),
    timestamp: Number(raw.timestamp ?? 0),
    step: Number(raw.step ?? 0),
  };
}

function toRun(raw: RawRun): MlflowRun {
  return {
    info: toRunInfo(raw.info),
    metrics: (raw.data?.metrics ?? []).map(toMetric),
    params: toRecord(raw.data?.params),
    tags: toRecord(raw.data?.tags),
    modelOutputs: (raw.outputs?.model_outputs ?? []).map((m) => m.model_id),
  };
}

// ── JSON with MLflow's spelling of non-finite numbers ────────────────────────────────────────────────────

function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_key, item) =>
    typeof item === 'number' && !Number.isFinite(item) ? String(item) : item,
  );
}

/** Python's json writes bare NaN / Infinity, which JSON.parse refuses; read them as the numbers they are. */
function decodeJson(text: string, endpoint: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const quoted = text.replace(/(?<=[:,[]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '"$1"');
    try {
      return JSON.parse(quoted);
    } catch {
      throw new Error(`MLflow answered ${endpoint} with something that is not JSON: ${text.slice(0, 200)}`);
    }
  }
}

async function errorFromResponse(
  response: Response,
  method: string,
  endpoint: string,
): Promise<MlflowApiError> {
  const text = await response.text().catch(() => '');
  let errorCode = `HTTP_${response.status}`;
  let message = text.slice(0, 500) || response.statusText;
  try {
    const parsed = JSON.parse(text) as { error_code?: string; message?: string };
    if (parsed.error_code) errorCode = parsed.error_code;
    if (parsed.message) message = parsed.message;
  } catch {
    // Not MLflow's JSON error (a proxy's page, for instance): keep the raw text.
  }
  return new MlflowApiError(
    `MLflow ${method} ${endpoint} failed with ${response.status} ${errorCode}: ${message}`,
    response.status,
    errorCode,
    endpoint,
  );
}

function networkError(error: unknown, method: string, endpoint: string, base: string): MlflowApiError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (error as { name?: string }).name ?? 'ERROR';
  const errorCode =
    code === 'ECONNREFUSED' ? 'CONNECTION_REFUSED' : code === 'TimeoutError' ? 'TIMEOUT' : 'NETWORK_ERROR';
  const detail = cause?.message ?? (error instanceof Error ? error.message : String(error));
  return new MlflowApiError(
    `MLflow ${method} ${endpoint} at ${base} could not be reached (${code}: ${detail}); is the tracking server running?`,
    0,
    errorCode,
    endpoint,
  );
}

function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) ? Math.min(seconds * 1000, 60_000) : undefined;
}
