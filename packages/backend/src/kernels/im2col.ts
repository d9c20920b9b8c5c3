/**
 * Patch extraction for 2-D convolutions in NHWC layout. A convolution is a matrix product once every output
 * position's receptive field is laid out as a row ("im2col"); the gradients are products with those same rows.
 * Patch index k = (kh · filterWidth + kw) · inChannels + c matches the filter layout [fh, fw, inC, outC].
 */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/** Rows of the patch matrix: one per output position. */
export function patchRows(g: ConvGeometry): number {
  return g.batch * g.outHeight * g.outWidth;
}

/** Columns of the patch matrix: one per filter tap and input channel. */
export function patchCols(g: ConvGeometry): number {
  return g.filterHeight * g.filterWidth * g.inChannels;
}

/**
 * For filter tap (kh, kw), the offset in x (relative to the first element, in floats) of the input pixel each
 * output position reads, or -1 where that pixel is padding.
 */
function tapOffsets(g: ConvGeometry, kh: number, kw: number, out: Int32Array): void {
  const rowStride = g.inWidth * g.inChannels;
  const imageStride = g.inHeight * rowStride;
  let p = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      const ih = oh * g.strideHeight - g.padTop + kh * g.dilationHeight;
      const rowValid = ih >= 0 && ih < g.inHeight;
      for (let ow = 0; ow < g.outWidth; ow++) {
        const iw = ow * g.strideWidth - g.padLeft + kw * g.dilationWidth;
        out[p++] =
          rowValid && iw >= 0 && iw < g.inWidth ? n * imageStride + ih * rowStride + iw * g.inChannels : -1;
      }
    }
  }
}

/**
 * Transposed patch matrix: colT[k, p] (patchCols × patchRows), so that the filter gradient is the plain product
 * colT · dy. x and colT are float indices into `heap`.
 */
export function im2colTransposed(heap: Float32Array, x: number, colT: number, g: ConvGeometry): void {
  const rows = patchRows(g);
  const offsets = new Int32Array(rows);
  const c = g.inChannels;
  for (let kh = 0; kh < g.filterHeight; kh++) {
    for (let kw = 0; kw < g.filterWidth; kw++) {
      tapOffsets(g, kh, kw, offsets);
      const tapBase = colT + (kh * g.filterWidth + kw) * c * rows;
      for (let ci = 0; ci < c; ci++) {
        const row = tapBase + ci * rows;
        const src = x + ci;
        for (let p = 0; p < rows; p++) {
          const o = offsets[p] as number;
          heap[row + p] = o < 0 ? 0 : (heap[src + o] as number);
        }
      }
    }
  }
}

/** Patch matrix col[p, k] (patchRows × patchCols): the forward convolution is col · filter. */
export function im2col(heap: Float32Array, x: number, col: number, g: ConvGeometry): void {
  const rows = patchRows(g);
  const cols = patchCols(g);
  const offsets = new Int32Array(rows);
  const c = g.inChannels;
  for (let kh = 0; kh < g.filterHeight; kh++) {
    for (let kw = 0; kw < g.filterWidth; kw++) {
      tapOffsets(g, kh, kw, offsets);
      const tap = (kh * g.filterWidth + kw) * c;
      for (let p = 0; p < rows; p++) {
        const o = offsets[p] as number;
        const dst = col + p * cols + tap;
        if (o < 0) heap.fill(0, dst, dst + c);
        else heap.copyWithin(dst, x + o, x + o + c);
      }
    }
  }
}

/**
 * The adjoint of im2col: dx[pixel] = Σ over (p, k) reading that pixel of col[p, k]. Overwrites dx (inputs that no
 * output reads get 0).
 */
export function col2im(heap: Float32Array, col: number, dx: number, g: ConvGeometry): void {
  const rows = patchRows(g);
  const cols = patchCols(g);
  const c = g.inChannels;
  heap.fill(0, dx, dx + g.batch * g.inHeight * g.inWidth * c);
  const offsets = new Int32Array(rows);
  for (let kh = 0; kh < g.filterHeight; kh++) {
    for (let kw = 0; kw < g.filterWidth; kw++) {
      tapOffsets(g, kh, kw, offsets);
      const tap = (kh * g.filterWidth + kw) * c;
      for (let p = 0; p < rows; p++) {
        const o = offsets[p] as number;
        if (o < 0) continue;
        const src = col + p * cols + tap;
        const dst = dx + o;
        for (let ci = 0; ci < c; ci++)
          heap[dst + ci] = (heap[dst + ci] as number) + (heap[src + ci] as number);
      }
    }
  }
}

/** filterT[o, k] = filter[k, o]: the [outC, fh·fw·inC] matrix the input gradient multiplies by. */
export function transposeFilter(heap: Float32Array, filter: number, filterT: number, g: ConvGeometry): void {
  const k = patchCols(g);
  const o = g.outChannels;
  for (let row = 0; row < k; row++) {
    const src = filter + row * o;
    for (let col = 0; col < o; col++) heap[filterT + col * k + row] = heap[src + col] as number;
  }
}
