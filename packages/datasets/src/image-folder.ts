// The user's own images: class folders (the usual ImageFolder layout) and loose files, brought to a model's
// input exactly as its training data was (size, channels, resize filter, polarity).
import { type Dirent, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { decodeImage, resize, toGray } from './image.ts';
import type { Batch } from './types.ts';

/** How a model's training images were made from files; recorded with the model so predictions repeat it. */
export interface ImagePreprocessing {
  height: number;
  width: number;
  channels: 1;
  resize: 'area' | 'nearest';
  /**
   * The value of a fully inked pixel (dark on light paper): 1 (values are ink coverage, the default) or 0 (values
   * are brightness, as the paper's code reads Omniglot). Coverage is kept in 1/255 steps, as Omniglot's cache does.
   */
  ink: 0 | 1;
}

/** Omniglot's preprocessing with the given resize filter and polarity (28×28 gray). */
export function omniglotPreprocessing(
  resizeFilter: 'area' | 'nearest' = 'area',
  ink: 0 | 1 = 1,
): ImagePreprocessing {
  return { height: 28, width: 28, channels: 1, resize: resizeFilter, ink };
}

const imageExtensions = new Set(['.png', '.jpg', '.jpeg']);

export function isImageFile(file: string): boolean {
  return imageExtensions.has(extname(file).toLowerCase());
}

/** One image file as a model input: decoded (PNG or JPEG, gray or colour), to gray, resized, polarity applied. */
export function readImageExample(file: string, p: ImagePreprocessing): Float32Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new Error(
      `${file}: cannot read the image (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  const gray = toGray(decodeImage(bytes, file));
  const small = resize(gray, p.height, p.width, p.resize).data;
  const out = new Float32Array(small.length);
  for (let i = 0; i < small.length; i++) {
    // Ink coverage in 1/255 steps, then the model's polarity (the same arithmetic as Omniglot's loader).
    const coverage = Math.round((1 - (small[i] as number)) * 255);
    out[i] = p.ink === 1 ? coverage * (1 / 255) : coverage * (-1 / 255) + 1;
  }
  return out;
}

/** Image files of a folder, sorted by name; hidden files skipped. */
function imagesIn(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.') && isImageFile(e.name))
    .map((e) => join(dir, e.name))
    .sort();
}

/** A folder of class folders: each sub-folder (sorted by name) is a class, its images its examples. */
export interface ImageFolder {
  dir: string;
  classes: Array<{ name: string; files: string[] }>;
}

/** Reads the ImageFolder layout; errors name the folder that is missing, empty or not a folder. */
export function readImageFolder(dir: string): ImageFolder {
  const root = resolve(dir);
  let entries: Dirent[];
  try {
    if (!statSync(root).isDirectory())
      throw new Error(`${root}: not a folder; give a folder of class folders`);
    entries = readdirSync(root, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`${root}: no such folder; give a folder with one sub-folder of images per class`);
    throw error;
  }
  const classes = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort()
    .map((name) => ({ name, files: imagesIn(join(root, name)) }));
  if (classes.length === 0)
    throw new Error(
      `${root}: no class folders; put each class's images in a sub-folder named after the class`,
    );
  for (const c of classes)
    if (c.files.length === 0)
      throw new Error(`${join(root, c.name)}: class folder without images (.png, .jpg or .jpeg)`);
  return { dir: root, classes };
}

/** Whether a folder is in the class-folder layout (has sub-folders) rather than a folder of loose images. */
export function hasClassFolders(dir: string): boolean {
  return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() && !e.name.startsWith('.'));
}

/** Images given as files or folders of files (recursively), in the order given, each folder's sorted. */
export function listImages(paths: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (path: string) => {
    const full = resolve(path);
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(full);
    } catch {
      throw new Error(`${full}: no such file or folder`);
    }
    if (stat.isDirectory()) {
      for (const e of readdirSync(full, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)))
        if (!e.name.startsWith('.') && (e.isDirectory() || isImageFile(e.name))) walk(join(full, e.name));
    } else {
      if (!isImageFile(full)) throw new Error(`${full}: not an image file (.png, .jpg or .jpeg)`);
      files.push(full);
    }
  };
  for (const p of paths) walk(p);
  if (files.length === 0) throw new Error(`no images found in ${paths.join(', ')}`);
  return files;
}

/** A labelled batch of a class folder's images (labels = class order), as a model's inputs. */
export function imageFolderBatch(folder: ImageFolder, p: ImagePreprocessing): Batch {
  const files = folder.classes.flatMap((c, label) => c.files.map((file) => ({ file, label })));
  const pixels = p.height * p.width * p.channels;
  const x = new Float32Array(files.length * pixels);
  const y = new Int32Array(files.length);
  files.forEach(({ file, label }, i) => {
    x.set(readImageExample(file, p), i * pixels);
    y[i] = label;
  });
  return { x, y, size: files.length, inputShape: [p.height, p.width, p.channels] };
}

/** Unlabelled images as a batch (labels −1). */
export function imagesBatch(files: readonly string[], p: ImagePreprocessing): Batch {
  const pixels = p.height * p.width * p.channels;
  const x = new Float32Array(files.length * pixels);
  files.forEach((file, i) => {
    x.set(readImageExample(file, p), i * pixels);
  });
  return {
    x,
    y: new Int32Array(files.length).fill(-1),
    size: files.length,
    inputShape: [p.height, p.width, p.channels],
  };
}

/** A short display name of an image file: its class folder and name. */
export function imageLabel(file: string): string {
  return join(basename(resolve(file, '..')), basename(file));
}
