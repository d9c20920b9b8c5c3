// Rules for every name that becomes a path on disk or a key in MLflow. Names are validated where they enter
// the store, so nothing that MLflow would refuse (or that could escape the store's folder) is ever recorded
// and left to block the outbox later.
import { posix } from 'node:path';

/** MLflow's limits (mlflow/utils/validation.py of the pinned server). */
export const MLFLOW_LIMITS = {
  maxKeyLength: 250,
  maxParamValueLength: 6000,
  maxTagValueLength: 8000,
  maxExperimentNameLength: 500,
  maxMetricsPerBatch: 1000,
  maxParamsPerBatch: 100,
  maxTagsPerBatch: 100,
  maxEntitiesPerBatch: 1000,
  /** MLflow refuses larger log-batch request bodies. */
  maxBatchRequestBytes: 1_000_000,
  maxResultsPerSearchPage: 50_000,
} as const;

/** A run's summary values are mirrored to MLflow as metrics under this prefix (`summary/accuracy`). */
export const SUMMARY_PREFIX = 'summary/';

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_RUN_ID_LENGTH = 200;
const ARTIFACT_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const MAX_ARTIFACT_NAME_LENGTH = 500;
// Python's `\w` is Unicode-aware: letters, digits and underscore of any script.
const MLFLOW_KEY = /^[\p{L}\p{N}_/. :-]*$/u;

/** Throws unless `runId` is safe as a single folder name: letters, digits, `.`, `_`, `-`, no `..`. */
export function validateRunId(runId: unknown): string {
  if (typeof runId !== 'string' || runId.length === 0) {
    throw new Error(`run id must be a non-empty string, got ${JSON.stringify(runId)}`);
  }
  if (runId.length > MAX_RUN_ID_LENGTH || !RUN_ID.test(runId) || runId.includes('..')) {
    throw new Error(
      `invalid run id ${JSON.stringify(runId.slice(0, 300))}: use at most ${MAX_RUN_ID_LENGTH} letters, digits, ` +
        `'.', '_' or '-', starting with a letter or digit and without '..'`,
    );
  }
  return runId;
}

/** Throws unless `name` is a relative artifact path of safe segments (`report.md`, `model/weights.bin`). */
export function validateArtifactName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new Error(`artifact name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  const segments = name.split('/');
  if (
    name.length > MAX_ARTIFACT_NAME_LENGTH ||
    !segments.every((segment) => ARTIFACT_SEGMENT.test(segment) && !segment.includes('..'))
  ) {
    throw new Error(
      `invalid artifact name ${JSON.stringify(name.slice(0, 600))}: use '/'-separated segments of letters, ` +
        `digits, '.', '_' or '-' that do not start with '.' or contain '..' (at most ${MAX_ARTIFACT_NAME_LENGTH} characters)`,
    );
  }
  return name;
}

/**
 * MLflow's rule for metric, param and tag keys: at most 250 characters of letters, digits, `_ - . / :` and
 * spaces, and a normalised relative path (no `..`, no leading `/`, no `./` or `//`).
 */
export function validateMlflowKey(kind: 'metric' | 'param' | 'tag', key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new Error(`${kind} key must be a non-empty string, got ${JSON.stringify(key)}`);
  }
  const shown = JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key);
  if (key.length > MLFLOW_LIMITS.maxKeyLength) {
    throw new Error(
      `${kind} key ${shown} is ${key.length} characters long; MLflow allows at most ${MLFLOW_LIMITS.maxKeyLength}`,
    );
  }
  if (!MLFLOW_KEY.test(key)) {
    throw new Error(
      `invalid ${kind} key ${shown}: MLflow allows only letters, digits, underscores, dashes, periods, ` +
        `spaces, colons and slashes`,
    );
  }
  const normalised = posix.normalize(key);
  // Python's normpath (which MLflow uses) also drops a trailing slash, which Node's normalize keeps.
  if (
    normalised !== key ||
    key.endsWith('/') ||
    normalised === '.' ||
    normalised.startsWith('..') ||
    normalised.startsWith('/')
  ) {
    throw new Error(
      `invalid ${kind} key ${shown}: MLflow requires a normalised relative path (no '..', no leading or trailing '/', ` +
        `no './' or '//' parts)`,
    );
  }
  return key;
}

export function validateParamValue(key: string, value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new Error(`param ${JSON.stringify(key)} must be a string, number or boolean, got ${typeof value}`);
  }
  const text = String(value);
  if (text.length > MLFLOW_LIMITS.maxParamValueLength) {
    throw new Error(
      `param ${JSON.stringify(key)} has a value of ${text.length} characters; MLflow allows at most ` +
        `${MLFLOW_LIMITS.maxParamValueLength} (log long values as an artifact instead)`,
    );
  }
  return text;
}

export function validateTagValue(key: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new Error(`tag ${JSON.stringify(key)} must have a string value, got ${typeof value}`);
  }
  if (value.length > MLFLOW_LIMITS.maxTagValueLength) {
    throw new Error(
      `tag ${JSON.stringify(key)} has a value of ${value.length} characters; MLflow allows at most ` +
        `${MLFLOW_LIMITS.maxTagValueLength}`,
    );
  }
  return value;
}

export function validateStep(key: string, step: unknown): number {
  if (typeof step !== 'number' || !Number.isSafeInteger(step)) {
    throw new Error(`metric ${JSON.stringify(key)}: step must be an integer, got ${String(step)}`);
  }
  return step;
}

export function validateMetricValue(key: string, value: unknown): number {
  if (typeof value !== 'number') {
    throw new Error(`metric ${JSON.stringify(key)}: value must be a number, got ${typeof value}`);
  }
  return value;
}
