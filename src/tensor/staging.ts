import { currentDevice, onDeviceLost } from './device.js';
import { onDrain, sizeClass } from './pool.js';
import { afterSubmit, copyBuffer } from './queue.js';

/**
 * Large CPU -> GPU uploads through persistent, mapped staging buffers.
 *
 * `queue.writeBuffer` copies into a staging buffer that Dawn allocates for the call when the data
 * does not fit its 4 MiB ring. On lavapipe that is fresh host memory each time, and with the GPU busy
 * each call for a 27 MiB image batch held the main thread 80-275 ms (timed in the flowers epoch,
 * issue 20 part 7). Here the staging buffers are kept: one is written while mapped,
 * unmapped, copied into the tensor's buffer by a command recorded in order with the kernels, and
 * mapped again (asynchronously) once that copy is submitted, ready for a later upload.
 */

/** Uploads smaller than this go through `queue.writeBuffer` (Dawn's ring buffer handles them). */
export const STAGED_MIN_BYTES = 1 << 20;
/**
 * Staging bytes kept for reuse (idle and in flight): a few image batches in flight. A staging
 * buffer beyond this, or one larger than `MAX_KEPT_BUFFER` (a one-off upload: weights), is destroyed
 * after its copy.
 */
const MAX_KEPT_BYTES = 128 << 20;
const MAX_KEPT_BUFFER = 64 << 20;

/** Mapped staging buffers ready for a write, by size class. */
const idle = new Map<number, GPUBuffer[]>();
let idleBytes = 0;
/** Bytes of staging buffers being mapped again or waiting for their copy's submit. */
let busyBytes = 0;
/** Written and unmapped; their copy is recorded but not yet submitted. */
let unsubmitted: GPUBuffer[] = [];
let generation = 0;

/**
 * @internal Writes `bytes` bytes (a multiple of 4) into `dst` from offset 0: `fill` gets a mapped
 * range of at least that size and must write the first `bytes` bytes. The copy is recorded in the
 * command stream, so `dst` may be any pooled buffer, even one read by commands not yet submitted.
 */
export function stagedWrite(dst: GPUBuffer, bytes: number, fill: (range: ArrayBuffer) => void): void {
  const size = sizeClass(bytes);
  let staging = idle.get(size)?.pop();
  if (staging) idleBytes -= size;
  else
    staging = currentDevice().createBuffer({
      size,
      usage: 0x02 /* MAP_WRITE */ | 0x04 /* COPY_SRC */,
      mappedAtCreation: true,
    });
  busyBytes += size;
  try {
    fill(staging.getMappedRange(0, size));
  } finally {
    staging.unmap();
    copyBuffer(staging, 0, dst, 0, bytes);
    unsubmitted.push(staging);
  }
}

/** After a submit: the staging buffers whose copies it carried are mapped again for reuse. */
afterSubmit(() => {
  if (unsubmitted.length === 0) return;
  const gen = generation;
  for (const b of unsubmitted) {
    const size = b.size;
    if (size > MAX_KEPT_BUFFER || idleBytes + busyBytes > MAX_KEPT_BYTES) {
      busyBytes -= size;
      b.destroy(); // WebGPU frees it once the submitted copy has run
      continue;
    }
    b.mapAsync(0x02 /* WRITE */).then(
      () => {
        if (gen !== generation) return;
        busyBytes -= size;
        const list = idle.get(size);
        if (list) list.push(b);
        else idle.set(size, [b]);
        idleBytes += size;
      },
      () => {
        if (gen !== generation) return;
        busyBytes -= size;
        b.destroy();
      },
    );
  }
  unsubmitted = [];
});

/** @internal Bytes of staging buffers held (idle and in use), for `memory()`. */
export function stagingBytes(): number {
  return idleBytes + busyBytes;
}

function dropIdle(): void {
  for (const list of idle.values()) for (const b of list) b.destroy();
  idle.clear();
  idleBytes = 0;
}

onDrain(dropIdle);

onDeviceLost(() => {
  generation++;
  idle.clear();
  unsubmitted = [];
  idleBytes = 0;
  busyBytes = 0;
});
