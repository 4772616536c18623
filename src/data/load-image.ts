import { readBytes, type Source } from '../io/resource.js';
import { tensor } from '../tensor/creation.js';
import { ArgumentError } from '../tensor/errors.js';
import { checkOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { DEFAULT_MAX_PIXELS, decodeAndResize, decodeImage } from './decode.js';
import { assertSize, type ResizeOptions } from './resize.js';

/** Options of `loadImage`. */
export interface LoadImageOptions extends ResizeOptions {
  /**
   * Output [height, width]: the image is resized bilinearly (as `imageDatasetFromDirectory`
   * does), after a centre crop or before a zero pad when `cropToAspectRatio` / `padToAspectRatio`
   * is set. Default: the image's own size.
   */
  size?: readonly [number, number];
  /** Refuse images whose header claims more pixels than this. Default 50 M. */
  maxPixels?: number;
}

/** What `loadImage` reads: a file path (Node), a URL (fetched; Node and browsers) or the file's bytes. */
export type ImageSource = Source | Uint8Array | ArrayBuffer;

const OP = 'loadImage';

function sourceName(src: ImageSource): string {
  if (src instanceof Uint8Array || src instanceof ArrayBuffer) return '<bytes>';
  return String(src);
}

/**
 * One JPEG or PNG image as a batch of one: float32 `[1, height, width, 3]`, values 0..255 (Keras's
 * `img_to_array(load_img(path, target_size=size))[None]`, with bilinear resizing), ready for
 * `mobileNetV2.preprocessInput` and `model.predict`:
 *
 * ```ts
 * const x = await loadImage('daisy.jpg', { size: [224, 224] });
 * const probs = await model.predict(mobileNetV2.preprocessInput(x));
 * ```
 *
 * `source` is a file path or `file:` URL in Node, an http(s)/blob/data URL (fetched) in Node or a
 * browser, or the file's bytes. Decoding runs on the CPU (the same decoder and resize as
 * `imageDatasetFromDirectory`); the caller owns (and disposes) the returned tensor. Errors name
 * the source.
 */
export async function loadImage(source: ImageSource, opts: LoadImageOptions = {}): Promise<Tensor> {
  const isBytes = source instanceof Uint8Array || source instanceof ArrayBuffer;
  if (!isBytes && !(source instanceof URL) && (typeof source !== 'string' || source === ''))
    throw new ArgumentError(
      `${OP}: source must be a path, a URL or the file's bytes (Uint8Array), got ${source === null ? 'null' : typeof source === 'string' ? '""' : typeof source}`,
    );
  checkOptions<LoadImageOptions>(
    opts,
    { size: true, maxPixels: true, cropToAspectRatio: true, padToAspectRatio: true },
    OP,
  );
  if (opts.size !== undefined) assertSize(opts.size, OP, 'size');
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1)
    throw new ArgumentError(
      `${OP}: maxPixels must be a positive integer, got ${JSON.stringify(opts.maxPixels)}`,
    );
  if (opts.size === undefined && (opts.cropToAspectRatio || opts.padToAspectRatio))
    throw new ArgumentError(`${OP}: cropToAspectRatio and padToAspectRatio need a size`);
  const bytes = isBytes
    ? source instanceof ArrayBuffer
      ? new Uint8Array(source)
      : source
    : await readBytes(OP, source as Source);
  const path = sourceName(source);
  if (opts.size === undefined) {
    const img = decodeImage(bytes, { path, maxPixels, dtype: 'float32' });
    return tensor(img.data, [1, img.height, img.width, 3]);
  }
  const { pixels } = decodeAndResize(bytes, {
    path,
    maxPixels,
    size: opts.size,
    cropToAspectRatio: opts.cropToAspectRatio,
    padToAspectRatio: opts.padToAspectRatio,
  });
  return tensor(pixels, [1, opts.size[0], opts.size[1], 3]);
}
