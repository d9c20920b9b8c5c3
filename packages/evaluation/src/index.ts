// Public surface of @reptile-bench/evaluation: the evaluation protocol, the inner loop every learner shares, and
// the learner contract between the algorithms and the runner.
export {
  checkInit,
  evaluate,
  type PreparedEpisode,
  prepareEpisode,
  runEpisode,
  scoreEpisode,
} from './evaluate.ts';
export { adaptToSupport, batchTensors, createOptimizer, trainOnBatches } from './inner-loop.ts';
export {
  checkAdaptOptions,
  checkEvaluationOptions,
  requireInteger,
  requireNumber,
  requireOptimizer,
} from './options.ts';
export { accuracy, meanSquaredError, predictNonTransductive, predictTransductive } from './predict.ts';
export type {
  AdaptOptions,
  EvaluationOptions,
  EvaluationResult,
  InitLearner,
  LearnedInit,
  Learner,
  MetaTrainContext,
  PredictionMode,
} from './types.ts';
