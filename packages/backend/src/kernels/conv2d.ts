import {
  backend_util,
  Conv2D,
  type Conv2DAttrs,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { type SimdKernels, simdKernels } from './simd/runtime.ts';
import {
  allocScratch,
  asWasmBackend,
  byteOffset,
  freeScratch,
  type Scratch,
  type WasmBackend,
} from './wasm-access.ts';

/**
 * 2-D convolution and its two gradients for the wasm backend, all as one patch extraction ("im2col") plus one
 * matrix product on the SIMD kernels:
 *   forward        y[P×O]     = patches[P×K] · filter[K×O]
 *   filter grad   dF[K×O]     = patchesᵀ · dy         (patches kept from the forward pass)
 *   input grad    dx          = col2im(dy · filterᵀ)  (patch gradients summed back onto pixels)
 * with P output positions, K = fh·fw·inC patch length and O output channels. NHWC only; any stride, padding
 * ('same', 'valid', explicit) and dilation.
 */

interface Geometry {
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

type Pad = Conv2DAttrs['pad'];
type Rounding = Conv2DAttrs['dimRoundingMode'];

function geometry(
  kernel: string,
  inShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: Pad,
  dataFormat: string,
  dimRoundingMode: Rounding,
): Geometry {
  if (dataFormat !== 'NHWC')
    throw new Error(`${kernel} on wasm supports dataFormat NHWC only, got ${dataFormat}`);
  const info = backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

const positions = (g: Geometry) => g.batch * g.outHeight * g.outWidth;
const patchLength = (g: Geometry) => g.filterHeight * g.filterWidth * g.inChannels;

// biome-ignore format: keeps the argument order of the wasm functions visible
const geometryArgs = (g: Geometry) => [g.batch, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth,
  g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.dilationHeight, g.dilationWidth, g.padTop,
  g.padLeft] as const;

function kernelsOf(backend: WasmBackend, kernel: string): SimdKernels {
  const simd = simdKernels(backend);
  if (simd === undefined)
    throw new Error(`${kernel} on wasm needs the SIMD kernels: select the backend with initBackend('wasm')`);
  return simd;
}

/**
 * Patch matrices built by forward convolutions, kept for the filter gradient: training runs the forward, then
 * Conv2DBackpropFilter(x, dy) on the same x, which would rebuild the same patches. Keyed by x's data id (tfjs never
 * reuses one, and the data behind it never changes) plus the geometry; at most `patchCacheSize` are kept (the
 * oldest is freed), so inference-only use holds a few megabytes at most.
 */
const patchCacheSize = 8;
const patchCaches = new WeakMap<WasmBackend, Map<object, { geometry: string; patches: Scratch }>>();

function patchCacheOf(backend: WasmBackend) {
  let cache = patchCaches.get(backend);
  if (cache === undefined) {
    cache = new Map();
    patchCaches.set(backend, cache);
  }
  return cache;
}

function buildPatches(backend: WasmBackend, simd: SimdKernels, x: TensorInfo, g: Geometry): Scratch {
  const patches = allocScratch(backend, positions(g) * patchLength(g));
  simd.im2col(byteOffset(backend, x), patches.index << 2, ...geometryArgs(g));
  return patches;
}

/** Keeps the patches of x for a later filter gradient, freeing the oldest kept ones beyond the bound. */
function keepPatches(backend: WasmBackend, x: TensorInfo, g: Geometry, patches: Scratch): void {
  const cache = patchCacheOf(backend);
  const previous = cache.get(x.dataId);
  if (previous !== undefined) freeScratch(backend, previous.patches);
  cache.delete(x.dataId);
  cache.set(x.dataId, { geometry: geometryArgs(g).join(','), patches });
  for (const [dataId, entry] of cache) {
    if (cache.size <= patchCacheSize) break;
    freeScratch(backend, entry.patches);
    cache.delete(dataId);
  }
}

/** The kept patches of x for this geometry (removed from the cache: the caller frees them), or undefined. */
function takePatches(backend: WasmBackend, x: TensorInfo, g: Geometry): Scratch | undefined {
  const cache = patchCacheOf(backend);
  const entry = cache.get(x.dataId);
  if (entry === undefined || entry.geometry !== geometryArgs(g).join(',')) return undefined;
  cache.delete(x.dataId);
  return entry.patches;
}

const conv2d: KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = asWasmBackend(anyBackend);
  const simd = kernelsOf(backend, Conv2D);
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as Conv2DAttrs;
  const g = geometry(
    Conv2D,
    x.shape,
    filter.shape,
    a.strides,
    a.dilations,
    a.pad,
    a.dataFormat,
    a.dimRoundingMode,
  );
  const out = backend.makeOutput([g.batch, g.outHeight, g.outWidth, g.outChannels], 'float32');
  const patches = buildPatches(backend, simd, x, g);
  try {
    // biome-ignore format: one argument per GEMM parameter
    simd.gemm_nn(patches.index << 2, byteOffset(backend, filter), byteOffset(backend, out), positions(g),
      patchLength(g), g.outChannels, 0, 0);
  } catch (error) {
    freeScratch(backend, patches);
    throw error;
  }
  keepPatches(backend, x, g, patches);
  return out;
};

const conv2DBackpropFilter: KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = asWasmBackend(anyBackend);
  const simd = kernelsOf(backend, Conv2DBackpropFilter);
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as Conv2DBackpropFilterAttrs;
  const g = geometry(
    Conv2DBackpropFilter,
    x.shape,
    a.filterShape,
    a.strides,
    1,
    a.pad,
    a.dataFormat,
    a.dimRoundingMode,
  );
  const out = backend.makeOutput([...a.filterShape], 'float32');
  const patches = takePatches(backend, x, g) ?? buildPatches(backend, simd, x, g);
  try {
    // patchesᵀ·dy, reading the patches as stored ("tn": K-chunked, faster than transposing them first).
    // biome-ignore format: one argument per GEMM parameter
    simd.gemm_tn(patches.index << 2, byteOffset(backend, dy), byteOffset(backend, out), patchLength(g),
      positions(g), g.outChannels, 0, 0);
  } finally {
    freeScratch(backend, patches);
  }
  return out;
};

const conv2DBackpropInput: KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = asWasmBackend(anyBackend);
  const simd = kernelsOf(backend, Conv2DBackpropInput);
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as Conv2DBackpropInputAttrs;
  const g = geometry(
    Conv2DBackpropInput,
    a.inputShape,
    filter.shape,
    a.strides,
    1,
    a.pad,
    a.dataFormat,
    a.dimRoundingMode,
  );
  const k = patchLength(g);
  const out = backend.makeOutput([...a.inputShape], 'float32');
  const filterT = allocScratch(backend, k * g.outChannels);
  const patchGrads = allocScratch(backend, positions(g) * k);
  try {
    simd.transpose(byteOffset(backend, filter), filterT.index << 2, k, g.outChannels);
    simd.gemm_nn(
      byteOffset(backend, dy),
      filterT.index << 2,
      patchGrads.index << 2,
      positions(g),
      g.outChannels,
      k,
      0,
      0,
    );
    simd.col2im(patchGrads.index << 2, byteOffset(backend, out), ...geometryArgs(g));
  } finally {
    freeScratch(backend, filterT);
    freeScratch(backend, patchGrads);
  }
  return out;
};

export const wasmConvKernels: KernelConfig[] = [
  { kernelName: Conv2D, backendName: 'wasm', kernelFunc: conv2d },
  { kernelName: Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilter },
  { kernelName: Conv2DBackpropInput, backendName: 'wasm', kernelFunc: conv2DBackpropInput },
];
