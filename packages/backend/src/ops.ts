// Training ops with fused kernels on wasm and cpu (plain-tfjs fallbacks elsewhere).
export { adamUpdate } from './kernels/adam.ts';
export { batchNormRelu } from './kernels/batch-norm.ts';
export { dense } from './kernels/dense.ts';
export { denseSoftmaxCrossEntropy } from './kernels/dense-cross-entropy.ts';
export { embedding } from './kernels/embedding.ts';
export { lstm } from './kernels/lstm.ts';
export { meanSquaredError } from './kernels/mean-squared-error.ts';
export { sgdUpdate } from './kernels/sgd.ts';
export { softmaxCrossEntropy } from './kernels/softmax-cross-entropy.ts';
