import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../config/errors.ts';
import { parseOverride } from '../config/overrides.ts';
import { isSweepFile, planRunFile, planSweep, type SweepPlan } from '../config/sweep.ts';
import { executePlans, type SweepCommandOptions } from './sweep.ts';

export interface RunCommandOptions extends Omit<SweepCommandOptions, 'only'> {
  seed?: number;
  only?: string;
  sweep?: string;
}

/**
 * Picks one run: a run config file gives one config (seed from --seed, default 0); a sweep file must be narrowed
 * to one run with --only (a substring of the run name or id) and/or --seed.
 */
export function planOneRun(file: string, opts: RunCommandOptions): SweepPlan {
  if (!isSweepFile(file)) {
    const sweep = opts.sweep ?? basename(file, extname(file)).replace(/[^A-Za-z0-9_.-]/g, '-');
    const plan = planRunFile(file, {
      sweep,
      seeds: [opts.seed ?? 0],
      overrides: opts.set.map(parseOverride),
    });
    return { ...plan, reportScope: 'stored' };
  }
  const plan = planSweep(file, opts.set.map(parseOverride));
  const runs = plan.runs.filter(
    (r) =>
      (opts.seed === undefined || r.seed === opts.seed) &&
      (opts.only === undefined || r.name.includes(opts.only) || r.runId.includes(opts.only)),
  );
  // A dry run refuses what the real run refuses: it must predict it.
  if (runs.length === 1) return { ...plan, runs, reportScope: { runs: plan.runs } };
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

/** `reptile-bench run <file>`. */
export async function runCommand(command: Command, file: string, opts: RunCommandOptions): Promise<void> {
  const plan = planOneRun(file, opts);
  if (opts.dryRun && !opts.json) {
    for (const run of plan.runs) {
      process.stdout.write(`${run.runId} (seed ${run.seed}, config hash ${run.configHash})\n`);
      process.stdout.write(`${JSON.stringify(run.config, null, 2)}\n`);
    }
    return;
  }
  const { only: _only, ...rest } = opts;
  await executePlans(command, [plan], { ...rest, workers: 1 });
}
