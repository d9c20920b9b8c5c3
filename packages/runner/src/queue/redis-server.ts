// A local Redis for trying the queue and for its tests: Debian's `redis-server` on 127.0.0.1 and a free port,
// with its data in a folder of its own (append-only file, so a restart keeps the queue), the eviction policy
// BullMQ needs, and optionally a password. Never started for production use: there, Redis is run by whoever runs
// the machines (see the runner's README).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  /** The queue URL (with the password, when one is set: do not print it). */
  url: string;
  port: number;
  dir: string;
  /** Stops it gracefully (SIGTERM: it writes its data first). */
  stop(): Promise<void>;
  /** Stops it at once (SIGKILL). */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder, after stop() or kill(). */
  start(): Promise<void>;
}

export interface StartRedisOptions {
  /** Folder for its data and log. */
  dir: string;
  /** Default: a free port. */
  port?: number;
  password?: string;
}

/** The redis-server binary: $REDIS_SERVER, or `redis-server` on the PATH; undefined when there is none. */
export function findRedisServer(): string | undefined {
  const candidates = [
    process.env.REDIS_SERVER,
    'redis-server',
    '/usr/bin/redis-server',
    '/usr/local/bin/redis-server',
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

export const redisInstallHint =
  'install it with `bash .ci/setup.d/redis.sh` (Debian: apt-get install -y redis-server) or set REDIS_SERVER';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(port: number, password: string | undefined, child: ChildProcess, log: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode}) on start; see ${log}`);
    const client = new Redis({
      host: '127.0.0.1',
      port,
      ...(password ? { password } : {}),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      // Loading the append-only file answers LOADING until done.
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not yet
    } finally {
      client.disconnect();
    }
    if (Date.now() > deadline)
      throw new Error(`redis-server on port ${port} did not answer within 20 s; see ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts redis-server on 127.0.0.1; resolves once it answers. */
export async function startRedisServer(options: StartRedisOptions): Promise<RedisServer> {
  const binary = findRedisServer();
  if (binary === undefined) throw new Error(`redis-server not found: ${redisInstallHint}`);
  mkdirSync(options.dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const log = join(options.dir, 'redis.log');
  let child: ChildProcess | undefined;
  const start = async () => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      options.dir,
      '--logfile',
      log,
      '--daemonize',
      'no',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
      // BullMQ's keys must never be evicted.
      '--maxmemory-policy',
      'noeviction',
      ...(options.password ? ['--requirepass', options.password] : []),
    ];
    const started = spawn(binary, args, { stdio: 'ignore' });
    child = started;
    await waitReady(port, options.password, started, log);
  };
  const ended = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => c.once('exit', () => resolve()));
  const stopWith = async (signal: NodeJS.Signals) => {
    const c = child;
    if (c === undefined) return;
    child = undefined;
    const exited = ended(c);
    c.kill(signal);
    await exited;
  };
  await start();
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    url: `redis://${auth}127.0.0.1:${port}/0`,
    port,
    dir: options.dir,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    start,
  };
}
