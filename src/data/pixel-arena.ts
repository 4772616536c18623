/**
 * Reused shared memory for decoded images (Node).
 *
 * A decode worker that returns each image in a new transferred buffer hands the main thread a new
 * block of external memory per image, and V8 answers external-memory growth with full garbage
 * collections: on the flowers lab (3,259 images of 192x192 per epoch with validation, 442 KB each) that was 126
 * mark-compacts per epoch, about 3.7 s of the main thread and 2 s more in V8's helper threads.
 * Blocks of a `SharedArrayBuffer` are not counted per isolate, and reusing them means none are
 * allocated once the pipeline is full. @internal
 */
export class PixelArena {
  private free: Float32Array[] = [];

  /** @param length Float32 values per block (an image's `height * width * 3`). */
  constructor(readonly length: number) {}

  /** A block of `length` values: a free one, or a new one. Its contents are unspecified. */
  take(): Float32Array {
    return this.free.pop() ?? new Float32Array(new SharedArrayBuffer(this.length * 4));
  }

  /** Returns a block taken from this arena; nothing may write to it afterwards. */
  give(block: Float32Array): void {
    if (block.length === this.length && block.buffer instanceof SharedArrayBuffer) this.free.push(block);
  }

  /** Drops the free blocks (blocks in use are returned later as usual). */
  clear(): void {
    this.free = [];
  }

  /** How many free blocks it holds. */
  get size(): number {
    return this.free.length;
  }
}
