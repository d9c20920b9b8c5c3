#!/usr/bin/env node
// wasm, tensorflow and cpu side by side on the throughput workloads, every worker/thread setting of each, in one
// run (one `reptile-bench throughput --json` process per setting, one after the other):
//   node scripts/bench-backends.mjs [--workloads omniglot-5w1s,sine] [--seconds 8] [--skip-cpu]
// Prints every setting's figures, then a table per workload with each backend's best setting. tensorflow's
// threads are TensorFlow's intra-op threads per worker (TF_NUM_INTRAOP_THREADS); wasm and cpu compute on the
// worker thread alone. On Conv4 the cpu backend (~5 s a step) gets only its step and forward pass timed
// (scripts/bench-step.ts, 2 steps, wall clock): one meta-iteration of the throughput command is 25 of its steps.
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    workloads: { type: 'string', default: 'omniglot-5w1s,sine' },
    seconds: { type: 'string', default: '8' },
    'skip-cpu': { type: 'boolean' },
  },
});
const cores = availableParallelism();
const counts = [...new Set([1, cores])];

function settings(workload) {
  const list = [];
  for (const workers of counts) list.push({ backend: 'wasm', workers, threads: 1 });
  for (const workers of counts)
    for (const threads of counts) list.push({ backend: 'tensorflow', workers, threads });
  if (!values['skip-cpu'])
    list.push(
      workload === 'sine'
        ? { backend: 'cpu', workers: cores, threads: 1, steps: 20 }
        : { backend: 'cpu', workers: 1, threads: 1, stepOnly: true },
    );
  return list;
}

/** Conv4's step and forward pass only (scripts/bench-step.ts: 5-way, batch 10, wall-clock medians). */
function measureStep(backend) {
  const start = loadavg()[0];
  const args = ['--import', 'tsx', join(root, 'scripts', 'bench-step.ts'), backend, '2'];
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  const ms = (label) => Number(new RegExp(`^${label}\\s+([\\d.]+) ms`, 'm').exec(run.stdout)?.[1]);
  const [step, forward] = [ms('step'), ms('forward')];
  if (run.status !== 0 || !(step > 0)) return undefined;
  return {
    train_step_ms: step,
    forward_ms: forward,
    train_step_over_forward: step / forward,
    settings: { innerBatch: 10 },
    load_average: [start, loadavg()[0]],
  };
}

function measure(workload, s) {
  if (s.stepOnly) return measureStep(s.backend);
  const args = [join(root, 'packages', 'runner', 'bin', 'reptile-bench.mjs'), 'throughput', '--json'];
  args.push('--workload', workload, '--backend', s.backend, '--workers', String(s.workers));
  if (s.steps !== undefined) args.push('--steps', String(s.steps));
  else args.push('--seconds', values.seconds);
  const env = { ...process.env, TF_NUM_INTRAOP_THREADS: String(s.threads) };
  const run = spawnSync(process.execPath, args, { cwd: root, env, encoding: 'utf8' });
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  if (run.status !== 0 || !line.startsWith('{')) {
    const why = run.stderr.trim().split('\n').slice(-3).join(' ');
    console.log(`${workload} ${s.backend} ${s.workers}×${s.threads}: failed (${why})`);
    return undefined;
  }
  return JSON.parse(line);
}

const f = (n, digits = 1) => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits));
const load = (r) => r.load_average.map((l) => f(l)).join(' → ');
console.log(
  `${cores} cores, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at the start`,
);
for (const workload of values.workloads.split(',')) {
  const results = [];
  for (const s of settings(workload)) {
    const r = measure(workload, s);
    if (r === undefined) continue;
    results.push({ ...s, r });
    const setting = s.stepOnly ? 'step only' : `${s.workers} worker(s) × ${s.threads} thread(s)`;
    console.log(
      `${workload} ${s.backend.padEnd(10)} ${setting}: inner steps/s ${f(r.inner_steps_per_s)} ` +
        `(${f(r.inner_steps_per_process_cpu_s)} per CPU-second), ` +
        `meta-iterations/s ${f(r.meta_iters_per_s, 2)}, step ${f(r.train_step_ms, 2)} ms, forward ` +
        `${f(r.forward_ms, 2)} ms (CPU ${f(r.train_step_cpu_ms, 2)} / ${f(r.forward_cpu_ms, 2)} ms), load ${load(r)}`,
    );
  }
  console.log(
    `\n${workload}: ${results[0]?.r.settings.innerBatch ?? '?'} examples per step; each backend's best`,
  );
  console.log(
    '| backend | train step: CPU ms (wall ms) | forward: CPU ms (wall ms) | step / forward (CPU) | inner steps/s, best setting (workers × threads) | inner steps per CPU-second (that setting) | meta-iterations/s | load average |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const backend of ['wasm', 'tensorflow', 'cpu']) {
    const mine = results.filter((x) => x.backend === backend);
    if (mine.length === 0) continue;
    const best = mine.reduce((a, b) => ((b.r.inner_steps_per_s ?? 0) > (a.r.inner_steps_per_s ?? 0) ? b : a));
    // the step and forward pass on one JavaScript thread: the one-worker setting with the least CPU time a step
    const cost = (x) => x.r.train_step_cpu_ms ?? x.r.train_step_ms;
    const single = mine
      .filter((x) => x.workers === 1 || mine.length === 1)
      .reduce((a, b) => (cost(b) < cost(a) ? b : a));
    const threads =
      backend === 'tensorflow' ? `, ${single.threads} TF thread${single.threads > 1 ? 's' : ''}` : '';
    const throughput =
      best.r.inner_steps_per_s === undefined
        ? '– | – | –'
        : `${f(best.r.inner_steps_per_s)} (${best.workers} × ${best.threads}) | ${f(best.r.inner_steps_per_process_cpu_s)} | ${f(best.r.meta_iters_per_s, 2)}`;
    console.log(
      `| ${backend} | ${f(single.r.train_step_cpu_ms, 2)} (${f(single.r.train_step_ms, 2)})${threads} | ` +
        `${f(single.r.forward_cpu_ms, 2)} (${f(single.r.forward_ms, 2)}) | ${f(single.r.train_step_over_forward, 2)} | ` +
        `${throughput} | ${load(best.r)} |`,
    );
  }
  console.log('');
}
