#!/usr/bin/env node
// Starts a local MLflow tracking server for this project and keeps it running until Ctrl-C:
//   node scripts/mlflow-server.mjs [--dir DIR] [--port PORT]
// The pinned MLflow is installed into the project virtualenv (.venv) on first use. The server listens on
// 127.0.0.1 only, keeps runs in DIR/mlflow.db (sqlite) and serves artifacts from DIR/artifacts.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.cache/mlflow' },
    port: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(
    'usage: node scripts/mlflow-server.mjs [--dir DIR (default .cache/mlflow)] [--port PORT (default: a free one)]',
  );
  process.exit(0);
}
const port = values.port === undefined ? undefined : Number(values.port);
if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
  console.error(`mlflow-server: --port must be a port number, got ${values.port}`);
  process.exit(2);
}

register();
const { startMlflowServer } = await import('../packages/tracking/src/index.ts');
const server = await startMlflowServer({ dir: resolve(values.dir), port });
console.log(`MLflow is running: export MLFLOW_TRACKING_URI=${server.uri}`);
console.log(`data in ${server.dir} (log: ${server.dir}/server.log); Ctrl-C stops it`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop();
  console.log('MLflow stopped');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// A closed terminal (SIGHUP) must not leave the server running without its wrapper.
process.on('SIGHUP', stop);
// Keep the process alive while the server runs.
setInterval(() => {}, 1 << 30);
