// Public surface of @reptile-bench/models.
export { classifierAccuracy, type TestSetResult } from './accuracy.ts';
export { type CnnOptions, createCnn } from './cnn.ts';
export { batchNormEpsilon, type Conv4Options, createConv4 } from './conv4.ts';
export { createModel, modelFor } from './create.ts';
export {
  checkDistillationOptions,
  type DistillationOptions,
  distillationLoss,
  distillStep,
  softTargets,
} from './distill.ts';
export { batchTensors, logitsOf, trainOnBatches } from './inner-loop.ts';
export { loadModel, modelFileFormat, modelFileVersion, saveModel } from './io.ts';
export { meanSquaredError, softmaxCrossEntropy } from './losses.ts';
export {
  createLstmClassifier,
  type LstmClassifierOptions,
  orthogonalRows,
  sentenceLengths,
} from './lstm.ts';
export { createMlp, type MlpOptions } from './mlp.ts';
export { checkParamArrays, type Model, type ParamSpec } from './model.ts';
export { type MomentumOptions, momentumSgd } from './momentum.ts';
export {
  type AdamOptions,
  adam,
  createOptimizer,
  type Optimizer,
  type OptimizerState,
  type StepOptions,
  sgd,
} from './optimizers.ts';
export { cloneParams, toArrays, toTensors, trainStep } from './train.ts';
