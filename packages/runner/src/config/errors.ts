import type { z } from 'zod';

/** One thing wrong with a config: where it is (file:line:col when known), which field, and what to do. */
export interface ConfigProblem {
  /** "experiments/bench.yaml:12:7", or a label such as "--set" when the value did not come from a file. */
  where: string;
  /** Dotted field path inside the run config, e.g. "algorithm.meta_iters" (empty for the whole file). */
  field: string;
  message: string;
  /** The run the problem was found in, when it is about one run. */
  run?: string;
}

/** A config that cannot be used. The message lists every problem found, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(problem: ConfigProblem): string {
  const field = problem.field ? ` ${problem.field}:` : '';
  const run = problem.run ? ` (run "${problem.run}")` : '';
  return `${problem.where}:${field} ${problem.message}${run}`;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  // JSON has no infinities: YAML reads a number too large for a double (1e400) as Infinity.
  if (typeof value === 'number' && !Number.isFinite(value))
    return Number.isNaN(value) ? 'NaN' : `${value} (a number too large to represent)`;
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let node = input;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

const typeNames: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  tuple: 'a list',
};

/** Turns one zod issue into a sentence that says what was found and what is allowed. */
export function describeIssue(
  issue: z.core.$ZodIssue,
  input: unknown,
  allowedKeys?: readonly string[],
): string {
  const found = valueAt(input, issue.path);
  switch (issue.code) {
    case 'invalid_type': {
      const expected = typeNames[issue.expected] ?? issue.expected;
      if (found === undefined) return `required field is missing (expected ${expected})`;
      return `expected ${expected}, got ${show(found)}`;
    }
    case 'invalid_value':
      return `invalid value ${show(found)}; allowed values: ${issue.values.map((v) => show(v)).join(', ')}`;
    case 'too_small': {
      if (issue.origin === 'array') return `needs at least ${issue.minimum} item(s), got ${show(found)}`;
      const op = issue.inclusive ? '>=' : '>';
      return `must be ${op} ${issue.minimum}, got ${show(found)}`;
    }
    case 'too_big': {
      if (issue.origin === 'array') return `allows at most ${issue.maximum} item(s), got ${show(found)}`;
      const op = issue.inclusive ? '<=' : '<';
      return `must be ${op} ${issue.maximum}, got ${show(found)}`;
    }
    case 'unrecognized_keys': {
      const allowed = allowedKeys ? `; allowed fields: ${allowedKeys.join(', ')}` : '';
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}${allowed}`;
    }
    case 'invalid_format':
      return `invalid value ${show(found)} (${issue.message})`;
    case 'invalid_union':
      return `invalid value ${show(found)}: ${issue.message}`;
    default:
      return `${issue.message} (got ${show(found)})`;
  }
}
