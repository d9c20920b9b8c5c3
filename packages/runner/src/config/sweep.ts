import { dirname, resolve } from 'node:path';
import { configHash, createRng } from '@reptile-bench/core';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ConfigProblem, describeIssue } from './errors.ts';
import {
  isPlainObject,
  Layer,
  type Path,
  type PlainObject,
  readSourceFile,
  type SourceFile,
} from './layer.ts';
import { resolveRunConfig } from './resolve.ts';
import {
  type Grid,
  hashNeutralDefaults,
  type RandomDistribution,
  type RandomSearch,
  type RunConfig,
  runEntryControlKeys,
  runEntryControlSchema,
  type SweepFile,
  sweepSchema,
} from './schema.ts';
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

/** A `key=value` override from the command line; the value is read as YAML (numbers, booleans, lists). */
export interface Override {
  path: string[];
  value: unknown;
}

export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  if (eq <= 0) {
    throw new ConfigError([
      {
        where: '--set',
        field: '',
        message: `expected key=value (e.g. algorithm.meta_iters=100), got "${text}"`,
      },
    ]);
  }
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1);
  let value: unknown;
  try {
    value = raw === '' ? '' : parseYaml(raw);
  } catch {
    value = raw;
  }
  return { path: key.split('.'), value };
}

/**
 * What goes into the config hash: everything that can change the numbers a run produces, leaving out the fields
 * of `hashNeutralDefaults` that hold their neutral default.
 */
export function hashableConfig(
  config: RunConfig,
): Omit<RunConfig, 'name' | 'workers' | 'checkpoint' | 'max_loss'> {
  const { name: _name, workers: _workers, checkpoint: _checkpoint, max_loss: _maxLoss, ...rest } = config;
  const without = <T extends object>(part: T, neutral: Record<string, unknown>): T =>
    Object.fromEntries(
      Object.entries(part).filter(([key, value]) => !(key in neutral && neutral[key] === value)),
    ) as T;
  return {
    ...rest,
    dataset: without(rest.dataset, hashNeutralDefaults.dataset),
    algorithm: without(rest.algorithm, hashNeutralDefaults.algorithm),
    eval: without(rest.eval, hashNeutralDefaults.eval),
  };
}

export function runIdFor(sweep: string, hash: string, seed: number): string {
  return `${sweep}-${hash}-s${seed}`;
}

interface Loader {
  sources: Map<string, SourceFile>;
  read(file: string): SourceFile;
}

function createLoader(): Loader {
  const sources = new Map<string, SourceFile>();
  return {
    sources,
    read(file) {
      const key = resolve(file);
      let source = sources.get(key);
      if (!source) {
        source = readSourceFile(key);
        sources.set(key, source);
      }
      return source;
    },
  };
}

/**
 * Merges include files (partial run configs, which may include others) into `layer`, in order, each file's own
 * includes first. Paths are relative to the including file.
 */
function applyIncludes(
  loader: Loader,
  layer: Layer,
  includes: unknown,
  from: SourceFile,
  at: Path,
  stack: string[],
): void {
  if (includes === undefined) return;
  const list = typeof includes === 'string' ? [includes] : includes;
  if (!Array.isArray(list) || list.some((f) => typeof f !== 'string')) {
    throw new ConfigError([
      { where: from.where(at), field: 'include', message: 'expected a file name or a list of file names' },
    ]);
  }
  for (const [i, name] of (list as string[]).entries()) {
    const file = resolve(dirname(from.path), name);
    const where = from.where(typeof includes === 'string' ? at : [...at, i]);
    if (stack.includes(file)) {
      const cycle = [...stack, file].map((f) => loader.sources.get(f)?.display ?? f).join(' -> ');
      throw new ConfigError([{ where, field: 'include', message: `include cycle: ${cycle}` }]);
    }
    let source: SourceFile;
    try {
      source = loader.read(file);
    } catch (error) {
      if (error instanceof ConfigError) {
        throw new ConfigError([
          { where, field: 'include', message: `cannot include "${name}": ${error.problems[0]?.message}` },
        ]);
      }
      throw error;
    }
    if (!isPlainObject(source.data)) {
      throw new ConfigError([
        {
          where: source.where([]),
          field: '',
          message: 'an include file must be a mapping of run config fields',
        },
      ]);
    }
    const { include: nested, ...fields } = source.data;
    applyIncludes(loader, layer, nested, source, ['include'], [...stack, file]);
    layer.merge([], fields, (sub) => source.where(sub));
  }
}

function toPath(path: readonly PropertyKey[]): Path {
  return path.map((k) => (typeof k === 'number' ? k : String(k)));
}

function cartesian(grid: Grid): Array<Array<[string, unknown, number]>> {
  let points: Array<Array<[string, unknown, number]>> = [[]];
  for (const [key, values] of Object.entries(grid)) {
    const next: Array<Array<[string, unknown, number]>> = [];
    for (const point of points)
      for (const [i, value] of values.entries()) next.push([...point, [key, value, i]]);
    points = next;
  }
  return points;
}

function draw(distribution: RandomDistribution, rng: ReturnType<typeof createRng>): unknown {
  // Four significant digits keep run names and tables readable without changing the search in any way that matters.
  const round = (v: number) => Number(v.toPrecision(4));
  if ('uniform' in distribution) return round(rng.uniform(distribution.uniform[0], distribution.uniform[1]));
  if ('log_uniform' in distribution) {
    const [lo, hi] = distribution.log_uniform;
    return round(Math.exp(rng.uniform(Math.log(lo), Math.log(hi))));
  }
  if ('int' in distribution)
    return distribution.int[0] + rng.int(distribution.int[1] - distribution.int[0] + 1);
  return structuredClone(distribution.choice[rng.int(distribution.choice.length)]);
}

function checkRandom(random: RandomSearch, source: SourceFile, at: Path): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [key, d] of Object.entries(random.fields)) {
    const range =
      'uniform' in d ? d.uniform : 'log_uniform' in d ? d.log_uniform : 'int' in d ? d.int : undefined;
    if (range && !(range[0] <= range[1])) {
      problems.push({
        where: source.where([...at, 'fields', key]),
        field: key,
        message: `empty range [${range[0]}, ${range[1]}]: the first bound must not exceed the second`,
      });
    }
  }
  return problems;
}

function label(key: string, value: unknown, index: number): string {
  const last = key.split('.').pop() as string;
  if (isPlainObject(value)) return typeof value.name === 'string' ? value.name : `${last}#${index}`;
  return `${last}=${Array.isArray(value) ? value.join('x') : String(value)}`;
}

function valueAtPath(config: unknown, path: string): unknown {
  let node = config;
  for (const key of path.split('.')) node = isPlainObject(node) ? node[key] : undefined;
  return node;
}

/** Fields the generated name already shows, so grid labels do not repeat them. */
const pathsInDefaultName = ['dataset.name', 'dataset.ways', 'dataset.shots', 'algorithm.name'];

function defaultName(config: Omit<RunConfig, 'name'>): string {
  const d = config.dataset;
  const data = d.name === 'omniglot' ? `omniglot-${d.ways}w${d.shots}s` : d.name;
  return `${data}/${config.algorithm.name}`;
}

/** Fills `{field.path}` placeholders in a run name from the resolved config. */
function nameFromTemplate(template: string, config: Omit<RunConfig, 'name'>): string {
  return template.replace(/\{([A-Za-z0-9_.]+)\}/g, (whole, path: string) => {
    const value = valueAtPath(config, path);
    return value === undefined || isPlainObject(value) ? whole : String(value);
  });
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
  const sweep = sweepSchema.parse({ name: o.sweep, seeds: o.seeds, runs: [source.data] });
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
