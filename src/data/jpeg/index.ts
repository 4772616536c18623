import { toRgb } from './color.js';
import { componentPlane, type DctMethod } from './idct.js';
import { parseJpeg } from './parse.js';

export { JpegDataError } from './huffman.js';
export type { DctMethod } from './idct.js';

/** A decoded JPEG: interleaved RGB and the raw Exif payload (for the orientation tag). */
export interface JpegPixels {
  width: number;
  height: number;
  data: Uint8Array;
  exif: Uint8Array | null;
}

/**
 * Decodes a baseline or progressive JPEG to RGB with libjpeg-turbo's arithmetic (the IDCT named by
 * `dctMethod`, fancy upsampling, its YCbCr->RGB tables), so the pixels equal TensorFlow's
 * `tf.io.decode_jpeg(channels=3, dct_method=...)`. Throws JpegDataError on malformed data.
 */
export function decodeJpegRgb(bytes: Uint8Array, dctMethod: DctMethod, maxPixels: number): JpegPixels {
  const frame = parseJpeg(bytes, maxPixels);
  const planes = frame.components.map((c) => componentPlane(c, dctMethod));
  return { width: frame.width, height: frame.height, data: toRgb(frame, planes), exif: frame.exif };
}
