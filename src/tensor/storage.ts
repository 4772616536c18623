import { deviceGeneration } from './device.js';
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
  /** The device this buffer was created on (see `deviceGeneration`). */
  readonly generation = deviceGeneration();

  constructor(bytes: number, forUpload = false) {
    this.bytes = bytes;
    this.buffer = acquireBuffer(bytes, forUpload);
  }

  release(): void {
    // A buffer of a lost device is gone with it; never hand it to the new device's pool.
    if (--this.refs === 0 && this.generation === deviceGeneration()) releaseBuffer(this.buffer);
  }
}
