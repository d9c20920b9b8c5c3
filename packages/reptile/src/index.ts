// Public surface of @reptile-bench/reptile.
export {
  type MetaIteration,
  type MetaIterationResult,
  mean,
  metaTrainLoop,
  sampleTask,
  taskRng,
} from './meta-loop.ts';
export { type CheckedReptileOptions, checkReptileOptions, type ReptileOptions } from './options.ts';
export { createTaskRunner, metaBatchJobs, optimizerStateKey, reptile } from './reptile.ts';
export { inThreadRunner, replicaRunner, type TaskRunner } from './runner.ts';
export { type MetaStepSchedule, metaStepAt } from './schedule.ts';
export { releaseOptimizerStates, runTaskJob, type TaskJob, type TaskResult } from './task.ts';
export { reptileUpdate } from './update.ts';
