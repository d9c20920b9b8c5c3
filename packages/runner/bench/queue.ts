// Figures for sweeps on the job queue (BullMQ on a local Redis), printed, never asserted. Every part is real: a
// redis-server on 127.0.0.1, `reptile-bench worker` processes, and the coordinator the CLI uses.
//
//   node --import tsx packages/runner/bench/queue.ts identical [--sweep F]... [--set k=v]...
//       the sweeps (default experiments/smoke.yaml and experiments/ci.yaml) run locally (--workers 2) and through
//       the queue with 2 worker processes; every run compared bit for bit (numbers, model, episode scores)
//   node --import tsx packages/runner/bench/queue.ts scaling [--sweep F] [--only T]... [--set k=v]... [--local]
//       sweep wall-clock with 1 and with 2 worker processes (default: the 12 sine runs of experiments/bench.yaml);
//       with --local, the same sweep run locally with --workers 1 and 2 as the machine's own reference;
//       meaningful on an otherwise idle machine only (the load average is printed with it)
//   node --import tsx packages/runner/bench/queue.ts overhead [--sweep F] [--set k=v]... [--repeat N]
//       per run, with one idle worker: (result in the run store − enqueued) − the run process's own time, against
//       that same run's time (default experiments/smoke.yaml, each run N times, default 3: the first pass pays
//       for the worker's and the coordinator's first job, later ones show the steady state)
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openRunStore, type RunRecord } from '@reptile-bench/tracking';
import { pickRuns } from '../src/actions/sweep.ts';
import { createProgress } from '../src/progress.ts';
import { parseQueueUrl } from '../src/queue/connection.ts';
import { queueSweeps } from '../src/queue/coordinator.ts';
import { startRedisServer } from '../src/queue/redis-server.ts';
import { recordedNumbers } from '../src/records.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    sweep: { type: 'string', multiple: true },
    only: { type: 'string', multiple: true },
    set: { type: 'string', multiple: true },
    keep: { type: 'boolean' },
    repeat: { type: 'string' },
    local: { type: 'boolean' },
  },
});
const mode = positionals[0];
if (mode !== 'identical' && mode !== 'scaling' && mode !== 'overhead') {
  console.error(
    'usage: node --import tsx packages/runner/bench/queue.ts identical|scaling|overhead [--sweep F]...',
  );
  process.exit(2);
}

const repo = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const bin = join(repo, 'packages/runner/bin/reptile-bench.mjs');
const dir = mkdtempSync(join(tmpdir(), `reptile-bench-queue-${mode}-`));
const sets = (values.set ?? []).flatMap((s) => ['--set', s]);
const onlys = (values.only ?? []).flatMap((s) => ['--only', s]);
const env = { ...process.env, REPTILE_BENCH_QUEUE: '', MLFLOW_TRACKING_URI: '' };

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
  /** Epoch milliseconds: the command started and exited. */
  from: number;
  to: number;
}

function cli(args: string[]): Promise<CliResult> {
  const started = performance.now();
  const from = Date.now();
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { env, maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      done({
        code: error ? Number((error as { code?: number }).code ?? 1) : 0,
        stdout,
        stderr,
        seconds: (performance.now() - started) / 1000,
        from,
        to: Date.now(),
      });
    });
  });
}

/**
 * Where a sweep's wall-clock went: the runs' own seconds summed (the work, apart from how it was scheduled), and
 * the serial parts before the first run started and after the last one ended (CLI start, planning, reports).
 */
async function runSeconds(out: string, sweep: CliResult): Promise<string> {
  const runs = await openRunStore(out).listRuns();
  const total = runs.reduce((sum, r) => sum + ((r.endTime ?? r.startTime) - r.startTime) / 1000, 0);
  const first = Math.min(...runs.map((r) => r.startTime));
  const last = Math.max(...runs.map((r) => r.endTime ?? r.startTime));
  return (
    `${total.toFixed(1)} s in the runs themselves, ${((first - sweep.from) / 1000).toFixed(1)} s before the first, ` +
    `${((sweep.to - last) / 1000).toFixed(1)} s after the last`
  );
}

async function startWorkers(url: string, n: number, label: string): Promise<ChildProcess[]> {
  const workers: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const child = spawn(
      process.execPath,
      [bin, 'worker', '--queue', url, '--out', join(dir, `worker-${label}-${i}`)],
      { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    let log = '';
    await new Promise<void>((ready, fail) => {
      child.stderr?.on('data', (chunk) => {
        log += String(chunk);
        if (log.includes('taking ')) ready();
      });
      child.on('exit', (code) => fail(new Error(`worker exited (${code}) on start:\n${log}`)));
    });
    workers.push(child);
  }
  return workers;
}

async function stopWorkers(workers: ChildProcess[]): Promise<void> {
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((done) => {
          if (w.exitCode !== null) return done();
          w.once('exit', () => done());
          w.kill('SIGTERM');
        }),
    ),
  );
}

function must(result: { code: number; stderr: string }, what: string): void {
  if (result.code !== 0) {
    console.error(`${what} failed (exit ${result.code}):\n${result.stderr}`);
    process.exit(1);
  }
}

/** A run's numbers as text, -0, NaN and ±Infinity spelled out: the comparison is bit for bit. */
const numbers = (record: RunRecord) =>
  JSON.stringify(recordedNumbers(record), (_k, v) =>
    typeof v === 'number' && (Object.is(v, -0) || !Number.isFinite(v))
      ? Object.is(v, -0)
        ? '-0'
        : String(v)
      : v,
  );

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const redis = await startRedisServer({ dir: join(dir, 'redis') });
try {
  console.log(`queue bench "${mode}" in ${dir}; load average ${load()} (1, 5, 15 min)`);
  if (mode === 'identical') {
    const sweeps =
      values.sweep ?? ['experiments/smoke.yaml', 'experiments/ci.yaml'].map((f) => join(repo, f));
    const local = await cli([
      'sweep',
      ...sweeps,
      ...sets,
      ...onlys,
      '--workers',
      '2',
      '--out',
      join(dir, 'local'),
      '--progress',
      'none',
    ]);
    must(local, 'the local sweep');
    const workers = await startWorkers(redis.url, 2, 'identical');
    const queued = await cli([
      'sweep',
      ...sweeps,
      ...sets,
      ...onlys,
      '--queue',
      redis.url,
      '--out',
      join(dir, 'queue'),
      '--progress',
      'none',
    ]);
    await stopWorkers(workers);
    must(queued, 'the sweep on the queue');
    const a = openRunStore(join(dir, 'local'));
    const b = openRunStore(join(dir, 'queue'));
    const ids = (await a.listRuns()).map((r) => r.meta.runId).sort();
    const queueIds = (await b.listRuns()).map((r) => r.meta.runId).sort();
    let identical = 0;
    const differences: string[] = [];
    for (const id of ids) {
      const x = (await a.getRun(id)) as RunRecord;
      const y = await b.getRun(id);
      if (y === undefined) {
        differences.push(`${id}: not in the queue's store`);
        continue;
      }
      const same =
        numbers(x) === numbers(y) &&
        x.artifacts.every((name) =>
          readFileSync(a.artifactPath(id, name)).equals(readFileSync(b.artifactPath(id, name))),
        );
      if (same) identical++;
      else differences.push(`${id}: numbers or artifacts differ`);
    }
    console.log(
      `runs (local / queue)        ${ids.length} / ${queueIds.length}; same run ids: ${JSON.stringify(ids) === JSON.stringify(queueIds)}`,
    );
    console.log(
      `bit-identical runs          ${identical}/${ids.length} (every metric point, the summary, model.json, test-episodes.json)`,
    );
    console.log(`wall-clock local --workers 2   ${local.seconds.toFixed(1)} s`);
    console.log(`wall-clock queue, 2 workers    ${queued.seconds.toFixed(1)} s`);
    for (const d of differences) console.log(`  DIFFERENT ${d}`);
    if (differences.length > 0) process.exitCode = 1;
  } else if (mode === 'scaling') {
    const sweep = values.sweep?.[0] ?? join(repo, 'experiments/bench.yaml');
    const only = values.only === undefined && values.sweep === undefined ? ['--only', 'sine'] : onlys;
    const runs = pickRuns(
      [sweep],
      values.set ?? [],
      only.filter((_, i) => i % 2 === 1),
    ).flatMap((p) => p.runs);
    if (runs.length < 8)
      console.log(`note: ${runs.length} runs; the target is stated for a sweep of 8 or more`);
    const speedUp = (s: number[]) => `${((s[0] as number) / (s[1] as number)).toFixed(2)}x`;
    /** The sweep into a fresh store with the given scheduler options; its seconds, after printing them. */
    const timedSweep = async (label: string, folder: string, scheduler: string[]) => {
      const loadBefore = load();
      const result = await cli([
        'sweep',
        sweep,
        ...sets,
        ...only,
        ...scheduler,
        '--out',
        join(dir, folder),
        '--progress',
        'none',
      ]);
      must(result, `the sweep (${label})`);
      console.log(
        `${label.padEnd(26)} ${result.seconds.toFixed(1)} s for ${runs.length} runs, ${await runSeconds(join(dir, folder), result)} (load average ${loadBefore} before, ${load()} after)`,
      );
      return result.seconds;
    };
    const seconds: number[] = [];
    for (const n of [1, 2]) {
      const workers = await startWorkers(redis.url, n, `scaling-${n}`);
      try {
        seconds.push(await timedSweep(`${n} worker process(es)`, `scaling-${n}`, ['--queue', redis.url]));
      } finally {
        await stopWorkers(workers);
      }
    }
    console.log(`speed-up 1 -> 2 workers     ${speedUp(seconds)}`);
    if (values.local) {
      // The same sweep without the queue: how far two processes scale on this machine at all.
      const local: number[] = [];
      for (const n of [1, 2])
        local.push(await timedSweep(`local --workers ${n}`, `local-${n}`, ['--workers', String(n)]));
      console.log(`speed-up local 1 -> 2       ${speedUp(local)}`);
    }
  } else {
    const sweep = values.sweep?.[0] ?? join(repo, 'experiments/smoke.yaml');
    const plans = pickRuns([sweep], values.set ?? [], values.only ?? []);
    const workers = await startWorkers(redis.url, 1, 'overhead');
    const settings = { target: parseQueueUrl(redis.url), attempts: 1, backoffSeconds: 1 };
    const repeat = Number(values.repeat ?? 3);
    if (!Number.isInteger(repeat) || repeat < 1)
      throw new Error(`--repeat ${values.repeat}: give a whole number ≥ 1`);
    const rows: string[] = [];
    // Two measures: to the result stored in Redis (the queue's part), and on to the coordinator's run store.
    const shares: number[] = [];
    const toRedis: number[] = [];
    for (let pass = 1; pass <= repeat; pass++)
      for (const plan of plans)
        for (const run of plan.runs) {
          // One run at a time, so that nothing waits for a busy worker: what remains is the queue's own cost. Each
          // pass collects into a store of its own, new to the run, as a sweep's store is.
          const result = await queueSweeps(
            [{ ...plan, runs: [run] }],
            {
              out: join(dir, `overhead-${pass}`),
              progress: createProgress('none'),
              force: true,
              mode: 'follow',
            },
            settings,
          );
          const t = result.outcomes[0]?.timing;
          if (result.outcomes[0]?.status !== 'FINISHED' || t === undefined) {
            console.error(`${run.runId}: ${result.outcomes[0]?.status}: ${result.outcomes[0]?.error}`);
            process.exit(1);
          }
          const own = t.runEnd - t.runStart;
          const overhead = t.collected - t.enqueued - own;
          const stored = t.stored - t.enqueued - own;
          shares.push(overhead / own);
          toRedis.push(stored / own);
          rows.push(
            `| ${pass} | ${run.name} | ${(own / 1000).toFixed(2)} | ${stored} (${((100 * stored) / own).toFixed(2)} %) | ${overhead} | ${((100 * overhead) / own).toFixed(2)} % | ` +
              `${t.taken - t.enqueued} | ${t.runStart - t.taken} | ${t.stored - t.runEnd} | ${t.collected - t.stored} |`,
          );
        }
    await stopWorkers(workers);
    console.log(
      '| pass | run | run process s | to stored in Redis, ms (of the run) | to in the store, ms | of the run | enqueue→taken | taken→run start | run end→stored | stored→in store |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const row of rows) console.log(row);
    const sorted = [...shares].sort((a, b) => a - b);
    const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
    const redisSorted = [...toRedis].sort((a, b) => a - b);
    console.log(
      `enqueue → result stored in Redis, less the run, over ${toRedis.length} runs: median ${pct(redisSorted[Math.floor(redisSorted.length / 2)] as number)}, worst ${pct(redisSorted[redisSorted.length - 1] as number)}`,
    );
    console.log(
      `enqueue → in the coordinator's run store, less the run, over ${shares.length} runs: median ${pct(sorted[Math.floor(sorted.length / 2)] as number)}, worst ${pct(sorted[sorted.length - 1] as number)}` +
        (repeat > 1
          ? `, worst after the first pass ${pct(Math.max(...shares.slice(shares.length / repeat)))}`
          : ''),
    );
  }
} finally {
  await redis.stop();
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
