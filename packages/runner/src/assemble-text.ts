// Assembling a text run from its resolved config: the sentences split by the seed, the vocabulary of the
// training part, and the classifier sized by it.
import { loadSentiment, type SentimentSplits, splitSentiment } from '@reptile-bench/datasets';
import { createLstmClassifier, type Model } from '@reptile-bench/models';
import type { TextRunConfig } from './config/schema.ts';

export interface TextRunData {
  splits: SentimentSplits;
  model: Model;
  checksum: string;
}

/** Loads and splits the data (shuffled by the run's seed) and builds the model for its vocabulary. */
export async function prepareTextRun(config: TextRunConfig, seed: number): Promise<TextRunData> {
  const d = config.dataset;
  const splits = splitSentiment(await loadSentiment(), {
    seed,
    validation: d.validation,
    test: d.test,
    maxLength: d.max_length,
    minCount: d.min_count,
  });
  return { splits, model: textModelFor(config, splits.vocabulary.size), checksum: splits.checksum };
}

/** The classifier of a text run for a vocabulary of `vocabSize` tokens. */
export function textModelFor(config: TextRunConfig, vocabSize: number): Model {
  const m = config.model;
  if (m.name !== 'lstm') throw new Error(`text runs train the lstm model, got ${m.name}`);
  return createLstmClassifier({
    vocabSize,
    maxLength: config.dataset.max_length,
    classes: 2,
    embedding: m.embedding,
    hidden: m.hidden,
    bidirectional: m.bidirectional,
    pool: m.pool,
  });
}
