/** Mean with a normal-approximation 95% confidence half-width: mean ± 1.96·σ/√n (σ: sample standard deviation). */
export interface MeanWithCi {
  mean: number;
  /** Half-width of the 95% interval. */
  ci95: number;
  std: number;
  n: number;
}

export function meanWithCi(values: ArrayLike<number>): MeanWithCi {
  const n = values.length;
  if (n === 0) throw new RangeError('meanWithCi: no values');
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i] as number;
  const mean = sum / n;
  if (n === 1) return { mean, ci95: Number.NaN, std: Number.NaN, n };
  let sq = 0;
  for (let i = 0; i < n; i++) sq += ((values[i] as number) - mean) ** 2;
  const std = Math.sqrt(sq / (n - 1));
  return { mean, ci95: (1.96 * std) / Math.sqrt(n), std, n };
}
