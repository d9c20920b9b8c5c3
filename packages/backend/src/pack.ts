/**
 * Several float32 arrays (a parameter list) in one buffer, so they cross threads in one piece: a SharedArrayBuffer
 * is shared without copying, a plain ArrayBuffer can be transferred (moved) without copying.
 */
export interface PackedArrays {
  buffer: ArrayBuffer | SharedArrayBuffer;
  /** Element count of each array, in order; they lie back to back from offset 0. */
  lengths: number[];
}

/** Copies the arrays into one new buffer (shared by default: readable by every worker at once). */
export function packArrays(
  arrays: readonly Float32Array[],
  options: { shared?: boolean } = {},
): PackedArrays {
  const lengths = arrays.map((a) => a.length);
  const bytes = lengths.reduce((sum, n) => sum + n, 0) * 4;
  const buffer = options.shared === false ? new ArrayBuffer(bytes) : new SharedArrayBuffer(bytes);
  let offset = 0;
  for (const array of arrays) {
    new Float32Array(buffer, offset * 4, array.length).set(array);
    offset += array.length;
  }
  return { buffer, lengths };
}

/** Views into the packed buffer (no copy): writes through them change the buffer. */
export function unpackArrays(packed: PackedArrays): Float32Array[] {
  const total = packed.lengths.reduce((sum, n) => sum + n, 0);
  if (total * 4 !== packed.buffer.byteLength)
    throw new Error(
      `unpackArrays: lengths sum to ${total} floats but the buffer holds ${packed.buffer.byteLength / 4}`,
    );
  let offset = 0;
  return packed.lengths.map((n) => {
    const view = new Float32Array(packed.buffer, offset * 4, n);
    offset += n;
    return view;
  });
}
