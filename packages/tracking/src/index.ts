// Public surface of @reptile-bench/tracking: the embedded run store, the MLflow REST client and the outbox
// that mirrors runs to MLflow.
export {
  MLFLOW_LIMITS,
  validateArtifactName,
  validateMlflowKey,
  validateRunId,
} from './names.ts';
export { flattenParams, type ParamValue } from './params.ts';
export { openRunStore } from './store.ts';
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
