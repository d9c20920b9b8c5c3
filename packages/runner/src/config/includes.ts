// Include files: partial run configs merged beneath a sweep's entries, each file's own includes first.
import { dirname, resolve } from 'node:path';
import { ConfigError } from './errors.ts';
import { isPlainObject, type Layer, type Path, readSourceFile, type SourceFile } from './layer.ts';

/** Reads each config file once, keeping the sources for error messages. */
export interface Loader {
  sources: Map<string, SourceFile>;
  read(file: string): SourceFile;
}

export function createLoader(): Loader {
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
export function applyIncludes(
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
          {
            where,
            field: 'include',
            message: `cannot include "${name}" (${file}): ${error.problems[0]?.message}`,
          },
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
