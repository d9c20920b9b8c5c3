import {
  _FusedMatMul,
  type _FusedMatMulAttrs,
  BatchMatMul,
  type BatchMatMulAttrs,
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { simdKernels } from './simd/runtime.ts';
import { allocScratch, asWasmBackend, byteOffset, freeScratch, type WasmBackend } from './wasm-access.ts';

/**
 * Matrix products on the SIMD GEMM. The backend's own MatMul repacks B on every call (XNNPACK) and falls back to a
 * naive loop whenever an operand is transposed, which every dense-layer gradient does. Here transposeA is native
 * (the "tn" GEMM reads A stored transposed) and a transposed B is transposed once into scratch memory. Cases
 * outside this path (general batch broadcasting, other fused activations, PReLU) go to the backend's kernel.
 */

interface Product {
  a: TensorInfo;
  b: TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  bias?: TensorInfo | undefined;
  relu: boolean;
}

function matmulOnSimd(backend: WasmBackend, p: Product): TensorInfo | undefined {
  const simd = simdKernels(backend);
  const { a, b } = p;
  if (
    simd === undefined ||
    a.dtype !== 'float32' ||
    b.dtype !== 'float32' ||
    a.shape.length < 2 ||
    b.shape.length < 2
  )
    return undefined;
  const [aRows, aCols] = a.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const [m, k] = p.transposeA ? [aCols, aRows] : [aRows, aCols];
  const [kb, n] = p.transposeB ? [bCols, bRows] : [bRows, bCols];
  if (k !== kb)
    throw new Error(
      `MatMul: inner dimensions differ: [${a.shape}] × [${b.shape}] (transposeA ${p.transposeA}, transposeB ${p.transposeB})`,
    );
  const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  // Only equal batches or one shared side; other broadcasts keep the backend's kernel.
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
  if (p.bias !== undefined && (p.bias.shape.length !== 1 || p.bias.shape[0] !== n)) return undefined;
  const batchShape = (batchA >= batchB ? a : b).shape.slice(0, -2);
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([...batchShape, m, n], 'float32');
  const bT = p.transposeB ? allocScratch(backend, k * n) : undefined;
  try {
    const aBase = byteOffset(backend, a);
    const bBase = byteOffset(backend, b);
    const cBase = byteOffset(backend, out);
    const biasAddress = p.bias === undefined ? 0 : byteOffset(backend, p.bias);
    for (let i = 0; i < batch; i++) {
      const aAddress = aBase + (batchA === 1 ? 0 : i * m * k * 4);
      let bAddress = bBase + (batchB === 1 ? 0 : i * k * n * 4);
      if (bT !== undefined && (i === 0 || batchB !== 1)) {
        simd.transpose(bAddress, bT.index << 2, n, k); // B is stored [n×k]
      }
      if (bT !== undefined) bAddress = bT.index << 2;
      const gemm = p.transposeA ? simd.gemm_tn : simd.gemm_nn;
      gemm(aAddress, bAddress, cBase + i * m * n * 4, m, k, n, biasAddress, p.relu ? 1 : 0);
    }
  } finally {
    if (bT !== undefined) freeScratch(backend, bT);
  }
  return out;
}

/** Kernel configs that try the SIMD path first and otherwise call the backend's kernel registered before. */
export function wasmMatMulKernels(): KernelConfig[] {
  const original = (name: string): KernelConfig => {
    const config = getKernel(name, 'wasm');
    if (config === undefined) throw new Error(`the wasm backend has no ${name} kernel to fall back to`);
    return config;
  };
  const batchMatMulOriginal = original(BatchMatMul);
  const fusedOriginal = original(_FusedMatMul);
  const batchMatMulFallback = batchMatMulOriginal.kernelFunc;
  const fusedFallback = fusedOriginal.kernelFunc;
  const batchMatMul: KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
    return (
      matmulOnSimd(asWasmBackend(args.backend), { a, b, transposeA, transposeB, relu: false }) ??
      batchMatMulFallback(args)
    );
  };
  const fusedMatMul: KernelFunc = (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
    const { transposeA, transposeB, activation } = args.attrs as unknown as _FusedMatMulAttrs;
    if (a === undefined || b === undefined || preluActivationWeights !== undefined)
      return fusedFallback(args);
    if (activation !== 'linear' && activation !== 'relu') return fusedFallback(args);
    const product = { a, b, transposeA, transposeB, bias, relu: activation === 'relu' };
    return matmulOnSimd(asWasmBackend(args.backend), product) ?? fusedFallback(args);
  };
  // The originals' setup functions (which bind their wasm entry points) must still run when the backend starts.
  return [
    {
      kernelName: BatchMatMul,
      backendName: 'wasm',
      kernelFunc: batchMatMul,
      setupFunc: batchMatMulOriginal.setupFunc,
    },
    {
      kernelName: _FusedMatMul,
      backendName: 'wasm',
      kernelFunc: fusedMatMul,
      setupFunc: fusedOriginal.setupFunc,
    },
  ];
}
