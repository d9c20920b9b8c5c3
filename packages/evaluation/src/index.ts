// Public surface of @reptile-bench/evaluation: the one evaluation protocol every learner is scored by.
export { adaptationOptimizer, adaptToSupport } from './adapt.ts';
export { type ClassifierScore, type InferenceTime, inferenceTime, scoreClassifier } from './classifier.ts';
export { evaluate, type PreparedEpisode, prepareEpisode, runEpisode, scoreEpisode } from './evaluate.ts';
export { type CheckedAdaptOptions, checkAdaptOptions, checkEvaluationOptions } from './options.ts';
export { accuracy, meanSquaredError, predictNonTransductive, predictTransductive } from './predict.ts';
export type {
  AdaptOptions,
  EpisodeScores,
  EvaluatedInit,
  EvaluationOptions,
  EvaluationResult,
  PredictionMode,
} from './types.ts';
