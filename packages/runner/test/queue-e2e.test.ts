import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRunStore, type RunRecord } from '@reptile-bench/tracking';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { planSweep } from '../src/config/sweep.ts';
import { parseQueueUrl, redactUrl } from '../src/queue/connection.ts';
import { checkpointKey, resultKey } from '../src/queue/jobs.ts';
import {
  findRedisServer,
  type RedisServer,
  redisInstallHint,
  startRedisServer,
} from '../src/queue/redis-server.ts';
import { recordedNumbers } from '../src/records.ts';
import { bin, type CliResult, waitFor } from './cli-helpers.ts';

// Sweeps on the job queue through the real CLI, against a real Redis (redis-server on 127.0.0.1, a free port,
// a password) started here: enqueue and collect, workers killed outright, Redis restarted, the coordinator killed
// and started again, a run that fails, the password rules; every finished run bit-identical to a local sweep's.

const redisBinary = findRedisServer();
if (redisBinary === undefined)
  console.warn(`SKIPPED: the queue tests need redis-server, which is not installed: ${redisInstallHint}`);

const password = `pw-${process.pid}-${Date.now().toString(36)}`;
const root = mkdtempSync(join(tmpdir(), 'queue-e2e-'));
let redis: RedisServer;
let url: string;
let client: Redis;

/** A sweep of sine runs on the cpu backend: `iterations` meta-iterations each, checkpoints every `every`. */
function sweepFile(name: string, algorithms: string[], iterations: number, every = 0, defaults = ''): string {
  const file = join(root, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
seeds: [0]
defaults:
  backend: cpu
  checkpoint: { every_iterations: ${every}, every_seconds: 1000 }
  dataset: { name: sine, shots: 5, train_shots: 10, query_shots: 10 }
  model: { name: mlp, hidden: [16, 16] }
  algorithm: { meta_iters: ${iterations}, meta_batch: 1, inner_iters: 2, inner_batch: 5, learning_rate: 0.01, optimizer: adam, train_iters: ${iterations}, train_batch: 10 }
  eval: { episodes: 8, eval_iters: 4, eval_batch: 5, optimizer: adam, learning_rate: 0.01, every: 10, val_episodes: 2 }
${defaults}runs:
  - grid:
      algorithm.name: [${algorithms.join(', ')}]
`,
  );
  return file;
}

const env = () => ({ ...process.env, REPTILE_BENCH_QUEUE: '', MLFLOW_TRACKING_URI: '' });

function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { maxBuffer: 1 << 24, env: { ...env(), ...extraEnv } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

const started: ChildProcess[] = [];

/** A CLI in a process group of its own (a worker's run processes are in it too, like on a machine of its own). */
function start(args: string[]): Started {
  let output = '';
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: env(),
  });
  started.push(child);
  child.stdout?.on('data', (chunk) => {
    output += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    output += String(chunk);
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exit };
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * A worker for cpu runs with its own run store (as on a machine of its own), taken as lost after `stall` seconds
 * of silence (short here, so that a killed worker's jobs move on quickly).
 */
async function startWorker(name: string, o: { stall?: number; extra?: string[] } = {}): Promise<Started> {
  const worker = start([
    'worker',
    '--queue',
    url,
    '--backend',
    'cpu',
    '--out',
    join(root, 'workers', name),
    '--stall-seconds',
    String(o.stall ?? 3),
    ...(o.extra ?? []),
  ]);
  await waitFor(`worker ${name} to start`, () =>
    worker.output().includes('taking cpu runs') ? true : undefined,
  );
  return worker;
}

/** The runs of `out` are those of the local reference, bit for bit: ids, numbers, model and episode scores. */
async function expectSameAsLocal(out: string, reference: string): Promise<void> {
  const ours = openRunStore(out);
  const theirs = openRunStore(reference);
  const ids = (await theirs.listRuns()).map((r) => r.meta.runId).sort();
  expect((await ours.listRuns()).map((r) => r.meta.runId).sort()).toEqual(ids);
  for (const id of ids) {
    const a = (await ours.getRun(id)) as RunRecord;
    const b = (await theirs.getRun(id)) as RunRecord;
    expect(a.status, `${id}: ${a.error}`).toBe('FINISHED');
    expect(recordedNumbers(a)).toEqual(recordedNumbers(b));
    for (const artifact of b.artifacts)
      expect(readFileSync(ours.artifactPath(id, artifact)), `${id} ${artifact}`).toEqual(
        readFileSync(theirs.artifactPath(id, artifact)),
      );
  }
}

/** How often each run was started by a worker, from the workers' logs. */
function starts(logs: string[], runIds: string[]): number[] {
  return runIds.map((id) => logs.join('\n').match(new RegExp(`${id}: started \\(`, 'g'))?.length ?? 0);
}

/** Jobs added to the queue per run id, from BullMQ's event stream. */
async function addedEvents(runIds: string[]): Promise<number[]> {
  const events = await client.xrange('reptile-bench:runs-cpu:events', '-', '+');
  return runIds.map(
    (id) =>
      events.filter(([, fields]) => {
        const map = new Map<string, string>();
        for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
        return map.get('event') === 'added' && map.get('jobId') === id;
      }).length,
  );
}

const queueSweep = sweepFile('qa', ['reptile', 'fomaml', 'sgd-pretrain'], 60);
const queueRuns = planSweep(queueSweep).runs.map((r) => r.runId);
const longSweep = sweepFile('qlong', ['reptile', 'fomaml'], 400, 25);
const longRuns = planSweep(longSweep).runs.map((r) => r.runId);

// (Generous limits: each test takes well under a minute on an idle 2-core machine, much longer on a loaded one.)
describe.skipIf(redisBinary === undefined)(
  'sweeps on the job queue (BullMQ on a real Redis)',
  { timeout: 600_000 },
  () => {
    beforeAll(async () => {
      redis = await startRedisServer({ dir: join(root, 'redis'), password });
      url = redis.url;
      client = new Redis(redis.port, '127.0.0.1', { password, maxRetriesPerRequest: null });
      client.on('error', () => {}); // (while the restart test has Redis down)
      // The local references every queue result is compared with.
      const [a, b] = await Promise.all([
        cli(['sweep', queueSweep, '--out', join(root, 'local-qa'), '--progress', 'none']),
        cli(['sweep', longSweep, '--out', join(root, 'local-long'), '--progress', 'none']),
      ]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
    }, 300_000);

    afterAll(async () => {
      client?.disconnect();
      await redis?.stop();
      rmSync(root, { recursive: true, force: true });
    });

    afterEach(async () => {
      for (const child of started.splice(0)) killGroup(child);
      await client.flushall();
    });

    it('refuses a Redis elsewhere without a password, asks for the password Redis requires, never prints it', async () => {
      expect(parseQueueUrl('redis://127.0.0.1:6379').loopback).toBe(true);
      expect(parseQueueUrl('redis://localhost').port).toBe(6379);
      expect(parseQueueUrl('redis://[::1]:7000/3')).toMatchObject({ host: '::1', port: 7000, db: 3 });
      expect(() => parseQueueUrl('redis://10.1.2.3:6379')).toThrow(/must require a password.*--insecure/);
      expect(parseQueueUrl('redis://10.1.2.3:6379', { insecure: true }).loopback).toBe(false);
      const remote = parseQueueUrl('rediss://user:s3cret@queue.example:6380/2');
      expect(remote).toMatchObject({ tls: true, username: 'user', password: 's3cret', db: 2 });
      expect(remote.display).toBe('rediss://user:***@queue.example:6380/2');
      expect(redactUrl('redis://:s3cret@h:1/0')).toBe('redis://:***@h:1/0');
      expect(() => parseQueueUrl('http://127.0.0.1:6379')).toThrow(/not a Redis URL/);
      expect(() => parseQueueUrl('redis://127.0.0.1:6379/x')).toThrow(/database must be a number/);

      // Refused before anything connects (no traffic leaves the machine), from the option and the variable alike.
      const refused = await cli(['sweep', queueSweep, '--queue', 'redis://:@10.255.255.1:6379', '--detach']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        /--queue redis:\/\/10\.255\.255\.1:6379\/0: a Redis on another machine must/,
      );
      const fromEnv = await cli(['worker', '--backend', 'cpu'], {
        REPTILE_BENCH_QUEUE: 'redis://10.255.255.1',
      });
      expect(fromEnv.code).toBe(2);
      expect(fromEnv.stderr).toContain('$REPTILE_BENCH_QUEUE redis://10.255.255.1:6379/0');
      const none = await cli(['collect', queueSweep]);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('no job queue given');

      // This Redis requires a password.
      const noPassword = await cli([
        'collect',
        queueSweep,
        '--queue',
        `redis://127.0.0.1:${redis.port}`,
        '--out',
        join(root, 'no-password'),
      ]);
      expect(noPassword.code).toBe(1);
      expect(noPassword.stderr).toContain(`Redis at redis://127.0.0.1:${redis.port}/0 requires a password`);
      const wrong = await cli([
        'sweep',
        queueSweep,
        '--queue',
        `redis://:not-${password}@127.0.0.1:${redis.port}`,
        '--out',
        join(root, 'wrong'),
      ]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('refused the password');
      expect(`${wrong.stdout}${wrong.stderr}`).not.toContain(password);
      expect(existsSync(join(root, 'wrong', 'runs'))).toBe(false);
      expect(existsSync(join(root, 'no-password', 'runs'))).toBe(false);
    });

    it('detach, collect, workers: every run collected once, reports written, identical to the local sweep', async () => {
      const out = join(root, 'detached');
      const detached = await cli(['sweep', queueSweep, '--queue', url, '--detach', '--out', out, '--json']);
      expect(detached.code, detached.stderr).toBe(0);
      expect(JSON.parse(detached.stdout)).toMatchObject({ enqueued: 3, already_queued: 0, reused: 0 });
      // Enqueueing again adds nothing.
      const again = await cli(['sweep', queueSweep, '--queue', url, '--detach', '--out', out, '--json']);
      expect(JSON.parse(again.stdout)).toMatchObject({ enqueued: 0, already_queued: 3 });

      // No worker yet: nothing to collect, and that is not an error.
      const early = await cli([
        'collect',
        queueSweep,
        '--queue',
        url,
        '--out',
        out,
        '--json',
        '--progress',
        'none',
      ]);
      expect(early.code, early.stderr).toBe(0);
      expect(JSON.parse(early.stdout).counts).toMatchObject({ finished: 0, pending: 3 });

      const workers = [await startWorker('d1'), await startWorker('d2')];
      const collected = await cli(['collect', queueSweep, '--queue', url, '--out', out, '--wait', '--json']);
      expect(collected.code, collected.stderr).toBe(0);
      expect(JSON.parse(collected.stdout).counts).toMatchObject({ finished: 3, failed: 0, pending: 0 });
      expect(existsSync(join(out, 'qa', 'report.md'))).toBe(true);
      await expectSameAsLocal(out, join(root, 'local-qa'));
      expect(
        starts(
          workers.map((w) => w.output()),
          queueRuns,
        ),
      ).toEqual([1, 1, 1]);
      expect(new Set(workers.map((w) => /started/.test(w.output()))).has(true)).toBe(true);
      // Nothing is left behind in Redis: no job, no result, no checkpoint.
      expect(await client.keys('reptile-bench:results:*')).toEqual([]);
      expect(await client.keys('reptile-bench:checkpoints:*')).toEqual([]);
      expect(await client.zcard('reptile-bench:runs-cpu:completed')).toBe(0);
      // A sweep of the same file now reuses every run, without a worker.
      for (const w of workers) killGroup(w.child);
      const reused = await cli([
        'sweep',
        queueSweep,
        '--queue',
        url,
        '--out',
        out,
        '--json',
        '--progress',
        'none',
      ]);
      expect(reused.code, reused.stderr).toBe(0);
      expect(JSON.parse(reused.stdout).counts).toMatchObject({ finished: 3, reused: 3 });
      for (const text of [detached, collected, reused].map((r) => r.stdout + r.stderr))
        expect(text).not.toContain(password);
    });

    it('a worker killed outright mid-run: another worker continues it from its kept checkpoint (or from the start without one)', async () => {
      const out = join(root, 'killed');
      const a = await startWorker('k1', { extra: ['--concurrency', '2'] });
      const sweep = start([
        'sweep',
        longSweep,
        '--queue',
        url,
        '--out',
        out,
        '--progress',
        'lines',
        '--json',
      ]);
      // Both runs have kept a checkpoint in Redis: the machine is lost (the worker and its run processes).
      await waitFor('both checkpoints in Redis', async () =>
        (await client.exists(...longRuns.map(checkpointKey))) === 2 ? true : undefined,
      );
      killGroup(a.child);
      await a.exit;
      expect(await client.exists(...longRuns.map(resultKey))).toBe(0);
      // The second run's checkpoint is lost too: it must start over.
      await client.del(checkpointKey(longRuns[1]!));
      const b = await startWorker('k2', { extra: ['--concurrency', '2'] });
      expect(await sweep.exit, sweep.output()).toBe(0);
      expect(sweep.output()).toMatch(/its worker stopped answering/);
      expect(b.output()).toContain(`${longRuns[0]}: continuing from the checkpoint kept in Redis`);
      expect(b.output()).not.toContain(`${longRuns[1]}: continuing`);
      const store = openRunStore(out);
      const [resumed, restarted] = (await Promise.all(longRuns.map((id) => store.getRun(id)))) as RunRecord[];
      expect(resumed!.resumes).toHaveLength(1);
      expect(resumed!.resumes[0]!.phase).toBe('train');
      expect(restarted!.resumes).toHaveLength(0);
      await expectSameAsLocal(out, join(root, 'local-long'));
    });

    it('Redis restarted mid-sweep: workers and the coordinator reconnect; nothing is lost or run twice', async () => {
      const out = join(root, 'restarted');
      // (Their default 30 s of silence before a worker counts as lost covers the restart: no run is taken over.)
      const workers = [await startWorker('r1', { stall: 30 }), await startWorker('r2', { stall: 30 })];
      const sweep = start(['sweep', queueSweep, '--queue', url, '--out', out, '--progress', 'lines']);
      await waitFor('a run in progress', () =>
        workers.some((w) => /started \(/.test(w.output())) ? true : undefined,
      );
      await redis.stop();
      await new Promise((r) => setTimeout(r, 1500));
      await redis.start();
      expect(await sweep.exit, sweep.output()).toBe(0);
      expect(sweep.output()).toMatch(/lost the connection to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1/);
      expect(sweep.output()).toContain('reconnected to Redis');
      expect(
        starts(
          workers.map((w) => w.output()),
          queueRuns,
        ),
      ).toEqual([1, 1, 1]);
      expect(await addedEvents(queueRuns)).toEqual([1, 1, 1]);
      await expectSameAsLocal(out, join(root, 'local-qa'));
      expect(sweep.output()).not.toContain(password);
    });

    it('the coordinator killed and started again: it finds the same jobs, adds none, and collects every run once', async () => {
      const out = join(root, 'coordinator');
      const first = start(['sweep', queueSweep, '--queue', url, '--out', out, '--progress', 'lines']);
      // Enqueued and following (it prints the plan once the jobs are in the queue).
      await waitFor('the jobs to be enqueued', () =>
        first.output().includes('sweep: 3 run(s) to do') ? true : undefined,
      );
      const workers = [await startWorker('c1'), await startWorker('c2')];
      await waitFor('a run in progress', () =>
        workers.some((w) => /started \(/.test(w.output())) ? true : undefined,
      );
      killGroup(first.child);
      await first.exit;
      // (What it collected before it died is in the store: the second one reuses that.)
      const collected = (await openRunStore(out).listRuns({ status: 'FINISHED' })).length;
      const second = await cli([
        'sweep',
        queueSweep,
        '--queue',
        url,
        '--out',
        out,
        '--json',
        '--progress',
        'lines',
      ]);
      expect(second.code, second.stderr).toBe(0);
      expect(JSON.parse(second.stdout).counts).toMatchObject({ finished: 3, reused: collected, failed: 0 });
      expect(await addedEvents(queueRuns)).toEqual([1, 1, 1]);
      expect(
        starts(
          workers.map((w) => w.output()),
          queueRuns,
        ),
      ).toEqual([1, 1, 1]);
      await expectSameAsLocal(out, join(root, 'local-qa'));
    });

    it('a run that fails is retried as configured, then reported FAILED with its message, in the store and the reports', async () => {
      const file = sweepFile('qbad', ['reptile'], 20, 0, '  max_loss: 1.0e-9\n');
      const runId = planSweep(file).runs[0]!.runId;
      const out = join(root, 'failing');
      const worker = await startWorker('f1');
      const result = await cli([
        'sweep',
        file,
        '--queue',
        url,
        '--out',
        out,
        '--attempts',
        '2',
        '--backoff',
        '0.2',
        '--json',
        '--progress',
        'lines',
      ]);
      expect(result.code).toBe(1);
      const summary = JSON.parse(result.stdout.trim().split('\n').pop()!);
      expect(summary.runs[0]).toMatchObject({ id: runId, status: 'FAILED' });
      expect(summary.runs[0].error).toMatch(
        /training diverged at iteration 0: .*max_loss.*\(after 2 attempts\)/,
      );
      expect(result.stderr).toMatch(/attempt 1 of 2 failed: training diverged/);
      expect(starts([worker.output()], [runId])).toEqual([2]);
      const record = (await openRunStore(out).getRun(runId)) as RunRecord;
      expect(record.status).toBe('FAILED');
      expect(record.error).toMatch(/training diverged at iteration 0/);
      expect(readFileSync(join(out, 'qbad', 'report.md'), 'utf8')).toMatch(
        /Runs that did not finish[\s\S]*FAILED/,
      );
      expect(await client.keys('reptile-bench:*:failed')).toEqual([]);
    });
  },
);
