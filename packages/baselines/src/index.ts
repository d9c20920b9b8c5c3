// Public surface of @reptile-bench/baselines.
export { type FomamlOptions, fomaml } from './fomaml.ts';
export { checkSecondOrderModel, maml, mamlGradient } from './maml.ts';
export { jointBatch, jointClassifier, type SgdPretrainOptions, sgdFromScratch, sgdPretrain } from './sgd.ts';
export { applyMeanUpdate, splitTail, tailedTaskBatches } from './tail.ts';
