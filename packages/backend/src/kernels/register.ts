import {
  type GradConfig,
  getGradient,
  getKernel,
  type KernelConfig,
  registerGradient,
  registerKernel,
  unregisterGradient,
  unregisterKernel,
} from '@tensorflow/tfjs-core';
import { adamUpdateKernels } from './adam.ts';
import { batchNormReluGradient, batchNormReluKernels } from './batch-norm.ts';
import { wasmConvKernels } from './conv2d.ts';
import { denseGradient, denseKernels } from './dense.ts';
import { denseCrossEntropyGradient, denseCrossEntropyKernels } from './dense-cross-entropy.ts';
import { embeddingGradient, embeddingKernels } from './embedding.ts';
import { wasmIdentityKernel } from './identity.ts';
import { lstmGradient, lstmKernels } from './lstm.ts';
import { wasmMatMulKernels } from './matmul.ts';
import {
  meanSquaredErrorGradGradient,
  meanSquaredErrorGradient,
  meanSquaredErrorKernels,
} from './mean-squared-error.ts';
import { sgdUpdateKernels } from './sgd.ts';
import {
  softmaxCrossEntropyGradGradient,
  softmaxCrossEntropyGradient,
  softmaxCrossEntropyKernels,
} from './softmax-cross-entropy.ts';
import { wasmSumKernel } from './sum.ts';
import { tanhGradient } from './tanh.ts';

let registered = false;

/** Replaces a kernel registration (tfjs warns on double registration instead of replacing quietly). */
function replaceKernel(config: KernelConfig): void {
  if (getKernel(config.kernelName, config.backendName) !== undefined)
    unregisterKernel(config.kernelName, config.backendName);
  registerKernel(config);
}

function replaceGradient(config: GradConfig): void {
  if (getGradient(config.kernelName) !== undefined) unregisterGradient(config.kernelName);
  registerGradient(config);
}

/**
 * Registers the project's training kernels: the conv gradients, matrix products and leading-axis sums for wasm
 * (missing or slow there) and the fused batch norm, dense, cross-entropy and Adam kernels for wasm and cpu, with their
 * gradients, and a Tanh gradient that can be differentiated again (tanh.ts). Safe to call repeatedly.
 */
export function registerTrainingKernels(): void {
  if (registered) return;
  registered = true;
  for (const config of [
    ...wasmConvKernels,
    wasmIdentityKernel,
    // after the backend's own MatMul kernels are registered: they remain the fallback
    ...wasmMatMulKernels(),
    wasmSumKernel(),
    ...batchNormReluKernels,
    ...denseKernels,
    ...denseCrossEntropyKernels,
    ...softmaxCrossEntropyKernels,
    ...adamUpdateKernels,
    ...sgdUpdateKernels,
    ...meanSquaredErrorKernels,
    ...embeddingKernels,
    ...lstmKernels,
  ])
    replaceKernel(config);
  replaceGradient(batchNormReluGradient);
  replaceGradient(denseGradient);
  replaceGradient(denseCrossEntropyGradient);
  replaceGradient(softmaxCrossEntropyGradient);
  replaceGradient(meanSquaredErrorGradient);
  replaceGradient(meanSquaredErrorGradGradient);
  replaceGradient(softmaxCrossEntropyGradGradient);
  replaceGradient(tanhGradient);
  replaceGradient(embeddingGradient);
  replaceGradient(lstmGradient);
}
