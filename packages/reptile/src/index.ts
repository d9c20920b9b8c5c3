// Public surface of @reptile-bench/reptile.
export { type MetaStepSchedule, metaStepAt } from './schedule.ts';
export { reptileUpdate } from './update.ts';
