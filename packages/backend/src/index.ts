// Public surface of @reptile-bench/backend.
export { registerTrainingKernels } from './kernels/register.ts';
export * as ops from './ops.ts';
export { type PackedArrays, packArrays, unpackArrays } from './pack.ts';
export {
  createReplicaPool,
  createReplicaPools,
  type ReplicaPool,
  type ReplicaPoolOptions,
} from './pool.ts';
export {
  type BackendInfo,
  type BackendName,
  backendNames,
  currentBackendInfo,
  initBackend,
  parseBackendName,
} from './select.ts';
export { tf } from './tf.ts';
