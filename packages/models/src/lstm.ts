import { ops, tf } from '@reptile-bench/backend';
import { type Rng, requirePositiveInteger } from '@reptile-bench/core';
import { denseClassifierHead } from './losses.ts';
import { checkParams, glorotUniform, type Model, type ParamSpec } from './model.ts';

export interface LstmClassifierOptions {
  /** Token ids run from 0 (padding) to vocabSize − 1. */
  vocabSize: number;
  /** Tokens per example (sentences padded at the end with id 0). */
  maxLength: number;
  /** Output classes (default 2). */
  classes?: number;
  /** Embedding width (default 64). */
  embedding?: number;
  /** LSTM units per direction (default 64). */
  hidden?: number;
  /** A second LSTM reads each sentence backwards and the head sees both (default false). */
  bidirectional?: boolean;
  /**
   * What the head reads of each LSTM: its last hidden state ('last', default: the document's classifier) or each
   * unit's maximum over the sentence ('max': max-pooling over time, Conneau et al. 2017).
   */
  pool?: 'last' | 'max';
}

const positiveInt = (value: unknown, field: string) => requirePositiveInteger(value, `lstm: ${field}`);

/**
 * Orthogonal init (Saxe et al. 2014; Keras' default for recurrent kernels): the rows of a Gaussian matrix made
 * orthonormal by Gram–Schmidt in float64, i.e. Q of its QR decomposition with R's diagonal positive.
 */
export function orthogonalRows(rng: Rng, rows: number, cols: number): Float32Array {
  if (rows > cols)
    throw new RangeError(`orthogonalRows: ${rows} rows cannot be orthonormal in ${cols} columns`);
  const q = Array.from({ length: rows }, () => Float64Array.from({ length: cols }, () => rng.normal()));
  for (let i = 0; i < rows; i++) {
    const v = q[i] as Float64Array;
    for (let j = 0; j < i; j++) {
      const u = q[j] as Float64Array;
      let dot = 0;
      for (let k = 0; k < cols; k++) dot += (v[k] as number) * (u[k] as number);
      for (let k = 0; k < cols; k++) v[k] = (v[k] as number) - dot * (u[k] as number);
    }
    let norm = 0;
    for (let k = 0; k < cols; k++) norm += (v[k] as number) ** 2;
    norm = Math.sqrt(norm);
    for (let k = 0; k < cols; k++) v[k] = (v[k] as number) / norm;
  }
  const out = new Float32Array(rows * cols);
  q.forEach((row, i) => {
    out.set(row, i * cols);
  });
  return out;
}

/**
 * Token counts of a batch of id rows [batch, time] (float ids, padding 0 at the end), checking that nothing
 * follows the padding and that every id is a whole number inside the vocabulary.
 */
export function sentenceLengths(ids: Float32Array | Int32Array, time: number, vocabSize: number): Int32Array {
  const batch = ids.length / time;
  const lengths = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    let len = 0;
    for (let t = 0; t < time; t++) {
      const id = ids[b * time + t] as number;
      if (!(Number.isInteger(id) && id >= 0 && id < vocabSize))
        throw new Error(
          `lstm: example ${b} has token id ${id} at position ${t}; ids run from 0 to ${vocabSize - 1}`,
        );
      if (id === 0) continue;
      if (len !== t)
        throw new Error(
          `lstm: example ${b} has token id ${id} at position ${t}, after padding at position ${len}; pad sentences at the end`,
        );
      len = t + 1;
    }
    lengths[b] = len;
  }
  return lengths;
}

/**
 * The text classifier of the distillation experiment: token ids → embedding → LSTM (optionally a second one
 * reading backwards) → the last hidden state(s), or their maxima over time → dense layer to the class logits. Parameters: the embedding
 * table; per direction the input kernel [embedding, 4·hidden], the recurrent kernel [hidden, 4·hidden] and the
 * bias [4·hidden] (gates i, f, g, o); then the dense kernel and bias. Init as Keras: embedding U(−0.05, 0.05),
 * Glorot-uniform input kernels, orthogonal recurrent kernels, zero biases but 1 for the forget gate.
 */
export function createLstmClassifier(options: LstmClassifierOptions): Model {
  const vocabSize = positiveInt(options.vocabSize, 'vocabSize');
  const maxLength = positiveInt(options.maxLength, 'maxLength');
  const classes = positiveInt(options.classes ?? 2, 'classes');
  const width = positiveInt(options.embedding ?? 64, 'embedding');
  const hidden = positiveInt(options.hidden ?? 64, 'hidden');
  const bidirectional = options.bidirectional ?? false;
  if (typeof bidirectional !== 'boolean')
    throw new Error(`lstm: bidirectional must be true or false, got ${JSON.stringify(bidirectional)}`);
  const directions = bidirectional ? 2 : 1;
  const pool = options.pool ?? 'last';
  if (pool !== 'last' && pool !== 'max')
    throw new Error(`lstm: pool must be 'last' or 'max', got ${JSON.stringify(pool)}`);

  const paramSpecs: ParamSpec[] = [{ name: 'embedding/table', shape: [vocabSize, width] }];
  for (let d = 0; d < directions; d++) {
    const name = d === 0 ? 'lstm' : 'lstm_backward';
    paramSpecs.push({ name: `${name}/kernel`, shape: [width, 4 * hidden] });
    paramSpecs.push({ name: `${name}/recurrent`, shape: [hidden, 4 * hidden] });
    paramSpecs.push({ name: `${name}/bias`, shape: [4 * hidden] });
  }
  paramSpecs.push({ name: 'dense/kernel', shape: [directions * hidden, classes] });
  paramSpecs.push({ name: 'dense/bias', shape: [classes] });

  /** The last hidden state(s) or their maxima, [batch, directions · hidden]. */
  const features = (params: tf.Tensor[], x: tf.Tensor): tf.Tensor2D => {
    checkParams(
      model,
      params.map((p) => p.shape),
    );
    if (x.rank !== 2 || x.shape[1] !== maxLength)
      throw new Error(`lstm: input must be token ids [batch, ${maxLength}], got [${x.shape}]`);
    const batch = x.shape[0] as number;
    const lengths = sentenceLengths(x.dataSync() as Float32Array | Int32Array, maxLength, vocabSize);
    // Only the steps some sentence of this batch reaches are computed (padding never changes the result).
    const time = Math.max(1, ...lengths);
    const ids = tf.cast(time < maxLength ? tf.slice(x, [0, 0], [batch, time]) : x, 'int32');
    const embedded = ops.embedding(params[0] as tf.Tensor, tf.reshape(ids, [batch * time]));
    const lens = tf.tensor1d(lengths, 'int32');
    const states: tf.Tensor[] = [];
    for (let d = 0; d < directions; d++) {
      const [kernel, recurrent, bias] = params.slice(1 + 3 * d, 4 + 3 * d) as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
      ];
      const xProj = tf.reshape(ops.dense(embedded, kernel, bias), [batch, time, 4 * hidden]);
      states.push(ops.lstm(xProj, recurrent, lens, { reverse: d === 1, pool }));
    }

    return (states.length === 1 ? states[0] : tf.concat(states, 1)) as tf.Tensor2D;
  };

  const model: Model = {
    kind: 'lstm',
    task: 'classification',
    inputShape: [maxLength],
    outputSize: classes,
    paramSpecs,
    config: {
      kind: 'lstm',
      vocabSize,
      maxLength,
      classes,
      embedding: width,
      hidden,
      bidirectional,
      pool,
    },
    init(rng: Rng): Float32Array[] {
      return paramSpecs.map((spec) => {
        const size = spec.shape.reduce((a, b) => a * b, 1);
        const r = rng.derive(spec.name);
        if (spec.name === 'embedding/table') return r.fillUniform(new Float32Array(size), -0.05, 0.05);
        if (spec.name.endsWith('/recurrent')) return orthogonalRows(r, hidden, 4 * hidden);
        if (spec.name.endsWith('/kernel')) return glorotUniform(r, spec.shape);
        const bias = new Float32Array(size);
        if (spec.name !== 'dense/bias') bias.fill(1, hidden, 2 * hidden);
        return bias;
      });
    },
    ...denseClassifierHead(features),
  };
  return model;
}
