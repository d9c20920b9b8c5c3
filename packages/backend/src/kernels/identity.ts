import { Identity, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { asWasmBackend } from './wasm-access.ts';

/**
 * Identity on wasm shares the input's memory (reference-counted) instead of copying it. tfjs clones every tensor
 * it saves for a gradient, and the backend's own Identity copies the data each time (~30 copies per Conv4 step).
 * Kernels never write to their inputs, so sharing is safe; the backend's Reshape shares memory the same way.
 */
const identity: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string') throw new Error('Identity on wasm: string tensors are not supported');
  asWasmBackend(backend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

export const wasmIdentityKernel: KernelConfig = {
  kernelName: Identity,
  backendName: 'wasm',
  kernelFunc: identity,
};
