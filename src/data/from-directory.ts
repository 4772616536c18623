import { nextSeedValue, tensor, uploadFilled } from '../tensor/creation.js';
import { ArgumentError } from '../tensor/errors.js';
import { checkOptions as checkOptionKeys, type OptionKeys } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { Dataset } from './dataset.js';
import { DEFAULT_MAX_PIXELS } from './decode.js';
import { runDecodeJob } from './decode-worker.js';
import { ImageDecodeError } from './errors.js';
import { IMAGE_EXTENSIONS, indexDirectory, isDir } from './index-directory.js';
import { NumpyRandomState } from './numpy-random.js';
import { PixelArena } from './pixel-arena.js';
import { assertResizeOptions, type Interpolation } from './resize.js';
import { type DecodeJob, DecodePool, defaultDecodePool } from './worker-pool.js';

/** What the labels are: 'int' (int32 `[b]`), 'categorical' (one-hot float32 `[b, classes]`) or 'binary' (float32 `[b, 1]`). */
export type LabelMode = 'int' | 'categorical' | 'binary';

/** Options of `imageDatasetFromDirectory` (Keras `image_dataset_from_directory`, camelCase). */
export interface ImageDatasetOptions {
  /** [height, width] every image is resized to. Default [256, 256]. */
  imageSize?: readonly [number, number];
  /** Images per batch; null yields single images. Default 32. */
  batchSize?: number | null;
  /** Fraction of the files kept for validation (0 < x < 1); needs `subset`. */
  validationSplit?: number;
  /** With `validationSplit`: which part to return, or 'both' for `[training, validation]`. */
  subset?: 'training' | 'validation' | 'both';
  /** Seed of the shuffles. Required with validationSplit when shuffling. Default: drawn at random. */
  seed?: number;
  /** Shuffle the file list (and each epoch). Default true. */
  shuffle?: boolean;
  /** 'int' (int32 [b]), 'categorical' (one-hot float32 [b, classes]), 'binary' (float32 [b, 1]), or
   * null for no labels (all images under `dir`, class folders ignored). Default 'int'. */
  labelMode?: LabelMode | null;
  /** Explicit class folders and their order (a subset of the sub-folders). Default: all, sorted. */
  classNames?: readonly string[];
  /** Crop the largest centred window of the target aspect ratio first (Keras `smart_resize`). */
  cropToAspectRatio?: boolean;
  /** Resize to fit and pad with zeros (`tf.image.resize_with_pad`). */
  padToAspectRatio?: boolean;
  /**
   * The resize method, as Keras: 'bilinear' (default), 'nearest', 'bicubic', 'area', 'lanczos3',
   * 'lanczos5', 'gaussian' or 'mitchellcubic' (the same values as `tf.image.resize`).
   */
  interpolation?: Interpolation;
  /**
   * Rotate / mirror JPEGs as their EXIF orientation says before resizing. Default false: Keras
   * (`tf.io.decode_image`) ignores the tag.
   */
  applyExifOrientation?: boolean;
  /** What to do with a file that cannot be decoded. Default 'warn': skip it, one warning per file. */
  onBadFile?: 'warn' | 'error';
  /** Refuse images whose header claims more pixels. Default 50 M. */
  maxPixels?: number;
  /** A DecodePool, or 0 to decode on the calling thread. Default: the shared pool (one worker per core). */
  workers?: DecodePool | 0;
  /** Batches prepared ahead of the consumer. Default 2. */
  prefetch?: number;
  /** Print "Found N files belonging to C classes." and the split sizes, like Keras. Default true. */
  verbose?: boolean;
  /** Receives warnings (bad files). Default console.warn. */
  onWarning?: (message: string) => void;
}

/**
 * One batch of `imageDatasetFromDirectory`. A type alias, not an interface, so that it is a
 * `TensorContainer` (`dispose(batch)`, `tidy(() => batch)` type-check).
 */
export type ImageBatch = {
  /** float32 [b, h, w, 3] (or [h, w, 3] with batchSize null), values 0..255. */
  xs: Tensor;
  /** int32 [b], one-hot float32 [b, classes], or float32 [b, 1]. */
  ys: Tensor;
};
/** A batch of `imageDatasetFromDirectory` with `labelMode: null`. */
export type UnlabeledImageBatch = {
  /** The images, float32 `[batch, height, width, 3]` in 0..255. */
  xs: Tensor;
};

const OP = 'imageDatasetFromDirectory';

/** The dataset returned by `imageDatasetFromDirectory`, with Keras' `class_names` and `file_paths`. */
export class ImageDataset<E> extends Dataset<E> {
  /** Class names in label order (null with labelMode null). */
  readonly classNames: string[] | null;
  /** The files of this dataset in their (shuffled) order. */
  readonly filePaths: string[];
  /** The label of each file of `filePaths` (null with labelMode null). */
  readonly labels: Int32Array | null;

  constructor(
    source: () => AsyncIterator<E>,
    classNames: string[] | null,
    files: string[],
    labels: Int32Array | null,
  ) {
    super(source);
    this.classNames = classNames;
    this.filePaths = files;
    this.labels = labels;
  }
}

interface Checked {
  imageSize: readonly [number, number];
  batchSize: number | null;
  labelMode: LabelMode | null;
  shuffle: boolean;
  prefetch: number;
}

const OPTION_KEYS: OptionKeys<ImageDatasetOptions> = {
  imageSize: true,
  batchSize: true,
  validationSplit: true,
  subset: true,
  seed: true,
  shuffle: true,
  labelMode: true,
  classNames: true,
  cropToAspectRatio: true,
  padToAspectRatio: true,
  interpolation: true,
  applyExifOrientation: true,
  onBadFile: true,
  maxPixels: true,
  workers: true,
  prefetch: true,
  verbose: true,
  onWarning: true,
};

function checkOptions(dir: unknown, o: ImageDatasetOptions): Checked {
  if (typeof dir !== 'string' || dir === '')
    throw new ArgumentError(`${OP}: dir must be a path, got ${String(dir)}`);
  if (o === null || typeof o !== 'object')
    throw new ArgumentError(`${OP}: options must be an object, got ${JSON.stringify(o)}`);
  checkOptionKeys(o, OPTION_KEYS, OP);
  for (const k of [
    'shuffle',
    'cropToAspectRatio',
    'padToAspectRatio',
    'verbose',
    'applyExifOrientation',
  ] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean')
      throw new ArgumentError(`${OP}: ${k} must be a boolean, got ${JSON.stringify(o[k])}`);
  }
  if (
    o.classNames !== undefined &&
    !(Array.isArray(o.classNames) && o.classNames.every((c) => typeof c === 'string'))
  )
    throw new ArgumentError(
      `${OP}: classNames must be an array of folder names, got ${JSON.stringify(o.classNames)}`,
    );
  if (o.onWarning !== undefined && typeof o.onWarning !== 'function')
    throw new ArgumentError(`${OP}: onWarning must be a function, got ${typeof o.onWarning}`);
  const imageSize = o.imageSize ?? [256, 256];
  if (
    !Array.isArray(imageSize) ||
    imageSize.length !== 2 ||
    !imageSize.every((v) => Number.isInteger(v) && v > 0)
  ) {
    throw new ArgumentError(
      `${OP}: imageSize must be [height, width] (positive integers), got ${JSON.stringify(imageSize)}`,
    );
  }
  const batchSize = o.batchSize === undefined ? 32 : o.batchSize;
  if (batchSize !== null && !(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new ArgumentError(`${OP}: batchSize must be a positive integer or null, got ${String(batchSize)}`);
  }
  const labelMode = o.labelMode === undefined ? 'int' : o.labelMode;
  if (labelMode !== null && !['int', 'categorical', 'binary'].includes(labelMode)) {
    throw new ArgumentError(
      `${OP}: labelMode must be 'int', 'categorical', 'binary' or null, got ${JSON.stringify(labelMode)}`,
    );
  }
  const { validationSplit: split, subset } = o;
  if (split !== undefined && !(typeof split === 'number' && split > 0 && split < 1)) {
    throw new ArgumentError(
      `${OP}: validationSplit must be between 0 and 1 (exclusive), got ${String(split)}`,
    );
  }
  if (subset !== undefined && !['training', 'validation', 'both'].includes(subset)) {
    throw new ArgumentError(
      `${OP}: subset must be 'training', 'validation' or 'both', got ${JSON.stringify(subset)}`,
    );
  }
  if ((split === undefined) !== (subset === undefined)) {
    throw new ArgumentError(
      `${OP}: subset and validationSplit must be given together (got subset ${String(subset)}, validationSplit ${String(split)})`,
    );
  }
  const shuffle = o.shuffle ?? true;
  if (split !== undefined && shuffle && o.seed === undefined) {
    throw new ArgumentError(
      `${OP}: with validationSplit and shuffle, a seed is required so that training and validation do not overlap`,
    );
  }
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff)) {
    throw new ArgumentError(`${OP}: seed must be an integer in [0, 2**32 - 1], got ${o.seed}`);
  }
  if (o.cropToAspectRatio && o.padToAspectRatio) {
    throw new ArgumentError(`${OP}: only one of cropToAspectRatio and padToAspectRatio can be true`);
  }
  assertResizeOptions({ interpolation: o.interpolation }, OP);
  if (o.onBadFile !== undefined && o.onBadFile !== 'warn' && o.onBadFile !== 'error') {
    throw new ArgumentError(`${OP}: onBadFile must be 'warn' or 'error', got ${JSON.stringify(o.onBadFile)}`);
  }
  if (o.workers !== undefined && o.workers !== 0 && !(o.workers instanceof DecodePool)) {
    throw new ArgumentError(`${OP}: workers must be a DecodePool or 0, got ${String(o.workers)}`);
  }
  if (o.maxPixels !== undefined && !(typeof o.maxPixels === 'number' && o.maxPixels > 0)) {
    throw new ArgumentError(`${OP}: maxPixels must be a positive number, got ${String(o.maxPixels)}`);
  }
  const prefetch = o.prefetch ?? 2;
  if (!(Number.isInteger(prefetch) && prefetch >= 0)) {
    throw new ArgumentError(`${OP}: prefetch must be an integer >= 0, got ${String(prefetch)}`);
  }
  return { imageSize, batchSize, labelMode, shuffle, prefetch };
}

interface Loaded {
  pixels: Float32Array;
  label: number;
}

function collate(
  items: Loaded[],
  c: Checked,
  numClasses: number,
  unbatched: boolean,
  arena: PixelArena,
): ImageBatch | UnlabeledImageBatch {
  const [h, w] = c.imageSize;
  const per = h * w * 3;
  const b = items.length;
  let xs: Tensor;
  if (unbatched) xs = tensor(items[0].pixels, [h, w, 3], 'float32');
  else {
    // Each image straight into the upload's mapped staging memory: no batch-sized array to build.
    xs = uploadFilled([b, h, w, 3], 'float32', (dst) => {
      const all = new Float32Array(dst, 0, b * per);
      for (let i = 0; i < b; i++) all.set(items[i].pixels, i * per);
    });
  }
  // The pixels are copied (uploads copy synchronously): their blocks can be reused.
  for (const it of items) arena.give(it.pixels);
  if (c.labelMode === null) return { xs };
  const shape = (...s: number[]): number[] => (unbatched ? s : [b, ...s]);
  let ys: Tensor;
  if (c.labelMode === 'int')
    ys = tensor(
      Int32Array.from(items, (it) => it.label),
      shape(),
      'int32',
    );
  else if (c.labelMode === 'binary')
    ys = tensor(
      Float32Array.from(items, (it) => it.label),
      shape(1),
      'float32',
    );
  else {
    const oh = new Float32Array(b * numClasses);
    items.forEach((it, i) => {
      oh[i * numClasses + it.label] = 1;
    });
    ys = tensor(oh, shape(numClasses), 'float32');
  }
  return { xs, ys };
}

function makeDataset(
  files: string[],
  labels: Int32Array | null,
  classNames: string[] | null,
  c: Checked,
  o: ImageDatasetOptions,
  shuffle: boolean,
  seed: number,
): ImageDataset<ImageBatch | UnlabeledImageBatch> {
  // The default pool is looked up per job, so closing it between epochs is harmless.
  const poolNow = (): DecodePool | null => (o.workers === 0 ? null : (o.workers ?? defaultDecodePool()));
  const window = o.workers === 0 ? 1 : Math.max(4 * poolNow()!.size, c.batchSize ?? 1);
  const warn = o.onWarning ?? ((m: string) => console.warn(m));
  const warned = new Set<string>();
  const [height, width] = c.imageSize;
  const arena = new PixelArena(height * width * 3);
  const load = async (i: number): Promise<Loaded | null> => {
    const job: DecodeJob = {
      path: files[i],
      height,
      width,
      cropToAspectRatio: o.cropToAspectRatio,
      padToAspectRatio: o.padToAspectRatio,
      maxPixels: o.maxPixels ?? DEFAULT_MAX_PIXELS,
      interpolation: o.interpolation,
      applyExifOrientation: o.applyExifOrientation,
    };
    // A failed job's block is not given back: a timed-out worker may still be writing to it.
    const into = arena.take();
    try {
      const pool = poolNow();
      const r = pool ? await pool.run(job, { into }) : await runDecodeJob(job, into);
      return { pixels: r.pixels, label: labels ? labels[i] : 0 };
    } catch (e) {
      if (!(e instanceof ImageDecodeError) || o.onBadFile === 'error') throw e;
      if (!warned.has(files[i])) {
        warned.add(files[i]);
        warn(`${OP}: skipping ${e.message.replace(/^decodeImage: /, '')}`);
      }
      return null;
    }
  };
  const numClasses = classNames?.length ?? 0;
  const unbatched = c.batchSize === null;
  let ds: Dataset<number> = Dataset.from(() => files.keys());
  if (shuffle) ds = ds.shuffle(c.batchSize === null ? 1024 : c.batchSize * 8, seed);
  const decoded = ds.map(load, { parallel: window }).filter((x): boolean => x !== null) as Dataset<Loaded>;
  const batches = unbatched ? decoded.map((x) => [x]) : decoded.batch(c.batchSize!);
  const out = batches.map((items) => collate(items, c, numClasses, unbatched, arena)).prefetch(c.prefetch);
  // Between epochs the free blocks (about a batch and a decode window of images) are let go.
  async function* epoch() {
    try {
      yield* out;
    } finally {
      arena.clear();
    }
  }
  return new ImageDataset(() => epoch(), classNames, files, labels);
}

/** Keras' rule: the last `floor(split * n)` files are validation, the rest training. */
function split<T extends { slice(a?: number, b?: number): T; length: number }>(
  xs: T,
  fraction: number,
  part: 'training' | 'validation',
): T {
  const nVal = Math.trunc(fraction * xs.length);
  return part === 'training' ? xs.slice(0, xs.length - nVal) : xs.slice(xs.length - nVal);
}

type Opts = ImageDatasetOptions;
/**
 * Batches `{ xs, ys }` of the images under `dir`, one sub-folder per class (see ImageDatasetOptions).
 *
 * `keras.utils.image_dataset_from_directory` for Node. The file list, labels, shuffle and
 * training/validation split are Keras' exactly (NumPy's MT19937 is reproduced), so the same seed
 * selects the same files. Images are decoded and resized in worker threads (`DecodePool`).
 * Differences: only JPEG and PNG are decoded (.bmp/.gif files are listed, as Keras does, and then
 * skipped as bad files); the per-epoch shuffle order differs from tf.data's; bad files are skipped
 * with a warning (Keras fails) unless `onBadFile: 'error'`; special files (FIFOs...) are not listed.
 */
export function imageDatasetFromDirectory(
  dir: string,
  opts: Opts & { labelMode: null; subset: 'both' },
): Promise<[ImageDataset<UnlabeledImageBatch>, ImageDataset<UnlabeledImageBatch>]>;
export function imageDatasetFromDirectory(
  dir: string,
  opts: Opts & { labelMode: null },
): Promise<ImageDataset<UnlabeledImageBatch>>;
export function imageDatasetFromDirectory(
  dir: string,
  opts: Opts & { subset: 'both' },
): Promise<[ImageDataset<ImageBatch>, ImageDataset<ImageBatch>]>;
export function imageDatasetFromDirectory(dir: string, opts?: Opts): Promise<ImageDataset<ImageBatch>>;
export async function imageDatasetFromDirectory(
  dir: string,
  opts: Opts = {},
): Promise<
  ImageDataset<ImageBatch | UnlabeledImageBatch> | ImageDataset<ImageBatch | UnlabeledImageBatch>[]
> {
  const c = checkOptions(dir, opts);
  if (!(await isDir(dir)))
    throw new ArgumentError(`${OP}: directory '${dir}' does not exist or is not a directory`);
  const index = await indexDirectory(dir, c.labelMode !== null, opts.classNames);
  const { classNames } = index;
  let { files, labels } = index;
  if (c.labelMode === 'binary' && classNames?.length !== 2) {
    throw new ArgumentError(
      `${OP}: labelMode 'binary' needs exactly 2 classes, got ${JSON.stringify(classNames)}`,
    );
  }
  const print = opts.verbose === false ? () => {} : (m: string) => console.log(m);
  print(
    classNames
      ? `Found ${files.length} files belonging to ${classNames.length} classes.`
      : `Found ${files.length} files.`,
  );
  const seed = opts.seed ?? nextSeedValue() % 1_000_000;
  if (c.shuffle) {
    // Keras shuffles paths and labels with two generators of the same seed: the same permutation.
    const perm = new NumpyRandomState(seed).shuffle(Array.from(files.keys()));
    files = perm.map((i) => files[i]);
    if (labels) labels = Int32Array.from(perm, (i) => labels![i]);
  }
  const { validationSplit: fraction, subset } = opts;
  const noImages = `${OP}: no images found in '${dir}' (allowed formats: ${IMAGE_EXTENSIONS.join(', ')})`;
  if (fraction === undefined || subset === undefined) {
    if (files.length === 0) throw new ArgumentError(noImages);
    return makeDataset(files, labels, classNames, c, opts, c.shuffle, seed);
  }
  const nVal = Math.trunc(fraction * files.length);
  if (files.length > 0 && nVal === 0) {
    // Keras would silently use every file for validation and none for training here.
    throw new ArgumentError(
      `${OP}: validationSplit ${fraction} of ${files.length} files leaves no validation files`,
    );
  }
  const parts = (subset === 'both' ? ['training', 'validation'] : [subset]) as Array<
    'training' | 'validation'
  >;
  const out = parts.map((part) => {
    const f = split(files, fraction, part);
    if (f.length === 0) throw new ArgumentError(`${noImages.replace('no images', `no ${part} images`)}`);
    print(`Using ${f.length} files for ${part}.`);
    const l = labels ? split(labels, fraction, part) : null;
    // As in Keras, the validation set of subset 'both' is not shuffled each epoch.
    return makeDataset(
      f,
      l,
      classNames,
      c,
      opts,
      c.shuffle && !(subset === 'both' && part === 'validation'),
      seed,
    );
  });
  return subset === 'both' ? out : out[0];
}
