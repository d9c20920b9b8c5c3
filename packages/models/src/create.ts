import { stableStringify } from '@reptile-bench/core';
import { type CnnOptions, createCnn } from './cnn.ts';
import { type Conv4Options, createConv4 } from './conv4.ts';
import { createLstmClassifier, type LstmClassifierOptions } from './lstm.ts';
import { createMlp, type MlpOptions } from './mlp.ts';
import type { Model } from './model.ts';

/** Rebuilds a model from its `config` (as stored in saved files and run records). */
export function createModel(config: Record<string, unknown>): Model {
  if (config === null || typeof config !== 'object')
    throw new Error(`createModel: config must be an object, got ${JSON.stringify(config)}`);
  const { kind, ...options } = config;
  if (kind === 'mlp') return createMlp(options as unknown as MlpOptions);
  if (kind === 'conv4') return createConv4(options as unknown as Conv4Options);
  if (kind === 'cnn') return createCnn(options as unknown as CnnOptions);
  if (kind === 'lstm') return createLstmClassifier(options as unknown as LstmClassifierOptions);
  throw new Error(
    `createModel: config.kind must be 'mlp', 'conv4', 'cnn' or 'lstm', got ${JSON.stringify(kind)}`,
  );
}

const built = new Map<string, Model>();

/** The model of a config, built once per thread (models hold no weights, so one instance serves every call). */
export function modelFor(config: Record<string, unknown>): Model {
  const key = stableStringify(config);
  let model = built.get(key);
  if (model === undefined) {
    model = createModel(config);
    built.set(key, model);
  }
  return model;
}
