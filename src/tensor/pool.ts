import { currentDevice, onDeviceLost, watchErrorScope } from './device.js';
import { liveCounts } from './engine.js';
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

/** A buffer just created, for the report if its allocation turns out to have failed. */
interface NewBuffer {
  buffer: GPUBuffer;
  bytes: number;
  /** What the buffer was for: the first kernel dispatched after its creation, or an upload. */
  use?: string;
}
// Buffers whose allocation failed (WebGPU hands out an invalid buffer and reports the error
// asynchronously): never pooled, destroyed when released.
const failed = new WeakSet<GPUBuffer>();
let unnamed: NewBuffer[] = [];

/** Called before each dispatch: buffers created since the last one are for this kernel's output. */
export function nameNewBuffers(kernel: string): void {
  if (unnamed.length === 0) return;
  for (const b of unnamed) b.use = `kernel '${kernel}'`;
  unnamed = [];
}

/** True if the allocation of `buffer` was reported failed. */
export function isFailedBuffer(buffer: GPUBuffer): boolean {
  return failed.has(buffer);
}

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
  lastUse.set(size, ++tick);
  const reused = take(clean, size) ?? (forUpload ? undefined : take(dirty, size));
  if (reused) return reused;
  const device = currentDevice();
  if (size > device.limits.maxBufferSize) {
    throw new DeviceError(
      `cannot allocate a ${bytes}-byte tensor: the adapter's maxBufferSize is ${device.limits.maxBufferSize} bytes`,
    );
  }
  allocatedBytes += size;
  // Scopes per created buffer, not per dispatch: pooled buffers make creation rare in a training
  // loop (about 3 us each, measured on lavapipe).
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const buffer = device.createBuffer({ size, usage: USAGE });
  const info: NewBuffer = { buffer, bytes, use: forUpload ? 'an upload from the CPU' : undefined };
  if (!forUpload) {
    if (unnamed.length >= 256) unnamed = [];
    unnamed.push(info);
  }
  const onError = (e: GPUError) => allocationFailed(info, e);
  watchErrorScope(device.popErrorScope(), onError);
  watchErrorScope(device.popErrorScope(), onError);
  return buffer;
}

const fmtMiB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** Quarantines a buffer whose creation failed and says what happened and what to do. */
function allocationFailed(info: NewBuffer, error: GPUError): string {
  const { buffer } = info;
  failed.add(buffer);
  // Already released into the pool: take it out so no later tensor gets it.
  for (const map of [clean, dirty]) {
    const list = map.get(buffer.size);
    const i = list?.indexOf(buffer) ?? -1;
    if (i >= 0) {
      list!.splice(i, 1);
      pooledBytes -= buffer.size;
      allocatedBytes -= buffer.size;
      buffer.destroy();
    }
  }
  const oom = error.constructor.name === 'GPUOutOfMemoryError';
  // Give the memory kept for reuse back, so that a retry with a smaller batch can succeed.
  // Clean buffers are not used by unsubmitted commands, so destroying them is safe.
  const freed = oom ? freeClean() : 0;
  const { numTensors, numBytes } = liveCounts();
  return (
    `${oom ? 'out of GPU memory' : 'GPU buffer allocation failed'}: a ${info.bytes}-byte ` +
    `(${fmtMiB(info.bytes)}) buffer for ${info.use ?? 'a tensor'} could not be created ` +
    `(${error.message.split('\n')[0]}); tensors computed with it hold undefined values. ` +
    `memory() reports ${numBytes} bytes (${fmtMiB(numBytes)}) live in ${numTensors} tensors and ` +
    `${pooledBytes} bytes pooled${freed > 0 ? ` after freeing ${freed} pooled bytes` : ''}. ` +
    'Reduce the batch size (or the image/model size), dispose tensors you no longer need ' +
    '(tidy(), dispose()), then retry.'
  );
}

function freeClean(): number {
  let freed = 0;
  for (const list of clean.values()) {
    for (const b of list) {
      freed += b.size;
      b.destroy();
    }
  }
  clean.clear();
  pooledBytes -= freed;
  allocatedBytes -= freed;
  return freed;
}

export function releaseBuffer(buffer: GPUBuffer): void {
  const size = buffer.size;
  if (failed.has(buffer)) {
    toDestroy.push(buffer);
    allocatedBytes -= size;
    return;
  }
  lastUse.set(size, ++tick);
  if (pooledBytes + size > maxPooledBytes) evictStale(pooledBytes + size - maxPooledBytes, size);
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

// When a size class was last taken or given back, so that a full pool gives up the buffers of the
// sizes used longest ago (shapes of an earlier batch size or model) rather than the one in use.
const lastUse = new Map<number, number>();
let tick = 0;

/** Destroys clean pooled buffers of the least recently used size classes (never `keep`). */
function evictStale(bytes: number, keep: number): void {
  const sizes = [...clean.keys()].filter((sz) => sz !== keep && clean.get(sz)!.length > 0);
  sizes.sort((a, b) => (lastUse.get(a) ?? 0) - (lastUse.get(b) ?? 0));
  let freed = 0;
  for (const sz of sizes) {
    const list = clean.get(sz)!;
    while (list.length > 0 && freed < bytes) {
      list.pop()!.destroy(); // clean: no unsubmitted command uses it
      freed += sz;
    }
    if (list.length === 0) clean.delete(sz);
    if (freed >= bytes) break;
  }
  pooledBytes -= freed;
  allocatedBytes -= freed;
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

const drainHooks: (() => void)[] = [];
/** @internal Registers `fn` to free what it keeps when the pool is drained (staging buffers). */
export function onDrain(fn: () => void): void {
  drainHooks.push(fn);
}

/** Frees every pooled buffer (memory pressure, tests). Pending commands must be flushed first. */
export function drainPool(): void {
  for (const fn of drainHooks) fn();
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
  lastUse.clear();
  clean.clear();
  dirty.clear();
  toDestroy = [];
  unnamed = [];
  pooledBytes = 0;
  allocatedBytes = 0;
});
