import { createHash } from 'node:crypto';
import { configure } from 'safe-stable-stringify';

const canonicalJson = configure({ deterministic: true, bigint: false, circularValue: Error });

/** JSON with sorted keys: the same value always gives the same text, whatever the key order it was built in. */
export function stableStringify(value: unknown): string {
  const text = canonicalJson(value);
  if (text === undefined) throw new TypeError('stableStringify: value has no JSON representation');
  return text;
}

/** sha256 of the canonical JSON, hex. */
export function hashValue(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex');
}

/** The short hash that names a configuration in run ids and file names (first 12 hex digits of sha256). */
export function configHash(config: unknown): string {
  return hashValue(config).slice(0, 12);
}
