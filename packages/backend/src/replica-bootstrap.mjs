// Worker threads start here: register tsx's ESM loader (workers do not inherit the parent's loaders, and this
// must also work when the parent is vitest), then hand over to the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
const { default: runReplicaTask } = await import('./replica-worker.ts');

export default runReplicaTask;
