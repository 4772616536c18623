import { currentDevice, onDeviceLost, throwFaults, watchErrorScope } from './device.js';
import { DeviceError } from './errors.js';
import { readChecks } from './gpu-checks.js';
import { flushed, nameNewBuffers } from './pool.js';
import { gpuWait } from './wait.js';

/**
 * Records kernel dispatches into one command encoder and submits them in batches: at the end of
 * the current JS task (microtask), before any readback, or every MAX_DISPATCHES dispatches.
 * Uniform parameters of a batch live in one uniform buffer written just before the submit.
 */

export interface BufferBinding {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

export interface KernelCall {
  /** Names the kernel in profiles and errors. */
  key: string;
  /**
   * WGSL of a compute shader with entry point `main`, and the pipeline's cache key (so no key can
   * go stale). Bindings: the buffers in order, then the uniform block (if `params`) at binding
   * `buffers.length`, all in @group(0). Written by `defineKernel` (program.ts).
   */
  source: string;
  buffers: BufferBinding[];
  /** Bytes of the uniform block (packed by `defineKernel`); at most 256 bytes. */
  params?: ArrayBuffer;
  workgroups: readonly [number, number?, number?];
}

const UNIFORM_SLOT = 256;
const UNIFORM_SLOTS = 256;
const MAX_DISPATCHES = 128;
/** @internal Dispatches per submitted batch (at most). */
export const DISPATCHES_PER_BATCH = MAX_DISPATCHES;

const pipelines = new Map<string, GPUComputePipeline>();

/**
 * @internal Kernel timing (see profile.ts): while set, every dispatch runs in its own compute pass
 * with timestamps written at its start and end, and each submitted batch hands its query set
 * (resolved into `read`, mappable after the submit) and the kernel keys to `batch`.
 */
export interface DispatchTimer {
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  /** Called at submit with a fresh readback buffer holding 2 timestamps per key. */
  batch(keys: string[], read: GPUBuffer): void;
}
let timer: DispatchTimer | undefined;
let timedKeys: string[] = [];

/** @internal Starts (or, with undefined, stops) timing dispatches; flushes what is recorded. */
export function setDispatchTimer(t: DispatchTimer | undefined): void {
  flush();
  timer = t;
}
let encoder: GPUCommandEncoder | undefined;
let pass: GPUComputePassEncoder | undefined;
let uniformBuffer: GPUBuffer | undefined;
const uniformData = new Uint8Array(UNIFORM_SLOT * UNIFORM_SLOTS);
let uniformSlots = 0;
let dispatches = 0;
/** The first kernel of the batch being recorded (named when WebGPU rejects the batch). */
let batchFirst: string | undefined;
let flushScheduled = false;
let totalDispatches = 0;
let compileMs = 0;

/** The pipeline of WGSL `source` (compiled on first use; `key` labels it). */
export function getPipeline(key: string, source: string): GPUComputePipeline {
  let p = pipelines.get(source);
  if (!p) {
    const device = currentDevice();
    const t0 = performance.now();
    const module = device.createShaderModule({ code: source, label: key });
    p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
    compileMs += performance.now() - t0;
    pipelines.set(source, p);
  }
  return p;
}

function ensurePass(): GPUComputePassEncoder {
  if (!pass) {
    const device = currentDevice();
    if (!uniformBuffer) {
      uniformBuffer = device.createBuffer({
        size: uniformData.byteLength,
        usage: 0x40 | 0x08 /* UNIFORM|COPY_DST */,
      });
    }
    encoder = device.createCommandEncoder();
    pass = encoder.beginComputePass();
  }
  if (!flushScheduled) {
    flushScheduled = true;
    queueMicrotask(() => {
      flushScheduled = false;
      flush();
    });
  }
  return pass;
}

/** Records one dispatch. Does nothing for an empty grid. */
export function runKernel(call: KernelCall): void {
  const [x, y = 1, z = 1] = call.workgroups;
  if (x === 0 || y === 0 || z === 0) return;
  const device = currentDevice();
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  if (x > max || y > max || z > max) {
    throw new DeviceError(
      `${call.key}: dispatch [${x},${y},${z}] exceeds maxComputeWorkgroupsPerDimension ${max}`,
    );
  }
  nameNewBuffers(call.key);
  batchFirst ??= call.key;
  const pipeline = getPipeline(call.key, call.source);
  if (call.params && call.params.byteLength > UNIFORM_SLOT) {
    throw new DeviceError(
      `${call.key}: uniform block of ${call.params.byteLength} bytes exceeds ${UNIFORM_SLOT}`,
    );
  }
  if (call.params && uniformSlots === UNIFORM_SLOTS) flush();
  const p = ensurePass();
  const entries: GPUBindGroupEntry[] = call.buffers.map((b, i) => ({
    binding: i,
    resource: { buffer: b.buffer, offset: b.offset ?? 0, size: b.size },
  }));
  if (call.params) {
    const off = uniformSlots * UNIFORM_SLOT;
    uniformData.set(new Uint8Array(call.params), off);
    uniformSlots++;
    entries.push({
      binding: call.buffers.length,
      resource: {
        buffer: uniformBuffer!,
        offset: off,
        size: Math.max(16, Math.ceil(call.params.byteLength / 16) * 16),
      },
    });
  }
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  let q = p;
  if (timer) {
    // Its own pass, bracketed by timestamps (slots 2i and 2i+1 of this batch).
    p.end();
    const i = timedKeys.length;
    timedKeys.push(call.key);
    q = encoder!.beginComputePass({
      timestampWrites: {
        querySet: timer.querySet,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      },
    });
  }
  q.setPipeline(pipeline);
  q.setBindGroup(0, bindGroup);
  q.dispatchWorkgroups(x, y, z);
  if (timer) {
    q.end();
    pass = encoder!.beginComputePass();
  }
  dispatches++;
  totalDispatches++;
  if (dispatches >= MAX_DISPATCHES) flush();
}

/** Records a buffer-to-buffer copy (ends the current compute pass). */
export function copyBuffer(
  src: GPUBuffer,
  srcOffset: number,
  dst: GPUBuffer,
  dstOffset: number,
  bytes: number,
): void {
  nameNewBuffers('copy');
  batchFirst ??= 'copy';
  ensurePass();
  pass!.end();
  encoder!.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  pass = encoder!.beginComputePass();
}

const submitHooks: (() => void)[] = [];
/** @internal Registers `fn` to run after each submit (staging buffers are mapped again). */
export function afterSubmit(fn: () => void): void {
  submitHooks.push(fn);
}

/** Submits everything recorded so far. */
export function flush(): void {
  if (!encoder) {
    // Nothing recorded: buffers freed since the last submit are already safe to upload into.
    flushed();
    return;
  }
  const device = currentDevice();
  pass!.end();
  if (timer && timedKeys.length > 0) {
    const bytes = timedKeys.length * 16;
    encoder.resolveQuerySet(timer.querySet, 0, timedKeys.length * 2, timer.resolve, 0);
    const read = device.createBuffer({ size: bytes, usage: 0x01 | 0x08 /* MAP_READ|COPY_DST */ });
    encoder.copyBufferToBuffer(timer.resolve, 0, read, 0, bytes);
    timer.batch(timedKeys, read);
  }
  timedKeys = [];
  // One scope per batch (not per dispatch): an invalid buffer or pipeline makes WebGPU drop the
  // whole batch, which must surface as an error at the next sync or readback, not as garbage.
  const n = dispatches;
  const first = batchFirst;
  device.pushErrorScope('validation');
  if (uniformSlots > 0)
    device.queue.writeBuffer(uniformBuffer!, 0, uniformData, 0, uniformSlots * UNIFORM_SLOT);
  device.queue.submit([encoder.finish()]);
  watchErrorScope(
    device.popErrorScope(),
    (e) =>
      `WebGPU rejected a batch of commands (${n} dispatches, starting with '${first}'), so their ` +
      `outputs hold undefined values: ${e.message.split('\n')[0]}`,
  );
  batchFirst = undefined;
  encoder = undefined;
  pass = undefined;
  uniformSlots = 0;
  dispatches = 0;
  flushed();
  for (const fn of submitHooks) fn();
}

/**
 * Waits until the GPU has finished everything submitted (and flushes what is recorded). Throws a
 * DeviceError if WebGPU reported an error since the last sync or readback (out of memory...), and
 * the error of a GPU check a kernel tripped (src/tensor/gpu-checks.ts: labels out of range...).
 */
export async function sync(): Promise<void> {
  flush();
  const queue = currentDevice().queue;
  await gpuWait(() => queue.onSubmittedWorkDone());
  await throwFaults();
  await readChecks();
}

export function queueStats(): { pipelines: number; dispatches: number; compileMs: number } {
  return { pipelines: pipelines.size, dispatches: totalDispatches, compileMs };
}

onDeviceLost(() => {
  pipelines.clear();
  timer = undefined;
  timedKeys = [];
  encoder = undefined;
  pass = undefined;
  uniformBuffer = undefined;
  uniformSlots = 0;
  dispatches = 0;
  batchFirst = undefined;
});
