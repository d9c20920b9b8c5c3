// Public surface of @reptile-bench/supervised: plain supervised training of a classifier, from its labels or
// distilled from a teacher, with a share of the labels (the teacher labelling the rest).
export {
  checkSupervisedOptions,
  dropTokens,
  type SupervisedContext,
  type SupervisedOptions,
  type SupervisedResult,
  type Teacher,
  trainClassifier,
} from './train.ts';
