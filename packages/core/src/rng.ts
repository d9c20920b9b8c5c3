import { createHash } from 'node:crypto';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/**
 * A seeded random stream. Every random choice in the project goes through one of these so that the same seed
 * gives the same numbers on every backend and machine (tfjs's own random ops are never used for that reason).
 */
export interface Rng {
  /** The labels this stream was derived with, for error messages and logs. */
  readonly path: string;
  /** Uniform in [0, 1) with 53 random bits. */
  float(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller, one draw per call for simplicity of replay). */
  normal(): number;
  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[];
  /** `k` distinct indices from [0, n), in random order. */
  sampleWithoutReplacement(n: number, k: number): number[];
  /** `k` indices from [0, n), drawn independently. */
  sampleWithReplacement(n: number, k: number): number[];
  /** Fills a Float32Array with uniform values in [lo, hi). */
  fillUniform(out: Float32Array, lo: number, hi: number): Float32Array;
  /**
   * An independent stream named by labels. Derivation depends only on the root seed and the labels, never on
   * how many numbers this stream has produced, so adding a draw somewhere cannot shift unrelated streams.
   */
  derive(...labels: Array<string | number>): Rng;
}

function stateFromLabels(path: string): number[] {
  const digest = createHash('sha256').update(path).digest();
  const words = [digest.readInt32LE(0), digest.readInt32LE(4), digest.readInt32LE(8), digest.readInt32LE(12)];
  // xoroshiro must not start from the all-zero state.
  return words.some((w) => w !== 0) ? words : [1, 0, 0, 0];
}

class SeededRng implements Rng {
  private readonly gen: JumpableRandomGenerator;
  constructor(readonly path: string) {
    this.gen = xoroshiro128plusFromState(stateFromLabels(path));
  }
  float(): number {
    return uniformFloat64(this.gen);
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0)
      throw new RangeError(`Rng.int: n must be a positive integer, got ${n}`);
    return uniformInt(this.gen, 0, n - 1);
  }
  normal(): number {
    const u1 = 1 - this.float(); // (0, 1]: log stays finite
    const u2 = this.float();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
  sampleWithoutReplacement(n: number, k: number): number[] {
    if (k > n) throw new RangeError(`cannot draw ${k} distinct items from ${n}`);
    // Partial Fisher-Yates over a sparse map: O(k) for any n.
    const swapped = new Map<number, number>();
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const vi = swapped.get(i) ?? i;
      const vj = swapped.get(j) ?? j;
      out.push(vj);
      swapped.set(j, vi);
    }
    return out;
  }
  sampleWithReplacement(n: number, k: number): number[] {
    return Array.from({ length: k }, () => this.int(n));
  }
  fillUniform(out: Float32Array, lo: number, hi: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(lo, hi);
    return out;
  }
  derive(...labels: Array<string | number>): Rng {
    return new SeededRng(`${this.path}/${labels.join('/')}`);
  }
}

/** The root stream for a seed. */
export function createRng(seed: number | string): Rng {
  if (typeof seed === 'number' && !Number.isFinite(seed))
    throw new RangeError(`seed must be finite, got ${seed}`);
  return new SeededRng(`seed:${seed}`);
}
