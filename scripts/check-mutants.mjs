#!/usr/bin/env node
// Measures the power and the false-alarm rate of `reptile-bench check --suite ci` against the committed baseline:
//  - power: real bugs, each injected into a temporary copy of the code at HEAD (a git worktree), must fail the check;
//  - false alarms: the unmodified code along other training trajectories (training_seed = 100, 101, ...; the
//    baseline's own null replicates use 1..K) should pass at least 95% of the time.
// Usage: node scripts/check-mutants.mjs [--mutants a,b,...] [--null N] [--first-seed S] [--workers N]
//          [--markdown FILE] [--record FILE]
//        node scripts/check-mutants.mjs --summarize FILE [--markdown FILE]
// Every check writes its runs to a temporary folder; nothing under results/ changes except the --markdown file.
// --record appends one JSON line per finished check (its rows included), so a long series of null checks can be
// stopped and continued with --first-seed without losing what has finished; --summarize reads such a record and
// writes the false-alarm table with the rate counted and estimated from the spread of every metric's change.
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const baseline = join(root, 'results', 'baselines', 'ci.json');
const cache = process.env.REPTILE_BENCH_CACHE ?? join(root, '.cache', 'datasets');
// The copies live in a temporary folder, away from the archives beside this checkout: point them at those.
const sharedOmniglot = join(root, '..', 'shared', 'data', 'omniglot');
const omniglotDir = process.env.OMNIGLOT_DIR ?? (existsSync(sharedOmniglot) ? sharedOmniglot : undefined);

/** One-line bugs: the file, the exact text, what replaces it, and what it breaks. */
const mutants = {
  'meta-step-halved': {
    file: 'packages/reptile/src/reptile.ts',
    find: '          epsilon,\n',
    replace: '          epsilon / 2,\n',
    what: "Reptile's meta-step ε halved",
  },
  'adam-beta1-0.9': {
    file: 'packages/models/src/optimizers.ts',
    find: 'adam({ learningRate: o.learningRate, beta1: 0 })',
    replace: 'adam({ learningRate: o.learningRate, beta1: 0.9 })',
    what: 'the inner Adam with β1 = 0.9 instead of 0 (training and adaptation)',
  },
  'inner-lr-halved': {
    file: 'packages/meta/src/task.ts',
    find: 'createOptimizer({ optimizer: job.optimizer.kind, learningRate: job.optimizer.learningRate })',
    replace:
      'createOptimizer({ optimizer: job.optimizer.kind, learningRate: job.optimizer.learningRate / 2 })',
    what: 'the meta-training inner learning rate halved (every algorithm)',
  },
  'rotation-off': {
    file: 'packages/datasets/src/omniglot-split.ts',
    find: 'augment ? ROTATIONS : [0]',
    replace: '[0]',
    what: 'Omniglot training without the rotation augmentation',
  },
  'meta-batch-one-short': {
    file: 'packages/reptile/src/reptile.ts',
    find: 'adapted.map((task) => task.params)',
    // One task short where there is more than one (sine's meta-batch of 1 is left whole, Omniglot's 5 become 4).
    replace: 'adapted.slice(0, Math.max(1, adapted.length - 1)).map((task) => task.params)',
    what: "Reptile's meta-update leaving out the last of its tasks (4 of Omniglot's 5)",
  },
};

const { values } = parseArgs({
  options: {
    mutants: { type: 'string', default: Object.keys(mutants).join(',') },
    null: { type: 'string', default: '5' },
    'first-seed': { type: 'string', default: '100' },
    record: { type: 'string' },
    workers: { type: 'string', default: '2' },
    markdown: { type: 'string' },
    summarize: { type: 'string' },
  },
});
const selected = values.mutants === '' ? [] : values.mutants.split(',');
for (const name of selected)
  if (!(name in mutants)) {
    console.error(
      `check-mutants: unknown mutant ${name}; the mutants are ${Object.keys(mutants).join(', ')}`,
    );
    process.exit(2);
  }
const nullRuns = Number(values.null);
const firstSeed = Number(values['first-seed']);
if (!Number.isInteger(firstSeed) || firstSeed < 6) {
  // 1..5 are the baseline's own null replicates: a check along one of them is not a new trajectory.
  console.error(`check-mutants: --first-seed must be an integer ≥ 6, got ${values['first-seed']}`);
  process.exit(2);
}
if (!Number.isInteger(nullRuns) || nullRuns < 0) {
  console.error(`check-mutants: --null must be a non-negative integer, got ${values.null}`);
  process.exit(2);
}

/** `reptile-bench check` in `dir` against the committed baseline; the parsed --json line and the exit code. */
function check(dir, out, extra = []) {
  const r = spawnSync(
    process.execPath,
    [
      join(dir, 'packages/runner/bin/reptile-bench.mjs'),
      'check',
      '--suite',
      'ci',
      '--baseline',
      baseline,
      '--out',
      out,
      '--workers',
      values.workers,
      '--progress',
      'none',
      '--json',
      ...extra,
    ],
    // The copies share the decoded Omniglot of this checkout instead of decoding the archives again.
    {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      env: {
        ...process.env,
        REPTILE_BENCH_CACHE: cache,
        ...(omniglotDir === undefined ? {} : { OMNIGLOT_DIR: omniglotDir }),
      },
    },
  );
  const line = r.stdout.trim().split('\n').filter(Boolean).pop();
  if (line?.startsWith('{')) return { code: r.status, result: JSON.parse(line) };
  // A bug that makes runs fail outright fails the check too, with nothing compared.
  const failed = r.stderr.match(/^ {2}FAILED .*$/m)?.[0]?.trim();
  if (r.status !== 0 && failed !== undefined) return { code: r.status, result: { rows: [] }, failed };
  throw new Error(`check in ${dir} printed no result (exit ${r.status}):\n${r.stderr}`);
}

/** The worst change per metric kind: accuracy in points, MSE in percent (positive = worse). */
function worst(result) {
  const rows = result.rows.filter((r) => typeof r.change === 'number');
  const acc = rows.filter((r) => r.kind === 'accuracy');
  const mse = rows.filter((r) => r.kind === 'mse');
  const pick = (rs, value) => rs.map((r) => ({ r, v: value(r) })).sort((a, b) => b.v - a.v)[0];
  const a = pick(acc, (r) => -r.change * 100);
  const m = pick(mse, (r) => (Math.exp(r.change * -1) - 1) * 100);
  // How close the check came to failing: the largest loss as a fraction of its metric's tolerance (≥ 1 fails).
  const c = pick(rows, (r) => -r.change / r.tolerance);
  return {
    closest: c ? `${c.v.toFixed(2)} (${c.r.config} ${c.r.metric})` : 'n/a',
    accuracy: a ? `${a.v.toFixed(2)} pts (${a.r.config} ${a.r.metric})` : 'n/a',
    mse: m ? `${m.v.toFixed(1)}% (${m.r.config} ${m.r.metric})` : 'n/a',
  };
}

const lines = [];
const say = (s) => {
  console.log(s);
  lines.push(s);
};
const record = (entry) => {
  if (values.record) appendFileSync(values.record, `${JSON.stringify({ commit, ...entry })}\n`);
};
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();

/** The false-alarm table of a --record file: every null check in it, the rate counted and estimated. */
async function summarize(file) {
  register();
  const { estimateFalseAlarms } = await import('../packages/runner/src/index.ts');
  const bySeed = new Map();
  for (const [i, line] of readFileSync(file, 'utf8').split('\n').entries()) {
    if (line.trim() === '') continue;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1} is not a JSON line written by --record`);
    }
    if (typeof entry.training_seed === 'number') bySeed.set(entry.training_seed, entry);
  }
  const entries = [...bySeed.values()].sort((a, b) => a.training_seed - b.training_seed);
  if (entries.length === 0) throw new Error(`${file} holds no null check (written by --null with --record)`);
  const estimate = estimateFalseAlarms(
    entries.map((e) => ({ trainingSeed: e.training_seed, passed: e.code === 0, rows: e.rows })),
  );
  const seeds = entries.map((e) => e.training_seed);
  const commits = [...new Set(entries.map((e) => e.commit))].join(', ');
  const pct = (p) =>
    Number.isFinite(p) ? `${(p * 100).toFixed(p < 0.001 ? 3 : 2)} %` : 'n/a (needs 2 checks)';
  const inUnits = (metric, v) =>
    !Number.isFinite(v)
      ? 'n/a'
      : metric.startsWith('accuracy')
        ? `${(v * 100).toFixed(2)} pts`
        : `${((Math.exp(v) - 1) * 100).toFixed(2)} %`;
  say('# False alarms of `check --suite ci`: the unmodified code along new training trajectories');
  say('');
  say(
    `${entries.length} null checks (training_seed ${Math.min(...seeds)}–${Math.max(...seeds)}, commit ${commits}), ` +
      'each the whole suite trained along another trajectory and checked against the committed baseline.',
  );
  say(
    `Reproduce: \`node scripts/check-mutants.mjs --mutants '' --null N --first-seed S --record FILE\` ` +
      '(continue a series with the next --first-seed), then `node scripts/check-mutants.mjs --summarize FILE`.',
  );
  say('');
  say('| training_seed | check | closest to its tolerance | worst accuracy loss | worst MSE increase |');
  say('| --- | --- | --- | --- | --- |');
  for (const e of entries) {
    const w = worst(e);
    say(
      `| ${e.training_seed} | ${e.code === 0 ? 'passed' : 'FAILED (false alarm)'} | ${w.closest} | ${w.accuracy} | ${w.mse} |`,
    );
  }
  say('');
  say(
    `Counted: ${estimate.falseAlarms} false alarm(s) in ${estimate.checks} checks; from the count alone the rate is ` +
      `below ${pct(estimate.countedUpper95)} at 95 % confidence (Clopper–Pearson).`,
  );
  say('');
  const m = estimate.closest.reduce((a, v) => a + v, 0) / estimate.closest.length;
  say(
    `Estimated from the check's own statistic, the "closest to its tolerance" column (mean ${m.toFixed(2)}; the ` +
      'check fails above 1), with a Student t predictive distribution from its mean and SD across these checks: ' +
      `the next numerics-only change fails the check ${pct(estimate.closestRate)} of the time.`,
  );
  say('');
  say(
    "Estimated metric by metric instead, from every metric's paired change across these checks: the chance that the next numerics-only " +
      'change moves it past its tolerance (Student t predictive distribution from the mean and SD below; ' +
      'accuracy in points, MSE as the ratio − 1; a metric that changed exactly as another in every check fails ' +
      'with it and is counted once):',
  );
  say('');
  say('| config | metric | tolerance | mean change (+ better) | SD of the change | P(beyond tolerance) |');
  say('| --- | --- | --- | --- | --- | --- |');
  for (const m of estimate.metrics)
    say(
      `| ${m.config} | ${m.metric} | ${inUnits(m.metric, m.tolerance)} | ${inUnits(m.metric, m.mean)} | ` +
        `${inUnits(m.metric, m.sd)} | ${m.sameAs ? `as ${m.sameAs}` : pct(m.failProbability)} |`,
    );
  say('');
  say(
    `Summed, the check fails a numerics-only change at most ${pct(estimate.estimatedRate)} of the time (the sum over ` +
      `its ${estimate.metrics.filter((m) => !m.sameAs).length} distinct metrics; the target is ≤ 5 %), i.e. passes it at least ` +
      `${pct(1 - estimate.estimatedRate)} of the time.`,
  );
}

if (values.summarize !== undefined) {
  try {
    await summarize(values.summarize);
  } catch (e) {
    console.error(`check-mutants: ${e.message}`);
    process.exit(2);
  }
  if (values.markdown) writeFileSync(values.markdown, `${lines.join('\n')}\n`);
  process.exit(0);
}
say(`# Power and false alarms of \`check --suite ci\` (commit ${commit})`);
say('');
say(
  `Reproduce: \`node scripts/check-mutants.mjs --null ${nullRuns} --first-seed ${firstSeed}\` (each check trains the whole suite).`,
);
say('Worst changes are losses: accuracy points lost, MSE percent gained, over the metrics of the suite.');
say('');
say('| mutant | what it breaks | check | worst accuracy loss | worst MSE increase | regressed metrics |');
say('| --- | --- | --- | --- | --- | --- |');
for (const name of selected) {
  const m = mutants[name];
  const work = mkdtempSync(join(tmpdir(), `mutant-${name}-`));
  const copy = join(work, 'code');
  try {
    execFileSync('git', ['worktree', 'add', '--detach', copy, 'HEAD'], { cwd: root, stdio: 'ignore' });
    execFileSync('pnpm', ['install', '--offline', '--frozen-lockfile'], { cwd: copy, stdio: 'ignore' });
    const file = join(copy, m.file);
    const text = readFileSync(file, 'utf8');
    if (!text.includes(m.find))
      throw new Error(`mutant ${name}: ${m.file} no longer contains ${JSON.stringify(m.find)}`);
    writeFileSync(file, text.replace(m.find, m.replace));
    const { code, result, failed } = check(copy, join(work, 'results'));
    const w = worst(result);
    const regressed = failed
      ? [`runs failed: ${failed}`]
      : result.rows.filter((r) => r.status === 'regressed').map((r) => `${r.config} ${r.metric}`);
    record({ mutant: name, code, failed, rows: result.rows });
    say(
      `| ${name} | ${m.what} | ${code === 0 ? 'passed (missed)' : 'FAILED (caught)'} | ${w.accuracy} | ${w.mse} | ${regressed.join('; ') || 'none'} |`,
    );
  } finally {
    spawnSync('git', ['worktree', 'remove', '--force', copy], { cwd: root, stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  }
}
if (nullRuns > 0) {
  say('');
  say(
    '| unmodified code, training_seed | check | closest to its tolerance | worst accuracy loss | worst MSE increase |',
  );
  say('| --- | --- | --- | --- | --- |');
  let passed = 0;
  for (let k = 0; k < nullRuns; k++) {
    const seed = firstSeed + k;
    const work = mkdtempSync(join(tmpdir(), 'null-'));
    try {
      const { code, result } = check(root, join(work, 'results'), ['--set', `training_seed=${seed}`]);
      if (code === 0) passed++;
      record({ training_seed: seed, code, rows: result.rows });
      const w = worst(result);
      say(
        `| ${seed} | ${code === 0 ? 'passed' : 'FAILED (false alarm)'} | ${w.closest} | ${w.accuracy} | ${w.mse} |`,
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  say('');
  say(`False alarms: ${nullRuns - passed} of ${nullRuns} (passed ${passed}/${nullRuns}).`);
}
if (values.markdown) writeFileSync(values.markdown, `${lines.join('\n')}\n`);
