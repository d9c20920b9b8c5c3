import { ops, tf } from '@reptile-bench/backend';
import { type Rng, requirePositiveInteger } from '@reptile-bench/core';
import { denseClassifierHead } from './losses.ts';
import { asBatch, checkParams, glorotUniform, type Model, type ParamSpec } from './model.ts';

export interface CnnOptions {
  /** Per example [height, width, channels]: [28, 28, 1] for Fashion-MNIST, [32, 32, 3] for CIFAR-10. */
  inputShape: [number, number, number];
  classes: number;
  /** Filters of each convolution (3×3, stride 2, 'same', bias, ReLU); default [32, 64]. */
  filters?: number[];
  /** Units of the hidden dense layer (ReLU) before the output layer; 0 for none. Default 128. */
  hidden?: number;
}

const positiveInt = (value: unknown, field: string) => requirePositiveInteger(value, `cnn: ${field}`);

/**
 * A small image classifier for single-task training: convolutions of 3×3 with stride 2 and 'same' padding, each
 * with a bias and ReLU (no batch norm, so a prediction never depends on the rest of its batch), then a ReLU dense
 * layer and the output layer. Strided convolutions instead of pooling keep every op on the backend's fast
 * im2col + GEMM kernels. Parameters: per convolution kernel and bias, then (when hidden > 0) the hidden layer's
 * kernel and bias, then the output kernel and bias.
 */
export function createCnn(options: CnnOptions): Model {
  const shapeOption = options.inputShape;
  if (!Array.isArray(shapeOption) || shapeOption.length !== 3)
    throw new Error(`cnn: inputShape must be [height, width, channels], got ${JSON.stringify(shapeOption)}`);
  const inputShape = shapeOption.map((d, i) => positiveInt(d, `inputShape[${i}]`)) as [
    number,
    number,
    number,
  ];
  const classes = positiveInt(options.classes, 'classes');
  const filterOption = options.filters ?? [32, 64];
  if (!Array.isArray(filterOption) || filterOption.length === 0)
    throw new Error(`cnn: filters must be a non-empty array, got ${JSON.stringify(filterOption)}`);
  const filters = filterOption.map((f, i) => positiveInt(f, `filters[${i}]`));
  const hidden = options.hidden ?? 128;
  if (!Number.isInteger(hidden) || hidden < 0)
    throw new Error(`cnn: hidden must be an integer ≥ 0, got ${JSON.stringify(hidden)}`);

  const paramSpecs: ParamSpec[] = [];
  let [height, width, channels] = inputShape;
  filters.forEach((f, i) => {
    paramSpecs.push({ name: `conv${i}/kernel`, shape: [3, 3, channels, f] });
    paramSpecs.push({ name: `conv${i}/bias`, shape: [f] });
    // 'same' padding with stride 2 keeps ceil(size / 2).
    height = Math.ceil(height / 2);
    width = Math.ceil(width / 2);
    channels = f;
  });
  const flat = height * width * channels;
  if (hidden > 0) {
    paramSpecs.push({ name: 'hidden/kernel', shape: [flat, hidden] });
    paramSpecs.push({ name: 'hidden/bias', shape: [hidden] });
  }
  paramSpecs.push({ name: 'output/kernel', shape: [hidden > 0 ? hidden : flat, classes] });
  paramSpecs.push({ name: 'output/bias', shape: [classes] });
  const convs = filters.length;

  /** The input of the output layer, [batch, hidden or flat]. */
  const features = (params: tf.Tensor[], x: tf.Tensor): tf.Tensor2D => {
    checkParams(
      model,
      params.map((p) => p.shape),
    );
    let h = asBatch(x, inputShape, 'cnn') as tf.Tensor4D;
    for (let i = 0; i < convs; i++) {
      const kernel = params[2 * i] as tf.Tensor4D;
      const bias = params[2 * i + 1] as tf.Tensor1D;
      h = tf.relu(tf.add(tf.conv2d(h, kernel, 2, 'same'), bias)) as tf.Tensor4D;
    }
    let f = tf.reshape(h, [h.shape[0], flat]) as tf.Tensor2D;
    if (hidden > 0)
      f = tf.relu(ops.dense(f, params[2 * convs] as tf.Tensor, params[2 * convs + 1] as tf.Tensor));
    return f;
  };

  const model: Model = {
    kind: 'cnn',
    task: 'classification',
    inputShape: [...inputShape],
    outputSize: classes,
    paramSpecs,
    config: { kind: 'cnn', inputShape: [...inputShape], classes, filters: [...filters], hidden },
    init(rng: Rng): Float32Array[] {
      return paramSpecs.map((spec) =>
        spec.name.endsWith('/kernel')
          ? glorotUniform(rng.derive(spec.name), spec.shape)
          : new Float32Array(spec.shape.reduce((a, b) => a * b, 1)),
      );
    },
    ...denseClassifierHead(features),
  };
  return model;
}
