// Turning sentences into token ids: the tokenizer, the vocabulary (built from training sentences only) and the
// fixed-length encoding the text models read.

/**
 * Words and the two punctuation marks that carry sentiment. Text is NFKC-normalised (so "ﬁ" is "fi" and full-width
 * letters are ASCII) and lower-cased; a word is a run of letters, combining marks and digits of any script, with
 * apostrophes inside it kept ("don't", "l'été"); "!" and "?" are tokens of their own. Everything else (spaces,
 * other punctuation, control characters such as the stray U+0085 and U+0096 of some source files) separates
 * tokens and is dropped.
 */
const TOKEN = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*|[!?]/gu;

export function tokenize(text: string): string[] {
  if (typeof text !== 'string') throw new TypeError(`tokenize: expected a string, got ${typeof text}`);
  const normalized = text.normalize('NFKC').toLowerCase().replace(/’/g, "'");
  return normalized.match(TOKEN) ?? [];
}

/** Token id 0 pads sentences to a fixed length; id 1 stands for every token outside the vocabulary. */
export const PAD_ID = 0;
export const UNKNOWN_ID = 1;
export const PAD_TOKEN = '<pad>';
export const UNKNOWN_TOKEN = '<unk>';

export interface Vocabulary {
  /** Index = token id: `<pad>`, `<unk>`, then the kept tokens, most frequent first (ties in code-point order). */
  readonly tokens: readonly string[];
  readonly size: number;
  /** The id of a token (UNKNOWN_ID when it is not in the vocabulary). */
  id(token: string): number;
}

export interface VocabularyOptions {
  /** Keep tokens seen at least this often (default 1: every training token). */
  minCount?: number;
  /** Keep at most this many tokens besides `<pad>` and `<unk>` (default: no limit). */
  maxTokens?: number;
}

function positiveInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new RangeError(`${field} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * A vocabulary from tokenised sentences (the training split only, so nothing about validation or test sentences
 * leaks into the model). Deterministic: the same sentences in any order give the same ids.
 */
export function buildVocabulary(sentences: readonly string[][], options: VocabularyOptions = {}): Vocabulary {
  const minCount = positiveInteger(options.minCount ?? 1, 'buildVocabulary: minCount');
  const maxTokens =
    options.maxTokens === undefined
      ? Number.POSITIVE_INFINITY
      : positiveInteger(options.maxTokens, 'maxTokens');
  const counts = new Map<string, number>();
  for (const tokens of sentences) for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  counts.delete(PAD_TOKEN);
  counts.delete(UNKNOWN_TOKEN);
  const kept = [...counts.entries()]
    .filter(([, n]) => n >= minCount)
    .sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, maxTokens)
    .map(([t]) => t);
  return vocabularyFromTokens([PAD_TOKEN, UNKNOWN_TOKEN, ...kept]);
}

/** Rebuilds a vocabulary from its token list (as `Vocabulary.tokens` gives it, `<pad>` and `<unk>` first). */
export function vocabularyFromTokens(tokens: readonly string[]): Vocabulary {
  if (tokens[PAD_ID] !== PAD_TOKEN || tokens[UNKNOWN_ID] !== UNKNOWN_TOKEN)
    throw new Error(
      `vocabulary: the first two tokens must be "${PAD_TOKEN}" and "${UNKNOWN_TOKEN}", got ${JSON.stringify(tokens.slice(0, 2))}`,
    );
  const index = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (index.has(t))
      throw new Error(`vocabulary: token ${JSON.stringify(t)} appears twice (ids ${index.get(t)} and ${i})`);
    index.set(t, i);
  });
  const list = Object.freeze([...tokens]);
  return {
    tokens: list,
    size: list.length,
    id: (token) => (token === PAD_TOKEN ? UNKNOWN_ID : (index.get(token) ?? UNKNOWN_ID)),
  };
}

export interface EncodedSentences {
  /** n × maxLength token ids, row-major; each sentence's ids first, then PAD_ID. */
  ids: Int32Array;
  /** Tokens kept per sentence (at most maxLength; 0 for a sentence without tokens). */
  lengths: Int32Array;
  maxLength: number;
  /** Sentences that had more than maxLength tokens (their first maxLength are kept). */
  truncated: number;
}

/** Ids of tokenised sentences, padded at the end (or cut) to `maxLength`. */
export function encodeSentences(
  vocabulary: Vocabulary,
  sentences: readonly string[][],
  maxLength: number,
): EncodedSentences {
  positiveInteger(maxLength, 'encodeSentences: maxLength');
  const ids = new Int32Array(sentences.length * maxLength);
  const lengths = new Int32Array(sentences.length);
  let truncated = 0;
  sentences.forEach((tokens, i) => {
    const n = Math.min(tokens.length, maxLength);
    if (tokens.length > maxLength) truncated++;
    for (let t = 0; t < n; t++) ids[i * maxLength + t] = vocabulary.id(tokens[t] as string);
    lengths[i] = n;
  });
  return { ids, lengths, maxLength, truncated };
}
