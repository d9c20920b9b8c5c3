import { basename, extname } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { ConfigError } from '../config/errors.ts';
import { isSweepFile, planRunFile, planSweep, type SweepPlan } from '../config/sweep.ts';
import { collectOverride, progressMode } from './options.ts';
import { executePlans, type SweepCommandOptions } from './sweep.ts';

interface RunCommandOptions extends SweepCommandOptions {
  seed?: number;
  only?: string;
  sweep?: string;
}

function seedOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`--seed must be a non-negative integer, got "${value}"`);
  return n;
}

/**
 * Picks one run: a run config file gives one config (seed from --seed, default 0); a sweep file must be narrowed
 * to one run with --only (a substring of the run name or id) and/or --seed.
 */
export function planOneRun(file: string, opts: RunCommandOptions): SweepPlan {
  if (!isSweepFile(file)) {
    const sweep = opts.sweep ?? basename(file, extname(file)).replace(/[^A-Za-z0-9_.-]/g, '-');
    return planRunFile(file, { sweep, seeds: [opts.seed ?? 0], overrides: opts.set });
  }
  const plan = planSweep(file, opts.set);
  const runs = plan.runs.filter(
    (r) =>
      (opts.seed === undefined || r.seed === opts.seed) &&
      (opts.only === undefined || r.name.includes(opts.only) || r.runId.includes(opts.only)),
  );
  if (runs.length === 1 || (opts.dryRun && runs.length > 0)) return { ...plan, runs };
  const candidates = runs.map((r) => `  ${r.runId}  ${r.name}  seed ${r.seed}`).join('\n');
  throw new ConfigError([
    {
      where: plan.file,
      field: '',
      message:
        runs.length === 0
          ? 'no run matches --only/--seed; see the plan with `reptile-bench sweep <file> --dry-run`'
          : `${runs.length} runs match; narrow them down with --only <name or id> and --seed <n>:\n${candidates}`,
    },
  ]);
}

export function register(program: Command): void {
  program
    .command('run')
    .description('run one configuration: a run config file, or one run picked from a sweep file')
    .argument('<file>', 'a run config (e.g. experiments/base/sine.yaml) or a sweep file')
    .option(
      '--set <key=value>',
      'override a config field, e.g. algorithm.meta_iters=100 (repeatable)',
      collectOverride,
      [],
    )
    .option('--seed <n>', 'seed of the run (default 0 for a run config file)', seedOption)
    .option('--only <text>', 'in a sweep file: the run whose name or id contains this text')
    .option('--sweep <name>', 'sweep name to record the run under (default: the file name)')
    .option('--out <dir>', 'folder for the run store and reports', 'results')
    .option('--force', 'run again even if this run finished before')
    .option('--dry-run', 'print the expanded plan (resolved config) and exit')
    .option('--json', 'print one machine-readable summary line on stdout at the end')
    .option('--progress <mode>', 'auto, bars, lines or none', progressMode, 'auto')
    .action(async function (this: Command, file: string, opts: RunCommandOptions) {
      const plan = planOneRun(file, opts);
      if (opts.dryRun && !opts.json) {
        for (const run of plan.runs) {
          process.stdout.write(`${run.runId} (seed ${run.seed}, config hash ${run.configHash})\n`);
          process.stdout.write(`${JSON.stringify(run.config, null, 2)}\n`);
        }
        return;
      }
      await executePlans(this, [plan], { ...opts, workers: 1 });
    });
}
