import { tf } from '@reptile-bench/backend';
import { type Rng, sizeOf } from '@reptile-bench/core';

/** One parameter tensor of a model: its name (stable across versions, used in saved files) and shape. */
export interface ParamSpec {
  name: string;
  shape: number[];
}

/**
 * A functional model: it holds no weights. Parameters are a flat list in `paramSpecs` order, either host arrays
 * (for meta-learning arithmetic and transfer between threads) or tensors (for computing).
 */
export interface Model {
  readonly kind: 'mlp' | 'conv4' | 'cnn' | 'lstm';
  readonly task: 'classification' | 'regression';
  /** Per example: [28, 28, 1] for Omniglot, [1] for sine waves, [maxLength] token ids for text. */
  readonly inputShape: number[];
  /** Ways for classifiers, 1 for regression. */
  readonly outputSize: number;
  readonly paramSpecs: ParamSpec[];
  /** What the factory was given, with defaults filled in: `createModel(config)` rebuilds the same model. */
  readonly config: Record<string, unknown>;
  /** Fresh parameters: Glorot-uniform kernels, zero biases, batch-norm gamma 1 and beta 0 (TensorFlow's defaults). */
  init(rng: Rng): Float32Array[];
  /** Outputs [batch, outputSize]. Pure; batch norm always normalises with the statistics of this batch. */
  apply(params: tf.Tensor[], x: tf.Tensor): tf.Tensor;
  /** Mean softmax cross-entropy (y: int32 [batch]) or mean squared error (y: float32 [batch, 1] or [batch]). */
  loss(params: tf.Tensor[], x: tf.Tensor, y: tf.Tensor): tf.Scalar;
}

/** Glorot (Xavier) uniform: U(-l, l) with l = sqrt(6 / (fanIn + fanOut)), as tf.keras' default initializer. */
export function glorotUniform(rng: Rng, shape: readonly number[]): Float32Array {
  const receptive = sizeOf(shape.slice(0, -2));
  const fanIn = (shape.at(-2) ?? 1) * receptive;
  const fanOut = (shape.at(-1) ?? 1) * receptive;
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return rng.fillUniform(new Float32Array(sizeOf(shape)), -limit, limit);
}

/** Checks that `params` match the model's specs, naming the first mismatch. */
export function checkParams(
  model: Pick<Model, 'kind' | 'paramSpecs'>,
  shapes: ReadonlyArray<readonly number[]>,
): void {
  if (shapes.length !== model.paramSpecs.length)
    throw new Error(
      `${model.kind}: expected ${model.paramSpecs.length} parameter tensors, got ${shapes.length}`,
    );
  model.paramSpecs.forEach((spec, i) => {
    const shape = shapes[i] ?? [];
    if (shape.length !== spec.shape.length || shape.some((d, k) => d !== spec.shape[k]))
      throw new Error(
        `${model.kind}: parameter ${i} (${spec.name}) has shape [${shape}], expected [${spec.shape}]`,
      );
  });
}

/** Checks that host parameters fit `model` (count, Float32Array, length), naming `where` and the first misfit. */
export function checkParamArrays(model: Model, params: Float32Array[], where: string): void {
  if (!Array.isArray(params) || params.length !== model.paramSpecs.length)
    throw new RangeError(
      `${where}: expected ${model.paramSpecs.length} parameter arrays for the ${model.kind} model, got ${
        Array.isArray(params) ? params.length : typeof params
      }`,
    );
  model.paramSpecs.forEach((spec, i) => {
    const size = sizeOf(spec.shape);
    const array = params[i];
    if (!(array instanceof Float32Array) || array.length !== size)
      throw new RangeError(
        `${where}: parameter ${i} (${spec.name}, shape [${spec.shape}]) needs a Float32Array of ${size} values, got ${
          array instanceof Float32Array ? `${array.length} values` : typeof array
        }`,
      );
  });
}

/**
 * Reshapes x to [batch, ...inputShape] (accepts flattened examples too) as float32, with a clear error on a
 * mismatch. Tensors already in shape and float32 pass through without a kernel call.
 */
export function asBatch(x: tf.Tensor, inputShape: readonly number[], kind: string): tf.Tensor {
  const perExample = sizeOf(inputShape);
  const batch = x.shape[0] ?? 0;
  if (x.rank < 1 || sizeOf(x.shape.slice(1)) !== perExample)
    throw new Error(`${kind}: input of shape [${x.shape}] does not hold examples of shape [${inputShape}]`);
  const sameShape =
    x.rank === inputShape.length + 1 && inputShape.every((d, i) => d === (x.shape[i + 1] as number));
  const shaped = sameShape ? x : tf.reshape(x, [batch, ...inputShape]);
  return shaped.dtype === 'float32' ? shaped : tf.cast(shaped, 'float32');
}
