import {
  backend_util,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import {
  type ConvGeometry,
  col2im,
  im2colTransposed,
  patchCols,
  patchRows,
  transposeFilter,
} from './im2col.ts';
import { allocScratch, asWasmBackend, f32Index, freeScratch, heapF32, matmul } from './wasm-access.ts';

function geometry(
  kernel: string,
  inShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: {
    strides: [number, number] | number;
    pad: Conv2DBackpropFilterAttrs['pad'];
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  },
): ConvGeometry {
  if (attrs.dataFormat !== 'NHWC')
    throw new Error(`${kernel} on wasm supports dataFormat NHWC only, got ${attrs.dataFormat}`);
  const info = backend_util.computeConv2DInfo(
    inShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
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

/** dFilter = patchesᵀ · dy: one transposed im2col written in JS, then one XNNPACK matrix product. */
const conv2DBackpropFilter: KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = asWasmBackend(anyBackend);
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as Conv2DBackpropFilterAttrs;
  const g = geometry(
    Conv2DBackpropFilter,
    x.shape as [number, number, number, number],
    a.filterShape as [number, number, number, number],
    a,
  );
  const rows = patchRows(g);
  const cols = patchCols(g);
  const out = backend.makeOutput([...a.filterShape], 'float32');
  const colT = allocScratch(backend, cols * rows);
  try {
    im2colTransposed(heapF32(backend), f32Index(backend, x), colT.index, g);
    matmul(backend, colT.index, f32Index(backend, dy), f32Index(backend, out), cols, rows, g.outChannels);
  } finally {
    freeScratch(backend, colT);
  }
  return out;
};

/** dx = col2im(dy · filterᵀ): one XNNPACK matrix product, then the patch gradients are summed back in JS. */
const conv2DBackpropInput: KernelFunc = ({ inputs, backend: anyBackend, attrs }) => {
  const backend = asWasmBackend(anyBackend);
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as Conv2DBackpropInputAttrs;
  const inShape = a.inputShape as [number, number, number, number];
  const g = geometry(Conv2DBackpropInput, inShape, filter.shape as [number, number, number, number], a);
  const rows = patchRows(g);
  const cols = patchCols(g);
  const out = backend.makeOutput([...inShape], 'float32');
  const filterT = allocScratch(backend, cols * g.outChannels);
  const patches = allocScratch(backend, rows * cols);
  try {
    transposeFilter(heapF32(backend), f32Index(backend, filter), filterT.index, g);
    matmul(backend, f32Index(backend, dy), filterT.index, patches.index, rows, g.outChannels, cols);
    col2im(heapF32(backend), patches.index, f32Index(backend, out), g);
  } finally {
    freeScratch(backend, filterT);
    freeScratch(backend, patches);
  }
  return out;
};

export const wasmConvGradientKernels: KernelConfig[] = [
  { kernelName: Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilter },
  { kernelName: Conv2DBackpropInput, backendName: 'wasm', kernelFunc: conv2DBackpropInput },
];
