import type { MeanWithCi, Rng } from '@reptile-bench/core';
import type { OptimizerState } from '@reptile-bench/models';

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
  /**
   * The optimizer state every episode's adaptation starts from (e.g. the inner Adam's moments at the end of
   * meta-training, as the paper's code evaluates). Default: a fresh optimizer.
   */
  startState?: OptimizerState;
}

export type PredictionMode = 'non-transductive' | 'transductive';

/** Each finished episode's scores, by episode index (what a resumed evaluation does not redo). */
export type EpisodeScores = Partial<Record<PredictionMode, number>>;

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
  /** Scores of episodes already done (a resumed evaluation): they are kept, not run again. */
  done?: ReadonlyMap<number, EpisodeScores>;
  /** Called with each episode's scores as it finishes (e.g. to checkpoint them). */
  onEpisode?: (episode: number, scores: EpisodeScores) => void;
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

/** What is evaluated: one initialisation, or (plain SGD from scratch) a fresh random init per episode. */
export type EvaluatedInit = Float32Array[] | ((episodeRng: Rng) => Float32Array[]);
