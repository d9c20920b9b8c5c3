// Public surface of @reptile-bench/averaging: local SGD (replicas with periodic weight averaging) for single-task
// training, with plain SGD (one replica) and large-batch SGD (averaging after every step) as special cases.
export { averageInPlace, averageOf, synchronize } from './average.ts';
export {
  type LocalSgdOptions,
  type LocalSgdPlan,
  learningRateAt,
  type MomentumSync,
  momentumSyncs,
  planLocalSgd,
  syncDue,
} from './options.ts';
export {
  type LocalSgdContext,
  type LocalSgdResult,
  replicaStateKey,
  trainLocalSgd,
} from './train.ts';
