// The replica side of local SGD: runs in replica threads (see @reptile-bench/backend's createReplicaPool) or in
// the calling thread. A replica's weights and momentum buffers live in SharedArrayBuffers that the coordinator
// owns; a round reads them, takes its steps on this thread's backend and writes them back in place, so nothing
// but the batch indices and learning rates crosses threads per round, and no state stays behind in a thread.
import { tf } from '@reptile-bench/backend';
import { imageBatch, type LabelledImages } from '@reptile-bench/datasets';
import { type Model, modelFor, momentumSgd, toTensors, trainOnBatches } from '@reptile-bench/models';

/** A float32 slice of a shared buffer: `length` values from element `offset`. */
export interface SharedSlice {
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

export function sliceView(slice: SharedSlice): Float32Array {
  return new Float32Array(slice.buffer, slice.offset * 4, slice.length);
}

/** The training set as shared bytes, attached once per thread under `key`. */
export interface SharedImages {
  key: string;
  pixels: SharedArrayBuffer;
  labels: SharedArrayBuffer;
  count: number;
  imageShape: [number, number, number];
  numClasses: number;
}

/** One replica's steps of one round. */
export interface RoundJob {
  dataKey: string;
  /** `Model.config`: the thread rebuilds the model from it. */
  model: Record<string, unknown>;
  /** All parameters of this replica, flat, in `model.paramSpecs` order. */
  params: SharedSlice;
  /** Its momentum buffers (same layout); absent without momentum. */
  momenta?: SharedSlice;
  momentum: number;
  /** Global index of the round's first step (the position in the learning-rate schedule). */
  firstStep: number;
  /** Example indices of the round's batches, batch after batch. */
  indices: Int32Array;
  batchSize: number;
  /** The learning rate of each step of the round. */
  rates: Float64Array;
}

export interface RoundResult {
  /** Training loss of each step, before the step. */
  losses: number[];
}

const attached = new Map<string, LabelledImages>();

export function attachData(data: SharedImages): void {
  attached.set(data.key, {
    count: data.count,
    imageShape: data.imageShape,
    numClasses: data.numClasses,
    pixels: new Uint8Array(data.pixels),
    labels: new Uint8Array(data.labels),
  });
}

export function detachData(key: string): void {
  attached.delete(key);
}

/** Splits a flat parameter vector into the model's arrays (views, no copy). */
function split(model: Model, flat: Float32Array): Float32Array[] {
  let offset = 0;
  return model.paramSpecs.map((spec) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const view = flat.subarray(offset, offset + size);
    offset += size;
    return view;
  });
}

export function trainRound(job: RoundJob): RoundResult {
  const data = attached.get(job.dataKey);
  if (data === undefined)
    throw new Error(`local SGD replica: no training data attached under ${job.dataKey}`);
  const model = modelFor(job.model);
  const steps = job.rates.length;
  if (job.indices.length !== steps * job.batchSize)
    throw new RangeError(
      `local SGD replica: ${job.indices.length} indices for ${steps} steps of ${job.batchSize} examples`,
    );
  const flat = sliceView(job.params);
  const optimizer = momentumSgd({
    learningRate: (t) => job.rates[t - job.firstStep] as number,
    momentum: job.momentum,
  });
  const momenta = job.momenta ? sliceView(job.momenta) : undefined;
  optimizer.importState({
    name: 'momentum',
    steps: job.firstStep,
    ...(momenta && job.momentum > 0
      ? { shapes: model.paramSpecs.map((s) => [...s.shape]), m: momenta.slice() }
      : {}),
  });
  // Batches are gathered one step at a time, not all before the first step.
  function* batches(images: LabelledImages) {
    for (let s = 0; s < steps; s++)
      yield imageBatch(images, job.indices.subarray(s * job.batchSize, (s + 1) * job.batchSize));
  }
  let params = toTensors(model, split(model, flat));
  let losses: number[];
  try {
    ({ params, losses } = trainOnBatches(model, optimizer, params, batches(data)));
    let offset = 0;
    for (const p of params) {
      flat.set(p.dataSync() as Float32Array, offset);
      offset += p.size;
    }
    if (momenta && job.momentum > 0) {
      const state = optimizer.exportState();
      if (state.m) momenta.set(state.m);
    }
  } finally {
    tf.dispose(params);
    optimizer.dispose();
  }
  return { losses };
}
