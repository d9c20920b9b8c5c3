import { type DecodedPng, decode as decodePngBytes, hasPngSignature } from 'fast-png';
import { decode as decodeJpegBytes } from 'jpeg-js';

/** A decoded image: `channels` (1 = gray, 3 = RGB) interleaved per pixel, row-major, values in [0, 1]. */
export interface Raster {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Float32Array;
}

/** How images are brought to the model's size. */
export type ResizeFilter = 'area' | 'nearest';

/** The PNG's samples one per array element: fast-png leaves depths below 8 packed, each row padded to a byte. */
function unpackedSamples(png: DecodedPng, name: string): ArrayLike<number> {
  const { width, height, depth, channels } = png;
  const perRow = width * channels;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const packed = depth < 8 && png.data.length === rowBytes * height;
  if (!packed && png.data.length === perRow * height) return png.data;
  if (!packed)
    throw new Error(`${name}: decoded PNG holds ${png.data.length} values, expected ${perRow * height}`);
  const out = new Uint8Array(perRow * height);
  const data = png.data;
  const perByte = 8 / depth;
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    const rowIn = y * rowBytes;
    const rowOut = y * perRow;
    // Whole bytes at a time: `perByte` samples each, most significant first.
    for (let b = 0; b < rowBytes; b++) {
      const byte = data[rowIn + b] as number;
      const base = b * perByte;
      const n = Math.min(perByte, perRow - base);
      for (let k = 0; k < n; k++) out[rowOut + base + k] = (byte >> (8 - depth * (k + 1))) & mask;
    }
  }
  return out;
}

/** Each byte's 8 pixels as 0/1 floats, most significant bit first. */
const BIT_TABLE = Float32Array.from({ length: 256 * 8 }, (_, i) => ((i >> 3) >> (7 - (i & 7))) & 1);

/** 1-bit gray PNGs (Omniglot's format) straight from packed rows to floats: the hot path of a cold load. */
function bilevel(png: DecodedPng, name: string): Raster {
  const { width, height, data } = png;
  const rowBytes = Math.ceil(width / 8);
  if (data.length !== rowBytes * height)
    throw new Error(`${name}: decoded PNG holds ${data.length} bytes, expected ${rowBytes * height}`);
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let b = 0; b < rowBytes; b++) {
      const bits = (data[y * rowBytes + b] as number) * 8;
      const start = y * width + b * 8;
      const n = Math.min(8, width - b * 8);
      for (let k = 0; k < n; k++) out[start + k] = BIT_TABLE[bits + k] as number;
    }
  }
  return { width, height, channels: 1, data: out };
}

/** PNG pixels as gray or RGB in [0, 1]; alpha is dropped after compositing onto white (transparent = paper). */
function rasterFromPng(png: DecodedPng, name: string): Raster {
  const { width, height, depth, channels, palette } = png;
  if (depth === 1 && channels === 1 && !palette) return bilevel(png, name);
  const max = (1 << depth) - 1;
  const pixels = width * height;
  const samples = unpackedSamples(png, name);
  if (palette) {
    const rgb = new Float32Array(pixels * 3);
    for (let p = 0; p < pixels; p++) {
      const entry = palette[samples[p] as number];
      if (entry === undefined) throw new Error(`${name}: palette index out of range`);
      const alpha = (entry[3] ?? 255) / 255;
      for (let ch = 0; ch < 3; ch++) rgb[p * 3 + ch] = ((entry[ch] as number) / 255) * alpha + (1 - alpha);
    }
    return { width, height, channels: 3, data: rgb };
  }
  const outChannels = channels >= 3 ? 3 : 1;
  const out = new Float32Array(pixels * outChannels);
  if (channels === outChannels) {
    // No alpha: a plain rescale (the common case, kept tight because Omniglot decodes 32,460 of these).
    for (let i = 0; i < out.length; i++) out[i] = (samples[i] as number) / max;
    return { width, height, channels: outChannels, data: out };
  }
  for (let p = 0; p < pixels; p++) {
    const alpha = (samples[p * channels + channels - 1] as number) / max;
    for (let ch = 0; ch < outChannels; ch++)
      out[p * outChannels + ch] = ((samples[p * channels + ch] as number) / max) * alpha + (1 - alpha);
  }
  return { width, height, channels: outChannels, data: out };
}

/** Decodes a PNG (any bit depth, gray/RGB/palette, with or without alpha), checking every chunk's CRC. */
export function decodePng(bytes: Uint8Array, name: string): Raster {
  let png: DecodedPng;
  try {
    png = decodePngBytes(bytes, { checkCrc: true });
  } catch (error) {
    throw new Error(
      `${name}: not a readable PNG (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  return rasterFromPng(png, name);
}

/** Decodes a baseline or progressive JPEG to RGB. */
export function decodeJpeg(bytes: Uint8Array, name: string): Raster {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = decodeJpegBytes(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false });
  } catch (error) {
    throw new Error(
      `${name}: not a readable JPEG (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const data = new Float32Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = (img.data[i] as number) / 255;
  if (data.length !== img.width * img.height * 3)
    throw new Error(
      `${name}: decoded JPEG holds ${data.length} values, expected ${img.width * img.height * 3}`,
    );
  return { width: img.width, height: img.height, channels: 3, data };
}

/** Decodes a PNG or JPEG, told apart by their signatures. */
export function decodeImage(bytes: Uint8Array, name: string): Raster {
  if (hasPngSignature(bytes)) return decodePng(bytes, name);
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return decodeJpeg(bytes, name);
  throw new Error(`${name}: neither a PNG nor a JPEG (unknown signature)`);
}

/** Luminance with ITU-R 601-2 weights (as Pillow's convert('L')); gray images are returned as they are. */
export function toGray(img: Raster): Raster {
  if (img.channels === 1) return img;
  const pixels = img.width * img.height;
  const data = new Float32Array(pixels);
  for (let p = 0; p < pixels; p++)
    data[p] =
      0.299 * (img.data[p * 3] as number) +
      0.587 * (img.data[p * 3 + 1] as number) +
      0.114 * (img.data[p * 3 + 2] as number);
  return { width: img.width, height: img.height, channels: 1, data };
}

/** Gray images repeated to three channels; RGB images are returned as they are. */
export function toRgb(img: Raster): Raster {
  if (img.channels === 3) return img;
  const data = new Float32Array(img.data.length * 3);
  for (let p = 0; p < img.data.length; p++) data.fill(img.data[p] as number, p * 3, p * 3 + 3);
  return { width: img.width, height: img.height, channels: 3, data };
}

/**
 * For each output index along one axis, the input indices it reads and their weights (summing to 1), flattened:
 * taps `first[j] .. first[j + 1]` of `index`/`weight` belong to output `j`.
 * `area`: the exact overlap of the output pixel's footprint with each input pixel (box filter / area averaging,
 * as Pillow's BOX and OpenCV's INTER_AREA when shrinking); `nearest`: the input pixel under the output pixel's
 * centre, floor((j + 0.5) · in / out), as Pillow's NEAREST.
 */
interface AxisTaps {
  first: Int32Array;
  index: Int32Array;
  weight: Float64Array;
}

function axisTaps(inSize: number, outSize: number, filter: ResizeFilter): AxisTaps {
  const scale = inSize / outSize;
  const index: number[] = [];
  const weight: number[] = [];
  const first = new Int32Array(outSize + 1);
  for (let j = 0; j < outSize; j++) {
    first[j] = index.length;
    if (filter === 'nearest') {
      index.push(Math.min(inSize - 1, Math.floor((j + 0.5) * scale)));
      weight.push(1);
      continue;
    }
    const lo = j * scale;
    const hi = (j + 1) * scale;
    for (let i = Math.floor(lo); i < Math.min(inSize, Math.ceil(hi)); i++) {
      const overlap = Math.min(hi, i + 1) - Math.max(lo, i);
      if (overlap > 0) {
        index.push(i);
        weight.push(overlap / scale);
      }
    }
  }
  first[outSize] = index.length;
  return { first, index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

const tapsCache = new Map<string, AxisTaps>();
function cachedTaps(inSize: number, outSize: number, filter: ResizeFilter): AxisTaps {
  const key = `${inSize}:${outSize}:${filter}`;
  let taps = tapsCache.get(key);
  if (!taps) {
    taps = axisTaps(inSize, outSize, filter);
    tapsCache.set(key, taps);
  }
  return taps;
}

/** Resizes to `height × width` with a separable filter (along rows, then along columns). */
export function resize(img: Raster, height: number, width: number, filter: ResizeFilter): Raster {
  const c = img.channels;
  const { first: fx, index: ix, weight: wx } = cachedTaps(img.width, width, filter);
  const { first: fy, index: iy, weight: wy } = cachedTaps(img.height, height, filter);
  const src = img.data;
  const rowIn = img.width * c;
  const rowOut = width * c;
  const tmp = new Float64Array(img.height * rowOut);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < width; x++) {
      const end = fx[x + 1] as number;
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let t = fx[x] as number; t < end; t++)
          acc += (wx[t] as number) * (src[y * rowIn + (ix[t] as number) * c + ch] as number);
        tmp[y * rowOut + x * c + ch] = acc;
      }
    }
  }
  const out = new Float32Array(height * rowOut);
  const acc = new Float64Array(rowOut);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    const end = fy[y + 1] as number;
    for (let t = fy[y] as number; t < end; t++) {
      const w = wy[t] as number;
      const from = (iy[t] as number) * rowOut;
      for (let i = 0; i < rowOut; i++) acc[i] = (acc[i] as number) + w * (tmp[from + i] as number);
    }
    out.set(acc, y * rowOut);
  }
  return { width, height, channels: c, data: out };
}

/**
 * Rotates a square HWC image counter-clockwise by `quarterTurns` × 90° (as Pillow's rotate(90·k), which the
 * paper's code uses). Writes into `out` at `offset`. Works on any numeric array so cached bytes need no copy.
 */
export function rotateInto(
  src: ArrayLike<number>,
  srcOffset: number,
  size: number,
  channels: number,
  quarterTurns: number,
  out: Float32Array,
  offset: number,
  scale = 1,
  shift = 0,
): void {
  const k = ((quarterTurns % 4) + 4) % 4;
  const last = size - 1;
  for (let r = 0; r < size; r++) {
    for (let col = 0; col < size; col++) {
      // Output pixel (r, col) comes from the source pixel that a counter-clockwise turn carries onto it.
      let sr: number;
      let sc: number;
      if (k === 0) [sr, sc] = [r, col];
      else if (k === 1) [sr, sc] = [col, last - r];
      else if (k === 2) [sr, sc] = [last - r, last - col];
      else [sr, sc] = [last - col, r];
      const s = srcOffset + (sr * size + sc) * channels;
      const d = offset + (r * size + col) * channels;
      for (let ch = 0; ch < channels; ch++) out[d + ch] = (src[s + ch] as number) * scale + shift;
    }
  }
}
