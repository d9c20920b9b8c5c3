// Public surface of @reptile-bench/meta: what every meta-learner shares. The learner contract, the training loop
// (checkpoints, resume, divergence checks, learning curves), task jobs on replica threads, the mean update.
export { type CheckpointHooks, DivergenceError, type TrainingState } from './checkpoint.ts';
export type {
  InitLearner,
  LearnedInit,
  Learner,
  MetaTrainContext,
  MetaTrainResult,
  TrainingSnapshot,
} from './learner.ts';
export {
  checkDivergence,
  type MetaIteration,
  metaBatchJobs,
  metaTrainLoop,
  runTrainingLoop,
  sampleTask,
  stateKeyOf,
  type TrainingLoop,
  taskRng,
} from './loop.ts';
export { meanUpdate } from './mean-update.ts';
export {
  type CheckedMetaLearningOptions,
  checkMetaLearningOptions,
  type MetaLearningOptions,
} from './options.ts';
export { type MetaStepSchedule, metaStepAt } from './schedule.ts';
export { runTaskJob, type TaskJob, type TaskResult } from './task.ts';
export { inThreadRunner, replicaRunner, slotStateKey, type TaskRunner } from './task-runner.ts';
export { type ParameterTraining, trainParameters } from './train-parameters.ts';
