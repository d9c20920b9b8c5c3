// Expanding a sweep file into planned runs: includes, defaults, grid and random search, overrides, validation.
import { configHash, createRng } from '@reptile-bench/core';
import { ConfigError, type ConfigProblem, describeIssue } from './errors.ts';
import { hashableConfig, runIdFor } from './identity.ts';
import { applyIncludes, createLoader, type Loader } from './includes.ts';
import {
  isPlainObject,
  Layer,
  type Path,
  type PlainObject,
  readSourceFile,
  type SourceFile,
} from './layer.ts';
import { defaultName, label, nameFromTemplate, pathsInDefaultName } from './naming.ts';
import type { Override } from './overrides.ts';
import { resolveRunConfig } from './resolve.ts';
import {
  type RunConfig,
  runEntryControlKeys,
  runEntryControlSchema,
  type SweepFile,
  sweepSchema,
} from './schema.ts';
import { cartesian, checkRandom, draw } from './search.ts';
import { withTeachers } from './teacher.ts';

/** One run of a sweep: a resolved config and a seed, with the id it is stored under. */
export interface PlannedRun {
  /** `<sweep>-<configHash>-s<seed>`. */
  runId: string;
  sweep: string;
  name: string;
  /** Hash of the resolved config without its name, seed and worker count (they do not change the numbers). */
  configHash: string;
  seed: number;
  config: RunConfig;
  /** The sweep file the run came from. */
  file: string;
  /** A distillation run's teacher run (config/teacher.ts): trained before it, or reused when finished. */
  teacher?: PlannedRun;
}

export interface SweepPlan {
  name: string;
  description?: string;
  file: string;
  runs: PlannedRun[];
  /** Entries that expanded to a config + seed already planned (kept once). */
  duplicates: number;
  /**
   * What the sweep's reports cover when more or less than `runs` should be in them: the stored runs of these
   * planned runs (one run picked from a sweep file reports the whole sweep), or every stored run of the sweep
   * (ad-hoc runs of a run config file accumulate in one report). Default: `runs`.
   */
  reportScope?: { runs: PlannedRun[] } | 'stored';
}

function toPath(path: readonly PropertyKey[]): Path {
  return path.map((k) => (typeof k === 'number' ? k : String(k)));
}

/**
 * Reads a sweep file and expands it into planned runs: includes and defaults merged beneath each entry of `runs`,
 * the grid (cartesian product) and random search (seeded draws) applied, every run validated, then one planned
 * run per seed. Throws a ConfigError listing every problem with file, line, field and allowed values.
 */
export function planSweep(file: string, overrides: Override[] = []): SweepPlan {
  const loader = createLoader();
  const source = loader.read(file);
  const parsed = sweepSchema.safeParse(source.data);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        where: source.where(
          issue.code === 'unrecognized_keys'
            ? [...toPath(issue.path), String(issue.keys[0])]
            : toPath(issue.path),
          issue.code === 'unrecognized_keys',
        ),
        field: issue.path.join('.') || '(sweep file)',
        message: describeIssue(issue, source.data, Object.keys(sweepSchema.shape)),
      })),
    );
  }
  const sweep = parsed.data;
  return expandSweep(
    loader,
    source,
    sweep,
    sweep.runs.map((_, i) => ['runs', i]),
    overrides,
  );
}

/** Whether a YAML file is a sweep (it has `runs:`) rather than a single run's config. */
export function isSweepFile(file: string): boolean {
  const data = readSourceFile(file).data;
  return isPlainObject(data) && 'runs' in data;
}

/**
 * Plans one run from a run config file (a mapping of run fields, which may `include` others) with overrides,
 * as a sweep named `sweep` holding that single config and the given seeds.
 */
export function planRunFile(
  file: string,
  o: { sweep: string; seeds: number[]; overrides?: Override[] },
): SweepPlan {
  const loader = createLoader();
  const source = loader.read(file);
  if (!isPlainObject(source.data)) {
    throw new ConfigError([
      { where: source.where([]), field: '', message: 'a run config must be a mapping of run fields' },
    ]);
  }
  const parsed = sweepSchema.safeParse({ name: o.sweep, seeds: o.seeds, runs: [source.data] });
  if (!parsed.success)
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        where: issue.path[0] === 'name' ? '--sweep' : source.where([]),
        field: issue.path[0] === 'name' ? '' : issue.path.join('.'),
        message:
          issue.path[0] === 'name'
            ? `${JSON.stringify(o.sweep)} is not a sweep name: letters, digits, "_", "." and "-" only (it names folders)`
            : describeIssue(issue, source.data),
      })),
    );
  const sweep = parsed.data;
  return expandSweep(loader, source, sweep, [[]], o.overrides ?? []);
}

function expandSweep(
  loader: Loader,
  source: SourceFile,
  sweep: SweepFile,
  entryPaths: Path[],
  overrides: Override[],
): SweepPlan {
  const problems: ConfigProblem[] = [];

  const base = new Layer();
  applyIncludes(loader, base, sweep.include, source, ['include'], [source.path]);
  base.merge([], sweep.defaults, (sub) => source.where(['defaults', ...sub]));
  if (sweep.random) problems.push(...checkRandom(sweep.random, source, ['random']));

  const runs: PlannedRun[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  for (const [entryIndex, entry] of sweep.runs.entries()) {
    const at: Path = entryPaths[entryIndex] ?? ['runs', entryIndex];
    const control = runEntryControlSchema.safeParse(entry);
    if (!control.success) {
      for (const issue of control.error.issues) {
        problems.push({
          where: source.where([...at, ...toPath(issue.path)]),
          field: issue.path.join('.'),
          message: describeIssue(issue, entry),
        });
      }
      continue;
    }
    const { name, include, grid: entryGrid, random: entryRandom, seeds } = control.data;
    const fields: PlainObject = { ...entry };
    for (const key of runEntryControlKeys) delete fields[key];

    const layer = base.clone();
    applyIncludes(loader, layer, include, source, [...at, 'include'], [source.path]);
    layer.merge([], fields, (sub) => source.where([...at, ...sub]));

    const grid = { ...sweep.grid, ...entryGrid };
    const random = entryRandom ?? sweep.random;
    if (entryRandom) problems.push(...checkRandom(entryRandom, source, [...at, 'random']));
    const samples = random ? random.samples : 1;
    const entryLabel = name ?? `runs[${entryIndex}]`;

    for (const point of cartesian(grid)) {
      for (let sample = 0; sample < samples; sample++) {
        const variant = layer.clone();
        const labels: string[] = [];
        const allLabels: string[] = [];
        for (const [key, value, i] of point) {
          const gridAt = entryGrid && key in entryGrid ? [...at, 'grid', key, i] : ['grid', key, i];
          variant.merge(key.split('.'), value, (sub) => source.where([...gridAt, ...sub]));
          const named = name === undefined && pathsInDefaultName.includes(key);
          if (grid[key] && grid[key].length > 1 && !named) labels.push(label(key, value, i));
          allLabels.push(label(key, value, i));
        }
        if (random) {
          const randomAt = entryRandom ? [...at, 'random', 'fields'] : ['random', 'fields'];
          for (const [key, distribution] of Object.entries(random.fields)) {
            const rng = createRng(random.seed).derive('random', name ?? entryIndex, sample, key);
            const value = draw(distribution, rng);
            variant.merge(key.split('.'), value, () => source.where([...randomAt, key]));
            labels.push(label(key, value, sample));
            allLabels.push(label(key, value, sample));
          }
        }
        for (const o of overrides) variant.merge(o.path, o.value, () => `--set ${o.path.join('.')}`);

        const runLabel = allLabels.length > 0 ? `${entryLabel} ${allLabels.join(' ')}` : entryLabel;
        const resolved = resolveRunConfig(variant, { where: source.where(at), run: runLabel });
        problems.push(...resolved.problems);
        if (!resolved.config) continue;
        const { name: configName, ...rest } = resolved.config;
        const template = configName ?? name;
        const baseName = template ? nameFromTemplate(template, rest) : defaultName(rest);
        const hasTemplate = template !== undefined && /\{[A-Za-z0-9_.]+\}/.test(template);
        const config: RunConfig = {
          name: labels.length > 0 && !hasTemplate ? `${baseName} ${labels.join(' ')}` : baseName,
          ...rest,
        };
        const hash = configHash(hashableConfig(config));
        for (const seed of seeds ?? sweep.seeds) {
          const runId = runIdFor(sweep.name, hash, seed);
          if (seen.has(runId)) {
            duplicates++;
            continue;
          }
          seen.add(runId);
          runs.push({
            runId,
            sweep: sweep.name,
            name: config.name,
            configHash: hash,
            seed,
            config,
            file: source.display,
          });
        }
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(dedupeProblems(problems));
  return withTeachers({
    name: sweep.name,
    ...(sweep.description === undefined ? {} : { description: sweep.description }),
    file: source.display,
    runs,
    duplicates,
  });
}

/** The same bad default reported once per expanded run is noise: keep one line per (where, field, message). */
function dedupeProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const byKey = new Map<string, ConfigProblem>();
  for (const p of problems) {
    const key = `${p.where}|${p.field}|${p.message}`;
    if (!byKey.has(key)) byKey.set(key, p);
  }
  return [...byKey.values()];
}

/** Plans several sweep files; their names must differ because reports are written per sweep name. */
export function planSweeps(files: string[], overrides: Override[] = []): SweepPlan[] {
  const plans = files.map((f) => planSweep(f, overrides));
  const byName = new Map<string, string>();
  for (const plan of plans) {
    const other = byName.get(plan.name);
    if (other) {
      throw new ConfigError([
        { where: plan.file, field: 'name', message: `sweep name "${plan.name}" is also used by ${other}` },
      ]);
    }
    byName.set(plan.name, plan.file);
  }
  return plans;
}
