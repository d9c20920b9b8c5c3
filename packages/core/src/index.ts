export { configHash, hashValue, stableStringify } from './hash.ts';
export { createRng, type Rng } from './rng.ts';
export { type MeanWithCi, meanWithCi } from './stats.ts';
export {
  mean,
  requireFlag,
  requireInteger,
  requireNumber,
  requireOneOf,
  requirePositiveInteger,
  sizeOf,
} from './validate.ts';
