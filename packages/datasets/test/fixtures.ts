import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { zipSync } from 'fflate';

/** Entry time of fixture zips: the same files must give the same archive bytes. */
export const fixtureTime = new Date('2020-01-01T00:00:00Z');

/** A 1-bit PNG like Omniglot's: `ink(row, col)` true where there is ink (black, 0); white paper elsewhere. */
export function omniglotPng(size: number, ink: (row: number, col: number) => boolean): Uint8Array {
  const rowBytes = Math.ceil(size / 8);
  const data = new Uint8Array(rowBytes * size);
  for (let r = 0; r < size; r++)
    for (let c = 0; c < size; c++) if (!ink(r, c)) data[r * rowBytes + (c >> 3)]! |= 0x80 >> (c & 7);
  return encode({ width: size, height: size, data, depth: 1, channels: 1 });
}

/**
 * A block of ink whose position encodes (character, drawer), so tests can tell images apart, plus a lone dot in
 * the bottom-left corner that breaks every symmetry. At 105 px the block spans rows 7·(character mod 10) + [0, 21)
 * and columns 5·drawer + [0, 14); other sizes scale it.
 */
export function fixtureInk(character: number, drawer: number, size = 105) {
  const scale = size / 105;
  const r0 = Math.floor(7 * (character % 10) * scale);
  const c0 = Math.floor(5 * drawer * scale);
  const h = Math.ceil(21 * scale);
  const w = Math.ceil(14 * scale);
  return (r: number, c: number) =>
    (r >= r0 && r < r0 + h && c >= c0 && c < c0 + w) || (r === size - 1 && c === 0);
}

export interface FixtureSpec {
  /** Alphabet → number of characters, per archive. */
  background: Record<string, number>;
  evaluation: Record<string, number>;
  drawers?: number;
  size?: number;
}

/** Both archives in the official layout, as bytes. Character ids run across both sets, as in the release. */
export function omniglotArchives(
  spec: FixtureSpec,
): Record<'images_background.zip' | 'images_evaluation.zip', Uint8Array> {
  const drawers = spec.drawers ?? 3;
  const size = spec.size ?? 105;
  let id = 0;
  const build = (set: 'background' | 'evaluation') => {
    const files: Record<string, Uint8Array> = {};
    for (const [alphabet, characters] of Object.entries(spec[set])) {
      for (let ch = 1; ch <= characters; ch++) {
        id++;
        for (let d = 1; d <= drawers; d++) {
          const name = `images_${set}/${alphabet}/character${String(ch).padStart(2, '0')}/${String(id).padStart(4, '0')}_${String(d).padStart(2, '0')}.png`;
          files[name] = omniglotPng(size, fixtureInk(id, d, size));
        }
      }
    }
    return zipSync(files, { level: 6, mtime: fixtureTime });
  };
  return { 'images_background.zip': build('background'), 'images_evaluation.zip': build('evaluation') };
}

export function writeArchives(dir: string, archives: Record<string, Uint8Array>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(archives)) writeFileSync(join(dir, name), bytes);
}

export const SMALL_SPEC: FixtureSpec = {
  background: { Alpha: 3, Beta: 2 },
  evaluation: { Gamma: 2 },
};
