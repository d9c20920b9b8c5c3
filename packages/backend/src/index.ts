// Public surface of @reptile-bench/backend.
export {
  type BackendInfo,
  type BackendName,
  backendNames,
  currentBackendInfo,
  initBackend,
  parseBackendName,
} from './select.ts';
export { tf } from './tf.ts';
