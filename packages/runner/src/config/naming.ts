// Run names: generated from the dataset and algorithm, from a `{field.path}` template, plus grid labels.
import { isPlainObject } from './layer.ts';
import type { RunConfig } from './schema.ts';

/** The short label of one grid or random value in a run name, e.g. `meta_step=0.5`. */
export function label(key: string, value: unknown, index: number): string {
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
export const pathsInDefaultName = ['dataset.name', 'dataset.ways', 'dataset.shots', 'algorithm.name'];

export function defaultName(config: Omit<RunConfig, 'name'>): string {
  const d = config.dataset;
  const data = d.name === 'omniglot' ? `omniglot-${d.ways}w${d.shots}s` : d.name;
  return `${data}/${config.algorithm.name}`;
}

/** Fills `{field.path}` placeholders in a run name from the resolved config. */
export function nameFromTemplate(template: string, config: Omit<RunConfig, 'name'>): string {
  return template.replace(/\{([A-Za-z0-9_.]+)\}/g, (whole, path: string) => {
    const value = valueAtPath(config, path);
    return value === undefined || isPlainObject(value) ? whole : String(value);
  });
}
