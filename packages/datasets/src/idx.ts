import { gunzipSync } from 'node:zlib';

/** An array read from an IDX file (the format of the MNIST family): its dimensions and its bytes, row-major. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** IDX magic numbers of unsigned-byte arrays: 0x0000 08 <rank>. */
export const IDX_LABELS_MAGIC = 0x00000801;
export const IDX_IMAGES_MAGIC = 0x00000803;

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** The bytes of `file` with a gzip wrapper removed when there is one (detected by the gzip magic 1f 8b). */
export function gunzipIfNeeded(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw new Error(
      `${file}: not a readable gzip file (${error instanceof Error ? error.message : String(error)}); ` +
        'it may be truncated or damaged: delete it and fetch it again',
    );
  }
}

/**
 * Parses an IDX file of unsigned bytes (gzipped or not) whose rank must be `rank` (1 for labels, 3 for images).
 * Throws, naming `file`, when the magic number, rank or element type is wrong or the data are truncated or too long.
 */
export function parseIdx(bytes: Uint8Array, file: string, rank: 1 | 3): IdxArray {
  const raw = gunzipIfNeeded(bytes, file);
  const magic = rank === 1 ? IDX_LABELS_MAGIC : IDX_IMAGES_MAGIC;
  const what = rank === 1 ? 'labels' : 'images';
  if (raw.length < 4)
    throw new Error(`${file}: truncated: ${raw.length} bytes, an IDX file starts with a 4-byte magic number`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const found = view.getUint32(0);
  if (found !== magic)
    throw new Error(
      `${file}: wrong magic number ${hex(found)}; IDX ${what} of unsigned bytes start with ${hex(magic)} ` +
        `(is this the ${rank === 1 ? 'labels' : 'images'} file?)`,
    );
  const header = 4 + 4 * rank;
  if (raw.length < header)
    throw new Error(`${file}: truncated: ${raw.length} bytes, the header alone needs ${header}`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  const body = raw.length - header;
  if (body < size)
    throw new Error(
      `${file}: truncated: the header announces ${dims.join(' × ')} = ${size} bytes of data, the file holds ${body}`,
    );
  if (body > size)
    throw new Error(
      `${file}: ${body - size} bytes after the ${dims.join(' × ')} array the header announces; not an IDX file of this shape`,
    );
  return { dims, data: raw.subarray(header) };
}
