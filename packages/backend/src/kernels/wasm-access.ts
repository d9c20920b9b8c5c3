import type { TensorInfo } from '@tensorflow/tfjs-core';

/**
 * The parts of the wasm backend's emscripten module and backend object that our kernels use. The backend exposes
 * them publicly (its own kernels are written against them); they are typed here because its .d.ts hides some.
 */
interface WasmModule {
  /** The module's exports; `memory` is its WebAssembly.Memory, which the SIMD kernels import. */
  asm: { memory: object };
  HEAPF32: Float32Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
}

interface TensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: string;
  refCount: number;
}

export interface WasmBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: object): TensorData | undefined };
  makeOutput(shape: number[], dtype: 'float32' | 'int32' | 'bool'): TensorInfo;
  incRef(dataId: object): void;
  /** How many tensors share this data (tfjs frees it when the last one is disposed). */
  refCount(dataId: object): number;
}

export function asWasmBackend(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

/** Byte address of a tensor's first element in the wasm memory. */
export function byteOffset(backend: WasmBackend, info: TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (data === undefined) throw new Error('wasm kernel: tensor data is not on the wasm backend');
  return data.memoryOffset;
}

/** A float32 scratch region on the wasm heap (`index` counts floats), released with `freeScratch`. */
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
