import * as tf from '@tensorflow/tfjs-core';
import { type TypedKernel, typedKernelConfigs } from './typed-kernel.ts';

/**
 * An embedding lookup: rows of `table` [vocab, dim] picked by integer `ids` (any shape), out [...ids.shape, dim].
 * tfjs's gather has a gradient built on UnsortedSegmentSum, which the wasm backend lacks, so a text model could
 * not be trained there; here the gradient is one kernel that adds each output row's gradient into the table row
 * it came from (in id order, so the sums are the same on every backend). The gradient kernel has none of its own.
 */
export const embeddingName = 'EmbeddingLookup';
export const embeddingGradName = 'EmbeddingLookupGrad';

type NoAttrs = Record<string, never>;

function checkIds(ids: Int32Array | Float32Array, vocab: number, op: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (!(id >= 0 && id < vocab && Number.isInteger(id)))
      throw new Error(`${op}: id ${id} at position ${i} is outside the table's ${vocab} rows`);
  }
}

const forward: TypedKernel<NoAttrs> = {
  name: embeddingName,
  outputShapes: ({ table, ids }) => [[...(ids?.shape ?? []), table?.shape[1] ?? 0]],
  compute({ table, ids }, [out], shapes) {
    const [vocab, dim] = shapes.table as [number, number];
    const t = table as Float32Array;
    const o = out as Float32Array;
    const list = ids as Int32Array;
    checkIds(list, vocab, 'embedding');
    for (let i = 0; i < list.length; i++) {
      const row = (list[i] as number) * dim;
      o.set(t.subarray(row, row + dim), i * dim);
    }
  },
};

const backward: TypedKernel<NoAttrs> = {
  name: embeddingGradName,
  outputShapes: ({ table }) => [table?.shape ?? []],
  compute({ dy, ids }, [dtable], shapes) {
    const [vocab, dim] = shapes.table as [number, number];
    const d = dy as Float32Array;
    const out = dtable as Float32Array;
    const list = ids as Int32Array;
    checkIds(list, vocab, 'embedding gradient');
    out.fill(0);
    for (let i = 0; i < list.length; i++) {
      const row = (list[i] as number) * dim;
      for (let k = 0; k < dim; k++) out[row + k] = (out[row + k] as number) + (d[i * dim + k] as number);
    }
  },
};

export const embeddingKernels = [...typedKernelConfigs(forward), ...typedKernelConfigs(backward)];

export const embeddingGradient: tf.GradConfig = {
  kernelName: embeddingName,
  inputsToSave: ['table', 'ids'],
  gradFunc: (dy, saved) => {
    const [table, ids] = saved as [tf.Tensor, tf.Tensor];
    return {
      table: () =>
        tf.engine().runKernel(embeddingGradName, { dy: dy as tf.Tensor, ids, table }, {}) as tf.Tensor,
      ids: () => tf.zerosLike(ids),
    };
  },
};

/** Rows of `table` [vocab, dim] for int32 `ids`: out [...ids.shape, dim]; differentiable in `table`. */
export function embedding(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  if (table.rank !== 2 || table.dtype !== 'float32')
    throw new Error(`embedding: table must be float32 [vocab, dim], got ${table.dtype} [${table.shape}]`);
  if (ids.dtype !== 'int32') throw new Error(`embedding: ids must be int32, got ${ids.dtype}`);
  if (tf.getKernel(embeddingName, tf.getBackend()) === undefined) return tf.gather(table, ids);
  return tf.engine().runKernel(embeddingName, { table, ids }, {}) as tf.Tensor;
}
