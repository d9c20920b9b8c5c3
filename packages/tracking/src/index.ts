// Public surface of @reptile-bench/tracking: the embedded run store, the MLflow REST client and the outbox
// that mirrors runs to MLflow exactly once.
export { type ImportOptions, importRun, packRun, type RunBundle, unpackRun } from './bundle.ts';
export {
  type CallOptions,
  createMlflowClient,
  MlflowApiError,
  type MlflowBatch,
  type MlflowClient,
  type MlflowClientOptions,
  type MlflowExperiment,
  type MlflowFileInfo,
  type MlflowMetric,
  type MlflowRun,
  type MlflowRunInfo,
  type MlflowRunStatus,
  type MlflowViewType,
} from './mlflow/client.ts';
export {
  MLFLOW_LIMITS,
  SUMMARY_PREFIX,
  validateArtifactName,
  validateMlflowKey,
  validateRunId,
} from './names.ts';
export { TAGS as MLFLOW_TAGS } from './outbox.ts';
export { flattenParams, type ParamValue } from './params.ts';
export {
  ensureMlflowVenv,
  type MlflowServer,
  type StartMlflowServerOptions,
  startMlflowServer,
} from './server.ts';
export { openRunStore } from './store.ts';
export { createTracker, type SyncOptions, syncOutbox, type TrackerOptions } from './tracker.ts';
export type {
  MetricPoint,
  RunMeta,
  RunRecord,
  RunStatus,
  RunStore,
  RunWriter,
  SyncReport,
  Tracker,
} from './types.ts';
