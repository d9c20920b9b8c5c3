// Small validators shared by every package: each names the field it checks and what was wrong.

/** Throws a RangeError naming `field` unless `value` is an integer ≥ `min`. */
export function requireInteger(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new RangeError(`${field} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return value;
}

/** Throws a RangeError naming `field` unless `value` is an integer > 0. */
export function requirePositiveInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
    throw new RangeError(`${field} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

/** Throws a RangeError naming `field` unless `value` is a finite number (> 0 when `positive`). */
export function requireNumber(value: unknown, field: string, positive = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (positive && value <= 0))
    throw new RangeError(
      `${field} must be a ${positive ? 'positive' : 'finite'} number, got ${JSON.stringify(value)}`,
    );
  return value;
}

/** Throws a RangeError naming `field` unless `value` is one of `allowed`. */
export function requireOneOf<const T extends string>(
  value: unknown,
  field: string,
  allowed: readonly T[],
): T {
  if (!allowed.includes(value as T))
    throw new RangeError(
      `${field} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${JSON.stringify(value)}`,
    );
  return value as T;
}

/** Throws a TypeError naming `field` unless `value` is true, false or absent (then `fallback`). */
export function requireFlag(value: unknown, field: string, fallback = false): boolean {
  if (value !== undefined && typeof value !== 'boolean')
    throw new TypeError(`${field} must be true or false, got ${JSON.stringify(value)}`);
  return value ?? fallback;
}

/** Mean of numbers (NaN for none). */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Number of elements of a tensor of `shape`. */
export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}
