import type { BackendName } from '@reptile-bench/backend';
import type { Rng } from '@reptile-bench/core';
import type { ClassSet, EpisodeSampler } from '@reptile-bench/datasets';
import type { Model, OptimizerState } from '@reptile-bench/models';
import type { CheckpointHooks } from './checkpoint.ts';

/** What meta-training produced: one initialisation, or (plain SGD from scratch) a fresh random init per episode. */
export type LearnedInit = Float32Array[] | ((episodeRng: Rng) => Float32Array[]);

export interface MetaTrainResult {
  init: LearnedInit;
  /**
   * The inner optimizer's state at the end of meta-training (Adam's moments and step count), for an evaluation
   * that starts every episode from it as the paper's code does. Absent for learners without an inner optimizer
   * state (plain SGD baselines, or a state reset for every task).
   */
  innerState?: OptimizerState;
  /**
   * The classifier training produced before it was turned into the few-shot initialisation (joint pre-training's
   * classifier over all training classes, whose output layer the initialisation replaces), for runs that use it
   * later, e.g. as a distillation teacher.
   */
  classifier?: { model: Model; params: Float32Array[] };
}

/** A snapshot of training handed to the learning-curve evaluation. */
export interface TrainingSnapshot {
  /** A copy of the current initialisation. */
  params: Float32Array[];
  /** A copy of the inner optimizer state the evaluation would start from (see `MetaTrainResult.innerState`). */
  innerState?: OptimizerState;
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
  /** Called with a snapshot after every `every` iterations (learning curves). */
  validate?: {
    every: number;
    run: (snapshot: TrainingSnapshot, iteration: number) => Promise<Record<string, number>>;
  };
  /** Saving and resuming mid-training state (see `CheckpointHooks`). */
  checkpoint?: CheckpointHooks;
  /** A finite loss above this fails the run as diverged (non-finite losses and parameters always do). */
  maxLoss?: number;
  /** Aborting stops training between iterations; with `checkpoint`, the state is saved first. */
  signal?: AbortSignal;
}

export interface Learner {
  readonly name: string;
  metaTrain(ctx: MetaTrainContext): Promise<MetaTrainResult>;
}

/** A learner whose meta-training yields one initialisation (every learner but plain SGD from scratch). */
export interface InitLearner extends Learner {
  metaTrain(ctx: MetaTrainContext): Promise<MetaTrainResult & { init: Float32Array[] }>;
}
