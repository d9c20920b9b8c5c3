// Public surface of @reptile-bench/datasets.
export { concatBatches, exampleLength, holdOutPerClass, miniBatches, selectExamples } from './batches.ts';
export { dataChecksum } from './checksum.ts';
export {
  CIFAR10_ARCHIVE,
  CIFAR10_CLASSES,
  CIFAR10_RELEASE,
  CIFAR10_URL,
  type Cifar10,
  type Cifar10Source,
  decodeCifarBatch,
  type LoadCifar10Options,
  loadCifar10,
} from './cifar10.ts';
export type { ExpectedFile } from './download.ts';
export {
  FASHION_MNIST_BASE_URL,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_FILES,
  FASHION_MNIST_RELEASE,
  FASHION_MNIST_SYSTEM_DIR,
  type FashionMnist,
  type FashionMnistFile,
  type FashionMnistSource,
  type LoadFashionMnistOptions,
  loadFashionMnist,
} from './fashion-mnist.ts';
export { classSetFromImages, type FewShotOptions, fewShotSampler } from './few-shot.ts';
export { defaultCacheDir, findRepoRoot } from './files.ts';
export { gunzipIfNeeded, type IdxArray, parseIdx } from './idx.ts';
export { decodeImage, type Raster, type ResizeFilter, resize, rotateInto, toGray, toRgb } from './image.ts';
export {
  hasClassFolders,
  type ImageFolder,
  type ImagePreprocessing,
  imageFolderBatch,
  imageLabel,
  imagesBatch,
  isImageFile,
  listImages,
  omniglotPreprocessing,
  readImageExample,
  readImageFolder,
} from './image-folder.ts';
export {
  type BatchStream,
  checkLabelledImages,
  imageBatch,
  type LabelledImages,
  rangeBatch,
  selectImages,
  shuffledBatches,
  splitValidation,
} from './labelled.ts';
export {
  type LoadMiniImageNetOptions,
  loadMiniImageNet,
  MINI_IMAGENET_SPLITS,
  type MiniImageNet,
  type MiniImageNetClass,
  type MiniImageNetClassSet,
  type MiniImageNetSplit,
} from './mini-imagenet.ts';
export {
  countAlphabets,
  defaultSharedDir,
  type LoadOmniglotOptions,
  loadOmniglot,
  OMNIGLOT_ARCHIVES,
  OMNIGLOT_BASE_URL,
  OMNIGLOT_KNOWN_ARCHIVES,
  type Omniglot,
  type OmniglotArchive,
  type OmniglotCharacter,
  type OmniglotSource,
} from './omniglot.ts';
export {
  type OmniglotClass,
  type OmniglotClassSet,
  type OmniglotSplitOptions,
  splitOmniglot,
} from './omniglot-split.ts';
export {
  defaultSentimentDir,
  type LoadSentimentOptions,
  loadSentiment,
  parseSentimentFile,
  SENTIMENT_ARCHIVE,
  SENTIMENT_FILES,
  SENTIMENT_KNOWN_ARCHIVES,
  SENTIMENT_KNOWN_FILES,
  SENTIMENT_SOURCES,
  SENTIMENT_URL,
  type Sentence,
  type SentimentData,
  type SentimentOrigin,
  type SentimentSourceName,
  type SentimentSplitOptions,
  type SentimentSplits,
  splitSentiment,
  stratifiedSubset,
  summarizeSentiment,
  type TextSplit,
} from './sentiment.ts';
export {
  SINE_DISTRIBUTION,
  type SineEpisode,
  type SineSampler,
  type SineTask,
  sampleSineInputs,
  sampleSineTask,
  sineBatch,
  sineGrid,
  sineSampler,
} from './sine.ts';
export { summarizeMiniImageNet, summarizeOmniglot, summarizeSineTask } from './summary.ts';
export {
  buildVocabulary,
  type EncodedSentences,
  encodeSentences,
  PAD_ID,
  PAD_TOKEN,
  tokenize,
  UNKNOWN_ID,
  UNKNOWN_TOKEN,
  type Vocabulary,
  type VocabularyOptions,
  vocabularyFromTokens,
} from './text.ts';
export type { Batch, ClassSet, Episode, EpisodeSampler } from './types.ts';
