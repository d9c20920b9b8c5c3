import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.ts';

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
