import { WgslNnError } from '../tensor/errors.js';

/**
 * An image file could not be decoded: unknown or unsupported format, truncated or corrupt data,
 * or a header that claims more pixels than allowed. `path` names the file (or `<bytes>` when
 * decoding a buffer that has no path) and `reason` says what is wrong with it.
 */
export class ImageDecodeError extends WgslNnError {
  /** The file (or `<bytes>`) that could not be decoded. */
  readonly path: string;
  /** Why, in words. */
  readonly reason: string;

  constructor(path: string, reason: string) {
    super(`decodeImage: cannot decode '${path}': ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}
