import { ops, tf } from '@reptile-bench/backend';
import { type Rng, requirePositiveInteger } from '@reptile-bench/core';
import { denseClassifierHead } from './losses.ts';
import { asBatch, checkParams, glorotUniform, type Model, type ParamSpec } from './model.ts';

export interface Conv4Options {
  ways: number;
  /** Per example [height, width, channels]; default [28, 28, 1] (Omniglot). */
  inputShape?: [number, number, number];
  /** Filters per convolution; default 64. */
  filters?: number;
}

/** Batch-norm epsilon of tf.layers.batch_normalization, which the reference implementation used. */
export const batchNormEpsilon = 1e-3;
const blocks = 4;

const positiveInt = (value: unknown, field: string) => requirePositiveInteger(value, `conv4: ${field}`);

/**
 * The few-shot Conv4 classifier: 4 × [conv 3×3, stride 2, 'same', with bias → batch norm with batch statistics →
 * ReLU] → flatten → dense. Parameters per block: kernel, bias, gamma, beta; then the dense kernel and bias.
 */
export function createConv4(options: Conv4Options): Model {
  const ways = positiveInt(options.ways, 'ways');
  const filters = positiveInt(options.filters ?? 64, 'filters');
  const shapeOption = options.inputShape ?? [28, 28, 1];
  if (!Array.isArray(shapeOption) || shapeOption.length !== 3)
    throw new Error(
      `conv4: inputShape must be [height, width, channels], got ${JSON.stringify(shapeOption)}`,
    );
  const inputShape = shapeOption.map((d, i) => positiveInt(d, `inputShape[${i}]`)) as [
    number,
    number,
    number,
  ];

  const paramSpecs: ParamSpec[] = [];
  let [height, width, channels] = inputShape;
  for (let b = 0; b < blocks; b++) {
    paramSpecs.push({ name: `conv${b}/kernel`, shape: [3, 3, channels, filters] });
    paramSpecs.push({ name: `conv${b}/bias`, shape: [filters] });
    paramSpecs.push({ name: `bn${b}/gamma`, shape: [filters] });
    paramSpecs.push({ name: `bn${b}/beta`, shape: [filters] });
    // 'same' padding with stride 2 keeps ceil(size / 2).
    height = Math.ceil(height / 2);
    width = Math.ceil(width / 2);
    channels = filters;
  }
  const flat = height * width * channels;
  paramSpecs.push({ name: 'dense/kernel', shape: [flat, ways] });
  paramSpecs.push({ name: 'dense/bias', shape: [ways] });

  /** The flattened output of the 4 blocks, [batch, flat]. */
  const features = (params: tf.Tensor[], x: tf.Tensor): tf.Tensor2D => {
    checkParams(
      model,
      params.map((p) => p.shape),
    );
    let h = asBatch(x, inputShape, 'conv4') as tf.Tensor4D;
    for (let b = 0; b < blocks; b++) {
      const [kernel, bias, gamma, beta] = params.slice(4 * b, 4 * b + 4) as [
        tf.Tensor4D,
        tf.Tensor1D,
        tf.Tensor1D,
        tf.Tensor1D,
      ];
      // The conv bias is added inside the fused batch-norm kernel (where the batch mean cancels it).
      const z = tf.conv2d(h, kernel, 2, 'same');
      h = ops.batchNormRelu(z, bias, gamma, beta, { epsilon: batchNormEpsilon }) as tf.Tensor4D;
    }
    return tf.reshape(h, [h.shape[0], flat]);
  };

  const model: Model = {
    kind: 'conv4',
    task: 'classification',
    inputShape: [...inputShape],
    outputSize: ways,
    paramSpecs,
    config: { kind: 'conv4', ways, inputShape: [...inputShape], filters },
    init(rng: Rng): Float32Array[] {
      return paramSpecs.map((spec) => {
        const size = spec.shape.reduce((a, b) => a * b, 1);
        if (spec.name.endsWith('/kernel')) return glorotUniform(rng.derive(spec.name), spec.shape);
        if (spec.name.endsWith('/gamma')) return new Float32Array(size).fill(1);
        return new Float32Array(size);
      });
    },
    ...denseClassifierHead(features),
  };
  return model;
}
