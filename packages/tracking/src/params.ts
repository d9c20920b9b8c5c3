import { validateMlflowKey, validateParamValue } from './names.ts';

export type ParamValue = string | number | boolean;

/**
 * Flattens a config into MLflow params: nested object keys are joined with `.`, arrays of plain values
 * become their JSON text (`[64,64]`), arrays holding objects are indexed (`layers.0.units`), `null` becomes
 * `"null"` and `undefined` is left out. Throws, naming the key, when a key or value breaks MLflow's rules.
 */
export function flattenParams(config: unknown): Record<string, ParamValue> {
  const params: Record<string, ParamValue> = {};
  const visit = (value: unknown, key: string): void => {
    if (value === undefined) return;
    if (value === null) {
      add(key, 'null');
    } else if (Array.isArray(value)) {
      if (value.some((item) => item !== null && typeof item === 'object')) {
        for (const [index, item] of value.entries()) visit(item, join(key, String(index)));
      } else {
        add(key, JSON.stringify(value));
      }
    } else if (typeof value === 'object') {
      for (const [child, item] of Object.entries(value)) visit(item, join(key, child));
    } else if (typeof value === 'string' || typeof value === 'boolean') {
      add(key, value);
    } else if (typeof value === 'number') {
      add(key, Number.isFinite(value) ? value : String(value));
    } else {
      throw new Error(
        `config field ${JSON.stringify(key)} has a ${typeof value} value; params need plain data`,
      );
    }
  };
  const add = (key: string, value: ParamValue): void => {
    if (key === '') throw new Error('config must be an object to flatten into params');
    validateMlflowKey('param', key);
    params[key] = value;
    validateParamValue(key, value);
  };
  visit(config, '');
  return params;
}

function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}
