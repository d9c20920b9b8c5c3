// Grid and random search over config fields.
import type { createRng } from '@reptile-bench/core';
import type { ConfigProblem } from './errors.ts';
import type { Path, SourceFile } from './layer.ts';
import type { Grid, RandomDistribution, RandomSearch } from './schema.ts';

/** Every point of a grid: one [key, value, index] per field, fields in order. */
export function cartesian(grid: Grid): Array<Array<[string, unknown, number]>> {
  let points: Array<Array<[string, unknown, number]>> = [[]];
  for (const [key, values] of Object.entries(grid)) {
    const next: Array<Array<[string, unknown, number]>> = [];
    for (const point of points)
      for (const [i, value] of values.entries()) next.push([...point, [key, value, i]]);
    points = next;
  }
  return points;
}

/** One draw of a random-search field. */
export function draw(distribution: RandomDistribution, rng: ReturnType<typeof createRng>): unknown {
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

/** Empty ranges of a random search, as problems naming the field. */
export function checkRandom(random: RandomSearch, source: SourceFile, at: Path): ConfigProblem[] {
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
