import { acquireBuffer, releaseBuffer } from './pool.js';

/**
 * A GPU buffer shared by the tensors that view it (reshape returns a view, not a copy).
 * Released to the pool when the last view is disposed.
 */
export class Storage {
  readonly buffer: GPUBuffer;
  /** Bytes of tensor data (the buffer may be larger: pool size class). */
  readonly bytes: number;
  refs = 0;

  constructor(bytes: number, forUpload = false) {
    this.bytes = bytes;
    this.buffer = acquireBuffer(bytes, forUpload);
  }

  release(): void {
    if (--this.refs === 0) releaseBuffer(this.buffer);
  }
}
