import { currentDevice, onDeviceLost } from './device.js';
import { DeviceError } from './errors.js';

/**
 * GPU storage buffers reused by size class. Buffers freed while commands that may still read them
 * are being recorded go to `dirty`: a later kernel output may take them (dispatches run in order),
 * but a CPU upload (queue.writeBuffer, which runs before the unsubmitted commands) only takes
 * buffers from `clean`. `flushed()` moves dirty buffers to clean after each submit.
 */

const USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08 /* COPY_DST */;
const MIN_BYTES = 16;

/** Rounds a request up to its size class so buffers of nearby sizes can be shared. */
export function sizeClass(bytes: number): number {
  const b = Math.max(MIN_BYTES, bytes);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  if (b >= 64 << 20) return Math.ceil(b / (1 << 20)) * (1 << 20); // exact-ish for huge tensors
  const p = 2 ** Math.floor(Math.log2(b));
  for (const c of [p, p * 1.25, p * 1.5, p * 1.75, p * 2]) if (c >= b) return c;
  return p * 2;
}

const clean = new Map<number, GPUBuffer[]>();
const dirty = new Map<number, GPUBuffer[]>();
let pooledBytes = 0;
let allocatedBytes = 0;
let toDestroy: GPUBuffer[] = [];
let maxPooledBytes = 1 << 30;

function take(map: Map<number, GPUBuffer[]>, size: number): GPUBuffer | undefined {
  const list = map.get(size);
  const buf = list?.pop();
  if (buf) pooledBytes -= size;
  return buf;
}

/**
 * A buffer of at least `bytes`. `forUpload` buffers are written from the CPU, so they must not be
 * read by commands not yet submitted.
 */
export function acquireBuffer(bytes: number, forUpload = false): GPUBuffer {
  const size = sizeClass(bytes);
  const reused = take(clean, size) ?? (forUpload ? undefined : take(dirty, size));
  if (reused) return reused;
  const device = currentDevice();
  if (size > device.limits.maxBufferSize) {
    throw new DeviceError(
      `cannot allocate a ${bytes}-byte tensor: the adapter's maxBufferSize is ${device.limits.maxBufferSize} bytes`,
    );
  }
  allocatedBytes += size;
  return device.createBuffer({ size, usage: USAGE });
}

export function releaseBuffer(buffer: GPUBuffer): void {
  const size = buffer.size;
  if (pooledBytes + size > maxPooledBytes) {
    // Destroy only after the commands using it are submitted.
    toDestroy.push(buffer);
    allocatedBytes -= size;
    return;
  }
  const list = dirty.get(size);
  if (list) list.push(buffer);
  else dirty.set(size, [buffer]);
  pooledBytes += size;
}

/** Called by the command queue after each submit. */
export function flushed(): void {
  for (const [size, list] of dirty) {
    const c = clean.get(size);
    if (c) c.push(...list);
    else clean.set(size, list.slice());
  }
  dirty.clear();
  for (const b of toDestroy) b.destroy();
  toDestroy = [];
}

/** Frees every pooled buffer (memory pressure, tests). Pending commands must be flushed first. */
export function drainPool(): void {
  for (const map of [clean, dirty]) {
    for (const list of map.values()) for (const b of list) b.destroy();
    map.clear();
  }
  allocatedBytes -= pooledBytes;
  pooledBytes = 0;
}

export function setMaxPooledBytes(bytes: number): void {
  maxPooledBytes = bytes;
}

export function poolStats(): { pooledBytes: number; allocatedBytes: number } {
  return { pooledBytes, allocatedBytes };
}

onDeviceLost(() => {
  clean.clear();
  dirty.clear();
  toDestroy = [];
  pooledBytes = 0;
  allocatedBytes = 0;
});
