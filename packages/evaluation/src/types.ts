import type { BackendName } from '@reptile-bench/backend';
import type { MeanWithCi, Rng } from '@reptile-bench/core';
import type { ClassSet, EpisodeSampler } from '@reptile-bench/datasets';
import type { Model } from '@reptile-bench/models';

/** How a learner adapts to one task's support set (the paper's eval_iters, eval_batch and the inner optimizer). */
export interface AdaptOptions {
  /** Adam runs with β1 = 0, as in the paper. */
  optimizer: 'adam' | 'sgd';
  learningRate: number;
  /** Gradient steps on the support set. */
  iterations: number;
  /** Examples per step, drawn from the support set as in the paper's `_mini_batches`. */
  batchSize: number;
  /** Draw each mini-batch independently (true) or deal out shuffled passes over the support set (false, default). */
  replacement?: boolean;
}

export type PredictionMode = 'non-transductive' | 'transductive';

export interface EvaluationOptions {
  /** Number of test episodes n (default 1000); the 95% interval is mean ± 1.96·σ/√n. */
  episodes?: number;
  adapt: AdaptOptions;
  /** Default: both. */
  modes?: PredictionMode[];
  /**
   * Replica threads for the episodes (default 1: this thread). The numbers do not depend on it. The replicas run
   * the backend this thread runs.
   */
  workers?: number;
  /** Called as episodes finish, e.g. for a progress bar. */
  onProgress?: (episodesDone: number, episodes: number) => void;
  signal?: AbortSignal;
}

export interface EvaluationResult {
  /** Accuracy on classification tasks, mean squared error on regression tasks. */
  metric: 'accuracy' | 'mse';
  nonTransductive?: MeanWithCi;
  transductive?: MeanWithCi;
  /** Each episode's score per mode, in episode order (for paired comparisons and checks). */
  perEpisode: { nonTransductive?: number[]; transductive?: number[] };
  episodes: number;
  seconds: number;
}

/** What a learner's meta-training gets: the model, the tasks, and where to report progress. */
export interface MetaTrainContext {
  model: Model;
  /** Meta-training tasks (support = ways × train_shots for classification; the query set is not used). */
  train: EpisodeSampler;
  /** All training classes, for the joint pre-training baseline on classification data. */
  trainClasses?: ClassSet;
  rng: Rng;
  backend: BackendName;
  /** Replica threads for a meta-batch (1 = in this thread). */
  workers?: number;
  onMetrics?: (iteration: number, metrics: Record<string, number>) => void;
  /** Called with a copy of the current initialisation after every `every` iterations (learning curves). */
  validate?: {
    every: number;
    run: (params: Float32Array[], iteration: number) => Promise<Record<string, number>>;
  };
  signal?: AbortSignal;
}

/** What meta-training produced: one initialisation, or (plain SGD from scratch) a fresh random init per episode. */
export type LearnedInit = Float32Array[] | ((episodeRng: Rng) => Float32Array[]);

export interface Learner {
  readonly name: string;
  metaTrain(ctx: MetaTrainContext): Promise<LearnedInit>;
}

/** A learner whose meta-training yields one initialisation (every learner but plain SGD from scratch). */
export interface InitLearner extends Learner {
  metaTrain(ctx: MetaTrainContext): Promise<Float32Array[]>;
}
