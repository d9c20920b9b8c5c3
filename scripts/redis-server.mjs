#!/usr/bin/env node
// Starts a local Redis for trying the job queue and keeps it running until Ctrl-C:
//   node scripts/redis-server.mjs [--dir DIR] [--port PORT] [--password]
// Debian's redis-server (bash .ci/setup.d/redis.sh installs it) on 127.0.0.1 only, a free port unless given,
// data in DIR (append-only file: a restart keeps the queue). --password sets a random one and prints the URL
// with it once; otherwise the URL has none (a Redis on 127.0.0.1 needs none).
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '.cache/redis' },
    port: { type: 'string' },
    password: { type: 'boolean' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(
    'usage: node scripts/redis-server.mjs [--dir DIR (default .cache/redis)] [--port PORT (default: a free one)] [--password]',
  );
  process.exit(0);
}
const port = values.port === undefined ? undefined : Number(values.port);
if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
  console.error(`redis-server: --port must be a port number, got ${values.port}`);
  process.exit(2);
}

register();
const { startRedisServer } = await import('../packages/runner/src/queue/redis-server.ts');
let server;
try {
  server = await startRedisServer({
    dir: resolve(values.dir),
    ...(port === undefined ? {} : { port }),
    ...(values.password ? { password: randomBytes(18).toString('base64url') } : {}),
  });
} catch (error) {
  console.error(`redis-server: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
console.log(`Redis is running: export REPTILE_BENCH_QUEUE=${server.url}`);
console.log(
  'then, in other terminals: pnpm exec reptile-bench worker   (one per core, or --concurrency auto)',
);
console.log('and:                      pnpm exec reptile-bench sweep experiments/smoke.yaml');
console.log(`data in ${server.dir} (log: ${server.dir}/redis.log); Ctrl-C stops it`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop();
  console.log('Redis stopped');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('SIGHUP', stop);
setInterval(() => {}, 1 << 30);
