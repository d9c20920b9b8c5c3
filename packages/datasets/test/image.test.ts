import { encode as encodePng } from 'fast-png';
import { encode as encodeJpeg } from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { decodeImage, type Raster, resize, rotateInto, toGray, toRgb } from '../src/index.ts';
import { omniglotPng } from './fixtures.ts';

const raster = (width: number, height: number, channels: 1 | 3, values: number[]): Raster => ({
  width,
  height,
  channels,
  data: Float32Array.from(values),
});

describe('resize', () => {
  it('averages exact areas, including fractional overlaps', () => {
    // 3 → 2 along x: each output covers 1.5 inputs: [a + b/2, b/2 + c] / 1.5.
    const out = resize(raster(3, 1, 1, [0.3, 0.6, 0.9]), 1, 2, 'area');
    expect(out.data[0]).toBeCloseTo((0.3 + 0.3) / 1.5, 6);
    expect(out.data[1]).toBeCloseTo((0.3 + 0.9) / 1.5, 6);
    // 4×4 → 2×2 is a plain 2×2 block mean, per channel.
    const values = Array.from({ length: 32 }, (_, i) => i);
    const rgb = resize(raster(4, 4, 1, values.slice(0, 16)), 2, 2, 'area');
    expect([...rgb.data]).toEqual([2.5, 4.5, 10.5, 12.5]);
    const two = resize(raster(2, 2, 3, [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]), 1, 1, 'area');
    expect([...two.data].map((v) => Number(v.toFixed(6)))).toEqual([0.5, 0.5, 0.5]);
  });

  it('keeps the mean ink of a 105 px image when shrinking to 28 px', () => {
    const img = raster(
      105,
      105,
      1,
      Array.from({ length: 105 * 105 }, (_, i) => ((i * 7919) % 13) / 12),
    );
    const mean = (d: Float32Array) => d.reduce((s, v) => s + v, 0) / d.length;
    expect(mean(resize(img, 28, 28, 'area').data)).toBeCloseTo(mean(img.data), 5);
  });

  it('picks the pixel under each output centre for nearest', () => {
    const out = resize(raster(5, 1, 1, [0, 1, 2, 3, 4]), 1, 2, 'nearest');
    // centres at (0.5 · 2.5, 1.5 · 2.5) = (1.25, 3.75) → inputs 1 and 3
    expect([...out.data]).toEqual([1, 3]);
  });
});

describe('rotateInto', () => {
  it('turns counter-clockwise by quarter turns', () => {
    const src = [1, 2, 3, 4, 5, 6, 7, 8, 9]; // rows: 1 2 3 / 4 5 6 / 7 8 9
    const turn = (k: number) => {
      const out = new Float32Array(9);
      rotateInto(src, 0, 3, 1, k, out, 0);
      return [...out];
    };
    expect(turn(0)).toEqual(src);
    expect(turn(1)).toEqual([3, 6, 9, 2, 5, 8, 1, 4, 7]);
    expect(turn(2)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(turn(3)).toEqual([7, 4, 1, 8, 5, 2, 9, 6, 3]);
    expect(turn(4)).toEqual(src);
    expect(turn(-1)).toEqual(turn(3));
  });
});

describe('decodeImage', () => {
  it('reads 1-bit PNGs as Omniglot stores them (white paper = 1)', () => {
    const png = omniglotPng(10, (r, c) => r === 2 && c < 9);
    const img = decodeImage(png, 'x.png');
    expect([img.width, img.height, img.channels]).toEqual([10, 10, 1]);
    for (let c = 0; c < 10; c++) expect(img.data[2 * 10 + c]).toBe(c < 9 ? 0 : 1);
    expect(img.data[0]).toBe(1);
  });

  it('reads 8- and 16-bit gray, RGB and RGBA PNGs to [0, 1]', () => {
    const gray8 = decodeImage(
      encodePng({ width: 2, height: 1, data: Uint8Array.from([0, 255]), channels: 1, depth: 8 }),
      'g',
    );
    expect([...gray8.data]).toEqual([0, 1]);
    const gray16 = decodeImage(
      encodePng({ width: 2, height: 1, data: Uint16Array.from([65535, 32768]), channels: 1, depth: 16 }),
      'g16',
    );
    expect(gray16.data[0]).toBe(1);
    expect(gray16.data[1]).toBeCloseTo(32768 / 65535, 6);
    const rgb = decodeImage(
      encodePng({ width: 1, height: 1, data: Uint8Array.from([255, 0, 51]), channels: 3, depth: 8 }),
      'c',
    );
    expect(rgb.channels).toBe(3);
    expect([...rgb.data].map((v) => Number(v.toFixed(6)))).toEqual([1, 0, 0.2]);
    // Half-transparent black over white paper is mid gray.
    const rgba = decodeImage(
      encodePng({
        width: 1,
        height: 1,
        data: Uint8Array.from([0, 0, 0, 255]),
        channels: 4,
        depth: 8,
      }),
      'a',
    );
    expect([...rgba.data]).toEqual([0, 0, 0]);
    const half = decodeImage(
      encodePng({ width: 1, height: 1, data: Uint8Array.from([0, 0, 0, 102]), channels: 4, depth: 8 }),
      'h',
    );
    expect(half.data[0]).toBeCloseTo(1 - 0.4, 6);
    expect(toGray(rgb).data[0]).toBeCloseTo(0.299 + 0.114 * 0.2, 6);
    expect([...toRgb(gray8).data]).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('reads JPEGs and rejects unknown bytes with the file name', () => {
    const w = 16;
    const data = new Uint8Array(w * w * 4);
    for (let i = 0; i < w * w; i++) data.set([200, 40, 40, 255], i * 4);
    const jpeg = encodeJpeg({ width: w, height: w, data }, 95).data;
    const img = decodeImage(new Uint8Array(jpeg), 'red.jpg');
    expect([img.width, img.height, img.channels]).toEqual([16, 16, 3]);
    expect(img.data[0]).toBeCloseTo(200 / 255, 1);
    expect(img.data[1]).toBeCloseTo(40 / 255, 1);
    expect(() => decodeImage(Uint8Array.from([1, 2, 3, 4]), 'junk.bin')).toThrow(
      /junk\.bin: neither a PNG nor a JPEG/,
    );
    const png = omniglotPng(8, () => false);
    expect(() => decodeImage(png.subarray(0, 40), 'cut.png')).toThrow(/cut\.png: not a readable PNG/);
  });
});
