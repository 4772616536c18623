import { ArgumentError } from '../tensor/errors.js';
import { ImageDecodeError } from './errors.js';
import { applyOrientation, exifOrientation } from './exif.js';
import { type DctMethod, decodeJpegRgb, JpegDataError } from './jpeg/index.js';
import { decodePng, PNG_SIGNATURE, pngHeader } from './png.js';
import {
  assertResizeOptions,
  assertSize,
  type ImageResizeOptions,
  resampleInto,
  resizePlan,
} from './resize.js';

/**
 * JPEG and PNG decoding to interleaved RGB, following `tf.image.decode_image(channels=3)` (what
 * Keras' `image_dataset_from_directory` uses): grey is replicated to RGB, alpha is dropped (not
 * composited), 16-bit samples keep their high byte, palettes are expanded. JPEGs give the same
 * pixels as TensorFlow's libjpeg-turbo (see `jpeg/`): by default its `INTEGER_FAST` IDCT, as
 * `decode_image` uses; `dctMethod: 'INTEGER_ACCURATE'` gives libjpeg-turbo's own default (Pillow's). The format comes from
 * the magic bytes, never from the file name. The header is parsed here first so that an image
 * claiming more than `maxPixels` is refused before anything is allocated. Every failure is an
 * `ImageDecodeError` naming the path. No Node-only imports (pngjs needs a global `Buffer`); PNG
 * specifics are in `png.ts`.
 */

export const DEFAULT_MAX_PIXELS = 50_000_000;

/** An image format recognised by its signature (only JPEG and PNG are decoded). */
export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'bmp' | 'webp' | 'tiff';

/** What `readImageHeader` reads without decoding. */
export interface ImageHeader {
  /** The format. */
  format: 'jpeg' | 'png';
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Options of `decodeImage` and `decodeAndResize`. */
export interface DecodeOptions {
  /** Named in errors. Default `<bytes>`. */
  path?: string;
  /** Refuse images whose header claims more pixels than this. Default 50 M. */
  maxPixels?: number;
  /**
   * The JPEG inverse DCT, as `tf.io.decode_jpeg(dct_method=...)`: `'INTEGER_FAST'` (default, what
   * TensorFlow and so Keras use) or `'INTEGER_ACCURATE'` (libjpeg-turbo's default, Pillow's).
   */
  dctMethod?: DctMethod;
  /**
   * Rotate / mirror JPEGs as their EXIF orientation tag says (as Pillow's `exif_transpose`; PNGs
   * are returned as stored).
   * Default false: like Keras, the tag is ignored and the stored pixels are returned.
   */
  applyExifOrientation?: boolean;
}

/** RGB pixels, row-major `[height, width, 3]`. */
export interface DecodedImage<D extends Uint8Array | Float32Array = Uint8Array> {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Always 3 (RGB; grayscale and CMYK are converted). */
  channels: 3;
  /** The pixels, row-major RGB (`height * width * 3` values). */
  data: D;
}

const starts = (b: Uint8Array, sig: readonly number[], at = 0): boolean =>
  b.length >= at + sig.length && sig.every((v, i) => b[at + i] === v);
const ascii = (s: string): number[] => Array.from(s, (ch) => ch.charCodeAt(0));

/** The image format from the magic bytes, or null when none is recognised. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (!(bytes instanceof Uint8Array))
    throw new ArgumentError(
      `sniffFormat: bytes must be a Uint8Array (or Buffer), got ${bytes === null ? 'null' : typeof bytes}`,
    );
  if (starts(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (starts(bytes, PNG_SIGNATURE)) return 'png';
  if (starts(bytes, ascii('GIF87a')) || starts(bytes, ascii('GIF89a'))) return 'gif';
  if (starts(bytes, ascii('BM')) && bytes.length >= 26) return 'bmp';
  if (starts(bytes, ascii('RIFF')) && starts(bytes, ascii('WEBP'), 8)) return 'webp';
  if (starts(bytes, [0x49, 0x49, 0x2a, 0]) || starts(bytes, [0x4d, 0x4d, 0, 0x2a])) return 'tiff';
  return null;
}

function fail(path: string, reason: string): never {
  throw new ImageDecodeError(path, reason);
}

function describe(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'the file is empty (0 bytes)';
  const head = Array.from(bytes.subarray(0, 8), (v) => v.toString(16).padStart(2, '0')).join(' ');
  return `not a JPEG or PNG image (${bytes.length} bytes starting with ${head})`;
}

const be16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];

/** Walks the JPEG markers up to the frame header (SOF) and returns its size. */
function jpegHeader(b: Uint8Array, path: string): ImageHeader {
  let o = 2;
  for (;;) {
    if (o >= b.length) fail(path, 'truncated JPEG: the file ends before the frame header (SOF)');
    if (b[o] !== 0xff)
      fail(path, `corrupt JPEG: expected a marker at byte ${o}, found 0x${b[o].toString(16)}`);
    while (o < b.length && b[o] === 0xff) o++;
    if (o >= b.length) fail(path, 'truncated JPEG: the file ends inside a marker');
    const m = b[o++];
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) continue; // markers without a length
    if (m === 0xd9) fail(path, 'corrupt JPEG: end of image before any frame header');
    if (m === 0xda) fail(path, 'corrupt JPEG: scan data before the frame header (SOF)');
    if (o + 2 > b.length) fail(path, 'truncated JPEG: the file ends inside a segment length');
    const len = be16(b, o);
    if (len < 2) fail(path, `corrupt JPEG: segment 0xff${m.toString(16)} has length ${len}`);
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (isSof) {
      if (o + 8 > b.length) fail(path, 'truncated JPEG: the file ends inside the frame header');
      if (m > 0xc2) {
        const kind = m >= 0xc9 ? 'arithmetic-coded' : 'lossless or hierarchical';
        fail(path, `unsupported JPEG: ${kind} (SOF${m - 0xc0}); only baseline and progressive are decoded`);
      }
      if (b[o + 2] !== 8) {
        fail(path, `unsupported JPEG: ${b[o + 2]}-bit samples; only 8-bit JPEGs are decoded (as TensorFlow)`);
      }
      const nc = b[o + 7];
      if (nc !== 1 && nc !== 3 && nc !== 4) {
        fail(
          path,
          `unsupported JPEG: ${nc} colour components; only 1 (grey), 3 (YCbCr/RGB) and 4 (CMYK/YCCK)`,
        );
      }
      const height = be16(b, o + 3);
      const width = be16(b, o + 5);
      if (width === 0 || height === 0) {
        fail(path, `unsupported JPEG: the frame header gives size ${width}x${height} (0 means a DNL marker)`);
      }
      return { format: 'jpeg', width, height };
    }
    o += len;
  }
}

/** Format and size from the header alone (nothing is decoded). Throws ImageDecodeError. */
export function readImageHeader(bytes: Uint8Array, path = '<bytes>'): ImageHeader {
  assertBytes(bytes, 'readImageHeader');
  const format = sniffFormat(bytes);
  if (format === 'jpeg') return jpegHeader(bytes, path);
  if (format === 'png') return { format, ...pngHeader(bytes, path) };
  if (format) fail(path, `unsupported image format ${format.toUpperCase()}: only JPEG and PNG are decoded`);
  return fail(path, describe(bytes));
}

function assertBytes(bytes: unknown, op: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new ArgumentError(`${op}: bytes must be a Uint8Array (or Buffer), got ${typeof bytes}`);
  }
}

function checkedHeader(bytes: Uint8Array, opts: DecodeOptions, op: string): ImageHeader {
  assertBytes(bytes, op);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(typeof maxPixels === 'number' && maxPixels > 0)) {
    throw new ArgumentError(`${op}: maxPixels must be a positive number, got ${String(maxPixels)}`);
  }
  const path = opts.path ?? '<bytes>';
  const header = readImageHeader(bytes, path);
  const pixels = header.width * header.height;
  if (pixels > maxPixels) {
    fail(
      path,
      `the header claims ${header.width}x${header.height} = ${pixels} pixels, over maxPixels = ${maxPixels}`,
    );
  }
  return header;
}

/** @internal Checks `dctMethod` and `applyExifOrientation` (shared with DecodePool.run). */
export function checkDecodeOptions(opts: DecodeOptions, op: string): void {
  const m = opts.dctMethod;
  if (m !== undefined && m !== 'INTEGER_FAST' && m !== 'INTEGER_ACCURATE') {
    throw new ArgumentError(
      `${op}: dctMethod must be 'INTEGER_FAST' or 'INTEGER_ACCURATE', got ${JSON.stringify(m)}`,
    );
  }
  const a = opts.applyExifOrientation;
  if (a !== undefined && typeof a !== 'boolean') {
    throw new ArgumentError(`${op}: applyExifOrientation must be a boolean, got ${JSON.stringify(a)}`);
  }
}

function decodeInto<D extends Uint8Array | Float32Array>(
  bytes: Uint8Array,
  opts: DecodeOptions,
  op: string,
  make: (n: number) => D,
): DecodedImage<D> {
  const path = opts.path ?? '<bytes>';
  checkDecodeOptions(opts, op);
  const h = checkedHeader(bytes, opts, op);
  const n = h.width * h.height;
  try {
    if (h.format === 'png') {
      return { width: h.width, height: h.height, channels: 3, data: decodePng(bytes, path, n, make(n * 3)) };
    }
    const img = decodeJpegRgb(bytes, opts.dctMethod ?? 'INTEGER_FAST', opts.maxPixels ?? DEFAULT_MAX_PIXELS);
    if (img.width !== h.width || img.height !== h.height) {
      throw new JpegDataError(
        `decoded ${img.width}x${img.height} but the header says ${h.width}x${h.height}`,
      );
    }
    let data: D;
    if (make(0) instanceof Uint8Array) data = img.data as D;
    else {
      data = make(n * 3);
      data.set(img.data);
    }
    const o = opts.applyExifOrientation ? exifOrientation(img.exif) : 1;
    const r = applyOrientation(data, img.width, img.height, 3, o, make);
    return { width: r.width, height: r.height, channels: 3, data: r.data };
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    const what = e instanceof RangeError ? 'out of memory' : `corrupt ${h.format.toUpperCase()} data`;
    throw new ImageDecodeError(path, `${what} (${msg})`);
  }
}

/**
 * Decodes a JPEG or PNG (detected from its bytes) to RGB. `dtype: 'uint8'` (default) gives a
 * Uint8Array; `'float32'` gives values 0..255 as floats, keeping the precision of 16-bit PNGs.
 */
export function decodeImage(
  bytes: Uint8Array,
  opts?: DecodeOptions & { dtype?: 'uint8' },
): DecodedImage<Uint8Array>;
export function decodeImage(
  bytes: Uint8Array,
  opts: DecodeOptions & { dtype: 'float32' },
): DecodedImage<Float32Array>;
export function decodeImage(
  bytes: Uint8Array,
  opts: DecodeOptions & { dtype?: 'uint8' | 'float32' } = {},
): DecodedImage<Uint8Array> | DecodedImage<Float32Array> {
  if (opts === null || typeof opts !== 'object')
    throw new ArgumentError(`decodeImage: options must be an object, got ${JSON.stringify(opts)}`);
  const dtype = opts.dtype ?? 'uint8';
  if (dtype === 'float32') return decodeInto(bytes, opts, 'decodeImage', (n) => new Float32Array(n));
  if (dtype !== 'uint8') {
    throw new ArgumentError(`decodeImage: dtype must be 'uint8' or 'float32', got ${JSON.stringify(dtype)}`);
  }
  return decodeInto(bytes, opts, 'decodeImage', (n) => new Uint8Array(n));
}

export interface DecodeResizeOptions extends DecodeOptions, ImageResizeOptions {
  /** Output [height, width]. */
  size: readonly [number, number];
}

/** Decoded and resized pixels, float32 `[size[0], size[1], 3]` in 0..255, and the source size. */
export interface ResizedImage {
  /** The resized RGB pixels, row-major, in 0..255. */
  pixels: Float32Array;
  /** The decoded image's width before resizing. */
  srcWidth: number;
  /** The decoded image's height before resizing. */
  srcHeight: number;
}

/**
 * One image file as Keras loads it: decode to 8-bit RGB, then resize with `interpolation`
 * (default bilinear; optionally with crop or pad to keep the aspect ratio). `out` may be given to write into a reused buffer.
 */
export function decodeAndResize(
  bytes: Uint8Array,
  opts: DecodeResizeOptions,
  out?: Float32Array,
): ResizedImage {
  if (opts === null || typeof opts !== 'object')
    throw new ArgumentError(
      `decodeAndResize: options { size, ... } are required, got ${JSON.stringify(opts)}`,
    );
  assertSize(opts.size, 'decodeAndResize', 'size');
  assertResizeOptions(opts, 'decodeAndResize');
  const img = decodeImage(bytes, opts);
  const plan = resizePlan(img.height, img.width, opts.size, opts, 'decodeAndResize');
  const need = plan.outH * plan.outW * 3;
  const pixels = out ?? new Float32Array(need);
  if (pixels.length !== need) {
    throw new ArgumentError(`decodeAndResize: out has ${pixels.length} values, the image needs ${need}`);
  }
  resampleInto(img.data, img.width, 3, plan, pixels);
  return { pixels, srcWidth: img.width, srcHeight: img.height };
}
