// Where the job queue lives: a Redis URL, checked before anything connects (a Redis on another machine must ask
// for a password), shown with its password masked, and turned into ioredis clients that wait through Redis
// restarts instead of failing the sweep or the worker.
import { Redis, type RedisOptions } from 'ioredis';

/** A parsed `--queue` URL. `url` and `password` are never printed; `display` is the URL to show. */
export interface QueueTarget {
  display: string;
  host: string;
  port: number;
  db: number;
  tls: boolean;
  username?: string;
  password?: string;
  /** The host is this machine (127.0.0.0/8, ::1, localhost). */
  loopback: boolean;
}

export const QUEUE_ENV = 'REPTILE_BENCH_QUEUE';

export const queueUrlHelp =
  'redis://[[user]:password@]host:port[/db], or rediss:// for TLS (default: $REPTILE_BENCH_QUEUE)';

/** A problem with the queue's address or with reaching it, said in terms the user can act on. */
export class QueueError extends Error {
  override name = 'QueueError';
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The URL with its password replaced by `***` (what every message shows). */
export function redactUrl(text: string): string {
  return text.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/**
 * Parses a queue URL. A Redis that is not on this machine and has no password is refused unless `insecure`:
 * anyone who can reach it could read the runs' configs and results and hand the workers jobs.
 */
export function parseQueueUrl(
  text: string,
  options: { insecure?: boolean; what?: string } = {},
): QueueTarget {
  const what = options.what ?? '--queue';
  const shown = redactUrl(text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new QueueError(`${what} ${JSON.stringify(shown)} is not a URL; use ${queueUrlHelp}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new QueueError(
      `${what} ${JSON.stringify(shown)} is not a Redis URL (scheme ${url.protocol.replace(/:$/, '')}); use ${queueUrlHelp}`,
    );
  if (url.hostname === '')
    throw new QueueError(`${what} ${JSON.stringify(shown)} names no host; use ${queueUrlHelp}`);
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || !/^\d*$/.test(dbText))
    throw new QueueError(
      `${what} ${JSON.stringify(shown)}: the database must be a number (redis://host:port/0), got ${JSON.stringify(dbText)}`,
    );
  if (url.search !== '' || url.hash !== '')
    throw new QueueError(
      `${what} ${JSON.stringify(shown)}: options after '?' or '#' are not supported; use ${queueUrlHelp}`,
    );
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  const username = url.username === '' ? undefined : decodeURIComponent(url.username);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = isLoopback(host);
  const tls = url.protocol === 'rediss:';
  const hostPort = `${url.hostname}:${port}`;
  const display = `${url.protocol}//${username ?? ''}${password === undefined ? (username ? '@' : '') : ':***@'}${hostPort}/${db}`;
  if (!loopback && password === undefined && !options.insecure)
    throw new QueueError(
      `${what} ${display}: a Redis on another machine must require a password (whoever reaches it could read ` +
        'the runs and give the workers jobs). Set `requirepass` in its redis.conf and pass ' +
        `${url.protocol}//:PASSWORD@${hostPort}/${db} (or set ${QUEUE_ENV}, which keeps it out of process lists), ` +
        'or add --insecure on a network you trust',
    );
  return {
    display,
    host,
    port,
    db,
    tls,
    loopback,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
}

/** Removes the password from any text (a driver's error message) before it is shown. */
export function scrub(target: QueueTarget, text: string): string {
  return target.password ? text.split(target.password).join('***') : text;
}

export interface ConnectOptions {
  /** Told when the connection drops and when it is back (once per outage). */
  onNote?: (text: string) => void;
  /** Client name shown by CLIENT LIST (BullMQ names its own clients). */
  name?: string;
}

/**
 * An ioredis client for the target. Commands wait while Redis is unreachable (no per-request retry limit, as
 * BullMQ requires) and the client reconnects for as long as it takes, so a Redis restart costs time, not runs.
 */
export function redisClient(target: QueueTarget, options: ConnectOptions = {}): Redis {
  const redisOptions: RedisOptions = {
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    // TLS with the system's CAs (add a private CA with NODE_EXTRA_CA_CERTS=/path/ca.pem).
    ...(target.tls ? { tls: { servername: target.host } } : {}),
    ...(options.name === undefined ? {} : { connectionName: options.name }),
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times: number) => Math.min(250 * 2 ** Math.min(times, 3), 2000),
  };
  const client = new Redis(redisOptions);
  let down = false;
  client.on('error', (error: Error) => {
    if (down) return;
    down = true;
    options.onNote?.(
      `queue: lost the connection to Redis at ${target.display} (${scrub(target, error.message)}); reconnecting`,
    );
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    options.onNote?.(`queue: reconnected to Redis at ${target.display}`);
  });
  return client;
}

/**
 * Checks that Redis answers within `timeoutMs` with the given credentials; throws a QueueError saying what to
 * do otherwise (start it, fix the password). Returns the server's version.
 */
export async function checkReachable(target: QueueTarget, timeoutMs = 10_000): Promise<string> {
  const client = new Redis({
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    ...(target.tls ? { tls: { servername: target.host } } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await client.connect();
    const info = await client.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } catch (error) {
    // The server's own answer (NOAUTH, WRONGPASS) comes as an error event; the rejection just says "closed".
    const message = scrub(
      target,
      [lastError?.message, error instanceof Error ? error.message : String(error)]
        .filter((m, i, all): m is string => m !== undefined && all.indexOf(m) === i)
        .join('; ')
        .replace(/\.$/, ''),
    );
    if (/NOAUTH|Authentication required/i.test(message))
      throw new QueueError(
        `Redis at ${target.display} requires a password: pass ${target.tls ? 'rediss' : 'redis'}://:PASSWORD@${target.host}:${target.port}/${target.db}`,
      );
    if (/WRONGPASS|invalid password|invalid username-password/i.test(message))
      throw new QueueError(
        `Redis at ${target.display} refused the password (${message}); check the URL's password (or ${QUEUE_ENV})`,
      );
    throw new QueueError(
      `cannot reach Redis at ${target.display}: ${message}. Start it (node scripts/redis-server.mjs starts one ` +
        'on this machine) or check --queue',
    );
  } finally {
    client.disconnect();
  }
}
