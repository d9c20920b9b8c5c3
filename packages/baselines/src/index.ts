// Public surface of @reptile-bench/baselines.

export { type SgdDistillOptions, sgdDistill } from './distill.ts';
export { type FomamlOptions, fomaml } from './fomaml.ts';
export { splitTail, tailedTaskBatches } from './held-out-tail.ts';
export { checkSecondOrderModel, maml, mamlGradient } from './maml.ts';
export {
  fewShotInit,
  jointBatch,
  jointClassifier,
  type SgdPretrainOptions,
  sgdFromScratch,
  sgdPretrain,
} from './sgd.ts';
