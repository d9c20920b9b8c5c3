import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { type Document, isMap, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import { ConfigError } from './errors.ts';

export type Path = Array<string | number>;
export type PlainObject = Record<string, unknown>;

/** A parsed YAML file that can say on which line a value sits. */
export interface SourceFile {
  /** Absolute path. */
  path: string;
  /** Path relative to the working directory, for messages. */
  display: string;
  data: unknown;
  /** "file:line:col" of the value (or key) at `path` inside this file, or just the file when not found. */
  where(path: Path, key?: boolean): string;
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

export function readSourceFile(file: string): SourceFile {
  const path = resolve(file);
  const display = displayPath(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(error);
    throw new ConfigError([{ where: display, field: '', message: `cannot read config: ${reason}` }]);
  }
  const lineCounter = new LineCounter();
  // `merge`: YAML merge keys (`<<: *anchor`) let a file reuse a mapping it defined once.
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          where: pos ? `${display}:${pos.line}:${pos.col}` : display,
          field: '',
          message: `invalid YAML: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
        };
      }),
    );
  }
  const data = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  return {
    path,
    display,
    data,
    where(at: Path, key = false): string {
      const offset = offsetOf(doc, at, key);
      if (offset === undefined) return display;
      const { line, col } = lineCounter.linePos(offset);
      return `${display}:${line}:${col}`;
    },
  };
}

/** Character offset of the node at `path` (or of its key in the parent mapping). */
function offsetOf(doc: Document, path: Path, key: boolean): number | undefined {
  if (path.length === 0) return doc.contents?.range?.[0];
  if (key) {
    const parent = doc.getIn(path.slice(0, -1), true);
    if (isMap(parent)) {
      const last = path[path.length - 1];
      const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === last);
      const keyNode = pair?.key as { range?: [number, number, number] } | undefined;
      if (keyNode?.range) return keyNode.range[0];
    }
  }
  const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
  if (node && typeof node === 'object' && node.range) return node.range[0];
  // Fall back to the closest enclosing node that exists.
  return path.length > 1 ? offsetOf(doc, path.slice(0, -1), key) : undefined;
}

export function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A partial run config plus where each of its values came from, so that a validation error can name the file
 * and line that set the offending value even when it came through an include or the defaults.
 */
export class Layer {
  readonly data: PlainObject = {};
  /** Dotted config path → "file:line:col" (or a label) of the value that set it last. */
  readonly origins = new Map<string, string>();

  clone(): Layer {
    const copy = new Layer();
    Object.assign(copy.data, structuredClone(this.data));
    for (const [k, v] of this.origins) copy.origins.set(k, v);
    return copy;
  }

  /**
   * Deep-merges `value` at config path `at`: mappings merge key by key, anything else (scalars, lists) replaces.
   * `origin(subPath)` says where the value at `subPath` (relative to `value`) was written.
   */
  merge(at: string[], value: unknown, origin: (sub: Path) => string): void {
    if (at.length === 0) {
      if (!isPlainObject(value)) throw new TypeError('Layer.merge: the root must be a mapping');
      for (const [k, v] of Object.entries(value)) this.merge([k], v, (sub) => origin([k, ...sub]));
      return;
    }
    let parent = this.data;
    for (const [i, key] of at.slice(0, -1).entries()) {
      const next = parent[key];
      if (!isPlainObject(next)) {
        parent[key] = {};
        this.forget(at.slice(0, i + 1));
      }
      parent = parent[key] as PlainObject;
    }
    const last = at[at.length - 1] as string;
    const dotted = at.join('.');
    if (isPlainObject(value)) {
      if (!isPlainObject(parent[last])) {
        this.forget(at);
        parent[last] = {};
      }
      this.origins.set(dotted, origin([]));
      for (const [k, v] of Object.entries(value)) this.merge([...at, k], v, (sub) => origin([k, ...sub]));
    } else {
      this.forget(at);
      parent[last] = structuredClone(value);
      this.origins.set(dotted, origin([]));
    }
  }

  /** Removes a key (e.g. a hyperparameter of another algorithm) and its origins. */
  delete(at: string[]): void {
    let parent: unknown = this.data;
    for (const key of at.slice(0, -1)) parent = isPlainObject(parent) ? parent[key] : undefined;
    if (isPlainObject(parent)) delete parent[at[at.length - 1] as string];
    this.forget(at);
  }

  /** Where the value at a dotted path (or its closest set ancestor) came from. */
  originOf(path: Array<string | number>, fallback: string): string {
    for (let n = path.length; n > 0; n--) {
      const origin = this.origins.get(path.slice(0, n).join('.'));
      if (origin) return origin;
    }
    return fallback;
  }

  private forget(at: string[]): void {
    const dotted = at.join('.');
    for (const key of [...this.origins.keys()])
      if (key === dotted || key.startsWith(`${dotted}.`)) this.origins.delete(key);
  }
}
