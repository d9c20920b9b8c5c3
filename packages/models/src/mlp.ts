import { tf } from '@reptile-bench/backend';
import { type Rng, requirePositiveInteger } from '@reptile-bench/core';
import { meanSquaredError, softmaxCrossEntropy } from './losses.ts';
import { asBatch, checkParams, glorotUniform, type Model, type ParamSpec } from './model.ts';

export interface MlpOptions {
  inputSize: number;
  hidden: number[];
  outputSize: number;
  activation?: 'tanh' | 'relu';
  /** Default: regression when outputSize is 1 (sine waves), classification otherwise. */
  task?: 'classification' | 'regression';
}

const positiveInt = (value: unknown, field: string) => requirePositiveInteger(value, `mlp: ${field}`);

/** A fully connected network: dense → activation for each hidden size, then a linear output layer. */
export function createMlp(options: MlpOptions): Model {
  const inputSize = positiveInt(options.inputSize, 'inputSize');
  const outputSize = positiveInt(options.outputSize, 'outputSize');
  if (!Array.isArray(options.hidden))
    throw new Error(`mlp: hidden must be an array of layer sizes, got ${JSON.stringify(options.hidden)}`);
  const hidden = options.hidden.map((h, i) => positiveInt(h, `hidden[${i}]`));
  const activation = options.activation ?? 'tanh';
  if (activation !== 'tanh' && activation !== 'relu')
    throw new Error(`mlp: activation must be 'tanh' or 'relu', got ${JSON.stringify(activation)}`);
  const task = options.task ?? (outputSize === 1 ? 'regression' : 'classification');
  if (task !== 'classification' && task !== 'regression')
    throw new Error(`mlp: task must be 'classification' or 'regression', got ${JSON.stringify(task)}`);

  const sizes = [inputSize, ...hidden, outputSize];
  const paramSpecs: ParamSpec[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const name = i + 1 < sizes.length - 1 ? `dense${i}` : 'output';
    paramSpecs.push({ name: `${name}/kernel`, shape: [sizes[i] as number, sizes[i + 1] as number] });
    paramSpecs.push({ name: `${name}/bias`, shape: [sizes[i + 1] as number] });
  }
  const inputShape = [inputSize];
  const layers = sizes.length - 1;

  const model: Model = {
    kind: 'mlp',
    task,
    inputShape,
    outputSize,
    paramSpecs,
    config: { kind: 'mlp', inputSize, hidden, outputSize, activation, task },
    init(rng: Rng): Float32Array[] {
      return paramSpecs.map((spec, i) =>
        i % 2 === 0
          ? glorotUniform(rng.derive(spec.name), spec.shape)
          : new Float32Array(spec.shape[0] as number),
      );
    },
    apply(params: tf.Tensor[], x: tf.Tensor): tf.Tensor {
      checkParams(
        model,
        params.map((p) => p.shape),
      );
      return tf.tidy(() => {
        let h = asBatch(x, inputShape, 'mlp');
        for (let l = 0; l < layers; l++) {
          const last = l === layers - 1;
          // tfjs has no fused tanh: fuse the bias (and relu), apply tanh on its own.
          h = tf.fused.matMul({
            a: h,
            b: params[2 * l] as tf.Tensor2D,
            bias: params[2 * l + 1],
            activation: !last && activation === 'relu' ? 'relu' : 'linear',
          });
          if (!last && activation === 'tanh') h = tf.tanh(h);
        }
        return h;
      });
    },
    loss(params: tf.Tensor[], x: tf.Tensor, y: tf.Tensor): tf.Scalar {
      return tf.tidy(() => {
        const out = model.apply(params, x);
        return task === 'classification' ? softmaxCrossEntropy(out, y) : meanSquaredError(out, y);
      });
    },
  };
  return model;
}
