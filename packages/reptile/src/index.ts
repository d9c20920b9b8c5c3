// Public surface of @reptile-bench/reptile.
export { type ReptileOptions, reptile } from './reptile.ts';
