// Public surface of @reptile-bench/runner: the CLI, and the pieces it is built from for programmatic use.
export {
  type BaselineFile,
  type BaselineMetric,
  buildBaseline,
  type CheckResult,
  type CheckRow,
  compareWithBaseline,
  formatCheckTable,
  readBaseline,
  toleranceFor,
} from './check.ts';
export { main } from './cli.ts';
export { ConfigError, type ConfigProblem } from './config/errors.ts';
export { hashableConfig, runIdFor } from './config/identity.ts';
export { type Override, parseOverride } from './config/overrides.ts';
export type { RunConfig } from './config/schema.ts';
export { type PlannedRun, planRunFile, planSweep, planSweeps, type SweepPlan } from './config/sweep.ts';
export { type ExecuteOptions, type ExecuteResult, executeRun } from './execute.ts';
export {
  binomialUpper,
  estimateFalseAlarms,
  type FalseAlarmEstimate,
  type MetricNoise,
  type NullCheck,
  predictiveBelow,
} from './false-alarms.ts';
export { buildProgram, version } from './program.ts';
export { parseQueueUrl, type QueueTarget } from './queue/connection.ts';
export { type QueueSweepResult, queueSweeps } from './queue/coordinator.ts';
export { type RedisServer, startRedisServer } from './queue/redis-server.ts';
export { type QueueWorkerOptions, runQueueWorker } from './queue/worker.ts';
export { recordedNumbers } from './records.ts';
export { type ConfigSummary, poolMeanWithCi, summarizeConfigs } from './report/aggregate.ts';
export { type WrittenReport, writeReports } from './report/write.ts';
export type { RunOutcome, SweepOptions } from './scheduler.ts';
export { type SweepResult, storedRunsOf, sweepAndReport } from './sweep-and-report.ts';
