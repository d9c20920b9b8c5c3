// Public surface of @reptile-bench/datasets.
export { concatBatches, exampleLength, holdOutPerClass, miniBatches, selectExamples } from './batches.ts';
export { dataChecksum } from './checksum.ts';
export { classSetFromImages, type FewShotOptions, fewShotSampler } from './few-shot.ts';
export {
  SINE_DISTRIBUTION,
  type SineEpisode,
  type SineSampler,
  type SineTask,
  sampleSineInputs,
  sampleSineTask,
  sineBatch,
  sineGrid,
  sineSampler,
} from './sine.ts';
export type { Batch, ClassSet, Episode, EpisodeSampler } from './types.ts';
