import type { MomentumSync } from './options.ts';

/**
 * Replaces every array of `replicas` (one per replica, all of one length) by their elementwise mean: summed in
 * float64 in replica order, divided once and rounded once (to float32 for Float32Arrays), so the result depends only on the values,
 * never on which thread computed them.
 */
export function averageInPlace(replicas: readonly (Float32Array | Float64Array)[]): void {
  const k = replicas.length;
  if (k === 0) throw new RangeError('averageInPlace: no replicas');
  const n = (replicas[0] as Float32Array | Float64Array).length;
  for (const r of replicas)
    if (r.length !== n) throw new RangeError(`averageInPlace: replicas of ${n} and ${r.length} values`);
  if (k === 1) return;
  for (let j = 0; j < n; j++) {
    let sum = 0;
    for (let r = 0; r < k; r++) sum += (replicas[r] as Float32Array | Float64Array)[j] as number;
    const mean = sum / k;
    for (let r = 0; r < k; r++) (replicas[r] as Float32Array | Float64Array)[j] = mean;
  }
}

/** The elementwise mean of `replicas` (same arithmetic as averageInPlace), as a new array. */
export function averageOf(replicas: readonly Float32Array[]): Float32Array {
  const k = replicas.length;
  if (k === 0) throw new RangeError('averageOf: no replicas');
  const n = (replicas[0] as Float32Array).length;
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let sum = 0;
    for (let r = 0; r < k; r++) sum += (replicas[r] as Float32Array)[j] as number;
    out[j] = sum / k;
  }
  return out;
}

/**
 * What an averaging does to the replicas: weights replaced by their mean; momentum buffers averaged too, zeroed
 * ('reset') or left to each replica ('local').
 */
export function synchronize(
  params: readonly (Float32Array | Float64Array)[],
  momenta: readonly (Float32Array | Float64Array)[],
  momentumSync: MomentumSync,
): void {
  averageInPlace(params);
  if (momenta.length === 0) return;
  if (momentumSync === 'average') averageInPlace(momenta);
  else if (momentumSync === 'reset') for (const m of momenta) m.fill(0);
}
