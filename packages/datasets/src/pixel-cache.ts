import { readFile } from 'node:fs/promises';
import { sha256Hex, writeFileAtomic } from './files.ts';

/**
 * Decoded images kept on disk in one binary file: an 8-byte magic, the JSON header's length (uint32 LE), the JSON
 * header, then the raw pixel bytes. The header records the pixels' sha256, so a damaged or truncated file is
 * detected and decoded again rather than trusted.
 */
export interface PixelCacheHeader {
  pixelsSha256: string;
}

export async function writePixelCache(
  path: string,
  magic: string,
  header: object,
  pixels: Uint8Array,
): Promise<PixelCacheHeader> {
  if (magic.length !== 8) throw new RangeError(`cache magic must be 8 characters, got "${magic}"`);
  const full = { ...header, pixelsSha256: sha256Hex(pixels) };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const prefix = Buffer.alloc(12);
  prefix.write(magic, 0, 'latin1');
  prefix.writeUInt32LE(json.length, 8);
  await writeFileAtomic(path, [prefix, json, pixels]);
  return full;
}

/** The header and pixels, or undefined when the file is missing, has another magic, or fails its checksum. */
export async function readPixelCache<H extends PixelCacheHeader>(
  path: string,
  magic: string,
): Promise<{ header: H; pixels: Uint8Array } | undefined> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch {
    return undefined;
  }
  if (buf.length < 12 || buf.toString('latin1', 0, 8) !== magic) return undefined;
  const jsonLength = buf.readUInt32LE(8);
  if (12 + jsonLength > buf.length) return undefined;
  let header: H;
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + jsonLength)) as H;
  } catch {
    return undefined;
  }
  const pixels = new Uint8Array(buf.buffer, buf.byteOffset + 12 + jsonLength, buf.length - 12 - jsonLength);
  if (sha256Hex(pixels) !== header.pixelsSha256) return undefined;
  return { header, pixels };
}
