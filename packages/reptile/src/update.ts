/**
 * Reptile's meta-update, in place: φ ← φ + ε · (mean_i φ'_i − φ).
 *
 * The mean is accumulated in float64 over the tasks in the order given, then rounded once to float32, so the
 * result depends only on the adapted parameters and their order, never on which thread produced them.
 */
export function reptileUpdate(phi: Float32Array[], adapted: Float32Array[][], epsilon: number): void {
  if (adapted.length === 0) throw new RangeError('reptileUpdate: no adapted parameter sets to average');
  if (!Number.isFinite(epsilon))
    throw new RangeError(`reptileUpdate: epsilon must be finite, got ${epsilon}`);
  adapted.forEach((set, task) => {
    if (set.length !== phi.length)
      throw new RangeError(
        `reptileUpdate: task ${task} has ${set.length} parameter arrays, φ has ${phi.length}`,
      );
    set.forEach((array, j) => {
      if (array.length !== phi[j]!.length)
        throw new RangeError(
          `reptileUpdate: task ${task}, parameter ${j} has ${array.length} values, φ has ${phi[j]!.length}`,
        );
    });
  });
  const scale = 1 / adapted.length;
  for (let j = 0; j < phi.length; j++) {
    const target = phi[j]!;
    for (let k = 0; k < target.length; k++) {
      let sum = 0;
      for (let i = 0; i < adapted.length; i++) sum += adapted[i]![j]![k]!;
      const current = target[k]!;
      target[k] = current + epsilon * (sum * scale - current);
    }
  }
}
