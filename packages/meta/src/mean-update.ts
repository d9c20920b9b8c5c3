/**
 * The meta-update that ends every Reptile-style iteration, in place. The sum over tasks is accumulated in float64
 * in the order given and rounded once to float32, so the result depends only on the sets and their order, never
 * on which thread produced them. Two forms, the two ways the papers write it:
 * - `'towards'` (Reptile): the sets are adapted parameters φ'_i, and φ ← φ + ε · (mean_i φ'_i − φ);
 * - `'along'` (first-order MAML, MAML): the sets are updates Δ_i, and φ ← φ + ε · mean_i Δ_i.
 */
export function meanUpdate(
  phi: Float32Array[],
  sets: Float32Array[][],
  epsilon: number,
  form: 'towards' | 'along',
): void {
  const what = form === 'towards' ? 'adapted parameter sets' : 'updates';
  if (sets.length === 0) throw new RangeError(`meanUpdate: no ${what} to average`);
  if (!Number.isFinite(epsilon)) throw new RangeError(`meanUpdate: epsilon must be finite, got ${epsilon}`);
  sets.forEach((set, task) => {
    if (set.length !== phi.length)
      throw new RangeError(
        `meanUpdate: task ${task} has ${set.length} parameter arrays, φ has ${phi.length}`,
      );
    set.forEach((array, j) => {
      if (array.length !== phi[j]!.length)
        throw new RangeError(
          `meanUpdate: task ${task}, parameter ${j} has ${array.length} values, φ has ${phi[j]!.length}`,
        );
    });
  });
  const scale = form === 'towards' ? 1 / sets.length : epsilon / sets.length;
  for (let j = 0; j < phi.length; j++) {
    const target = phi[j]!;
    for (let k = 0; k < target.length; k++) {
      let sum = 0;
      for (let i = 0; i < sets.length; i++) sum += sets[i]![j]![k]!;
      const current = target[k]!;
      target[k] = form === 'towards' ? current + epsilon * (sum * scale - current) : current + scale * sum;
    }
  }
}
