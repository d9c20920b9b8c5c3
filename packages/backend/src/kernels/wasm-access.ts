import type { TensorInfo } from '@tensorflow/tfjs-core';

/**
 * The parts of the wasm backend's emscripten module and backend object that our kernels use. The backend exposes
 * them publicly (its own kernels are written against them); they are typed here because its .d.ts hides some.
 */
interface WasmModule {
  HEAPF32: Float32Array;
  HEAP32: Int32Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  // biome-ignore format: one parameter per C argument
  __FusedMatMul(aId: number, aShape: number, aRank: number, bId: number, bShape: number, bRank: number,
    transposeA: number, transposeB: number, activation: number, biasId: number, preluId: number,
    leakyAlpha: number, outId: number): void;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

interface TensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: string;
}

export interface WasmBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: object): TensorData | undefined };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: 'float32' | 'int32' | 'bool'): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

export function asWasmBackend(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

/** Index into HEAPF32 of a float32 tensor's first element. */
export function f32Index(backend: WasmBackend, info: TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (data === undefined) throw new Error('wasm kernel: tensor data is not on the wasm backend');
  return data.memoryOffset >>> 2;
}

/** The heap as float32; fetch it again after anything that may allocate (memory growth detaches old views). */
export function heapF32(backend: WasmBackend): Float32Array {
  return backend.wasm.HEAPF32;
}

/** A float32 scratch region on the wasm heap, freed by `free`. */
export interface Scratch {
  index: number;
  size: number;
}

export function allocScratch(backend: WasmBackend, size: number): Scratch {
  const pointer = backend.wasm._malloc(Math.max(1, size) * 4) >>> 0;
  if (pointer === 0) throw new Error(`wasm kernel: out of memory allocating ${size} floats`);
  return { index: pointer >>> 2, size };
}

export function freeScratch(backend: WasmBackend, scratch: Scratch): void {
  backend.wasm._free(scratch.index << 2);
}

const shapeBuffers = new WeakMap<WasmModule, number>();

/** Two rank-3 shapes live in a small buffer allocated once per wasm instance. */
function shapeBuffer(backend: WasmBackend): number {
  let pointer = shapeBuffers.get(backend.wasm);
  if (pointer === undefined) {
    pointer = backend.wasm._malloc(6 * 4) >>> 0;
    shapeBuffers.set(backend.wasm, pointer);
  }
  return pointer;
}

/** Registers a heap range as a tensor id for one C call (XNNPACK reads tensors by id); see `releaseView`. */
function viewId(backend: WasmBackend, index: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, index << 2);
  return id;
}

/**
 * Drops a view id. The backend's C side then also deletes any XNNPACK operator cached for that id, which matters:
 * operators cache packed weights by id, and the memory behind a view is reused with other contents.
 */
function releaseView(backend: WasmBackend, id: number): void {
  backend.wasm.tfjs.disposeData(id);
}

/**
 * out[M×N] = a[M×K] · b[K×N] (+ bias[N]) with row-major operands at the given HEAPF32 indices, on XNNPACK's
 * fully-connected operator (the backend's fast path: batch 1, no transposes). `relu` clamps the result at 0.
 */
export function matmul(
  backend: WasmBackend,
  a: number,
  b: number,
  out: number,
  m: number,
  k: number,
  n: number,
  options: { bias?: number; relu?: boolean } = {},
): void {
  const shapes = shapeBuffer(backend);
  const heap32 = backend.wasm.HEAP32;
  const s = shapes >>> 2;
  heap32[s] = 1;
  heap32[s + 1] = m;
  heap32[s + 2] = k;
  heap32[s + 3] = 1;
  heap32[s + 4] = k;
  heap32[s + 5] = n;
  const aId = viewId(backend, a, m * k);
  const bId = viewId(backend, b, k * n);
  const outId = viewId(backend, out, m * n);
  const biasId = options.bias === undefined ? 0 : viewId(backend, options.bias, n);
  try {
    backend.wasm.__FusedMatMul(
      aId,
      shapes,
      3,
      bId,
      shapes + 12,
      3,
      0,
      0,
      options.relu ? 1 : 0,
      biasId,
      0,
      0,
      outId,
    );
  } finally {
    releaseView(backend, aId);
    releaseView(backend, bId);
    releaseView(backend, outId);
    if (biasId !== 0) releaseView(backend, biasId);
  }
}
