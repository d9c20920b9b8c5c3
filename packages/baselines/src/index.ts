// Public surface of @reptile-bench/baselines.
export { type FomamlOptions, fomaml } from './fomaml.ts';
export { splitTail, tailedTaskBatches } from './held-out-tail.ts';
export { checkSecondOrderModel, maml, mamlGradient } from './maml.ts';
export { jointBatch, jointClassifier, type SgdPretrainOptions, sgdFromScratch, sgdPretrain } from './sgd.ts';
