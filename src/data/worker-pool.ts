import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ArgumentError, WgslNnError } from '../tensor/errors.js';
import { checkOptions } from '../tensor/options.js';
import { checkDecodeOptions, type ResizedImage } from './decode.js';
import { ImageDecodeError } from './errors.js';
import type { DctMethod } from './jpeg/index.js';
import { assertResizeOptions, type Interpolation } from './resize.js';

/** One file for a worker: where it is and how to decode and resize it. */
export interface DecodeJob {
  /** The image file. */
  path: string;
  /** Output height. */
  height: number;
  /** Output width. */
  width: number;
  /** Crop the largest centred window of the output's aspect ratio first. */
  cropToAspectRatio?: boolean;
  /** Fit inside the output size and pad with zeros. */
  padToAspectRatio?: boolean;
  /** Refuse images whose header claims more pixels than this. */
  maxPixels?: number;
  /** Resize method (default 'bilinear') and antialiasing, as `tf.image.resize`. */
  interpolation?: Interpolation;
  /** Antialias when downscaling (as `tf.image.resize`). */
  antialias?: boolean;
  /** JPEG IDCT (default 'INTEGER_FAST', TensorFlow's). */
  dctMethod?: DctMethod;
  /** Apply the EXIF orientation of JPEGs (default false, as Keras). */
  applyExifOrientation?: boolean;
}

/** @internal Messages between the pool and `decode-worker.ts`. */
export interface WorkerRequest {
  id: number;
  job: DecodeJob;
  /** Shared memory to write the pixels into (no buffer is transferred back); absent: a new buffer. */
  into?: Float32Array;
}
/** @internal `pixels` is absent when the request gave `into` (the pixels are there). */
export type WorkerReply =
  | { id: number; ok: true; pixels?: Float32Array; srcWidth: number; srcHeight: number }
  | { id: number; ok: false; reason: string }
  | { ready: true };

/** Options of `new DecodePool()`. */
export interface DecodePoolOptions {
  /** Number of worker threads. Default: the number of cores (`os.availableParallelism()`). */
  size?: number;
  /** A job running longer than this fails and its worker is replaced. Default 60000 ms. */
  timeoutMs?: number;
}

/** Options of `DecodePool.run`. */
export interface DecodeRunOptions {
  /**
   * Where to write the pixels: a Float32Array of exactly `height * width * 3` values over a
   * `SharedArrayBuffer`, which the result's `pixels` then is. The worker writes into it directly, so
   * no buffer is allocated and transferred per image (each transferred buffer counts as new
   * external memory for V8, and at hundreds of images per second that forces a full garbage
   * collection every batch or so). Do not touch it until the promise settles; after a rejection
   * (a timed-out worker may still be stopping) do not reuse it. Default: a new buffer per image.
   */
  into?: Float32Array;
}

const STARTUP_MS = 60_000;

interface Task {
  id: number;
  job: DecodeJob;
  into?: Float32Array;
  resolve: (r: ResizedImage) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  task?: Task;
  timer?: ReturnType<typeof setTimeout>;
  exitReason?: string;
  /** The worker loaded its code (a failure before that is the pool's problem, not the file's). */
  ready: boolean;
}

/** How to start a worker: the compiled `.js` directly, or the `.ts` source through tsx's loader. */
function workerEntry(): { script: string | URL; evalCode: boolean } {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return { script: new URL('./decode-worker.js', here), evalCode: false };
  const req = createRequire(here);
  const pkgJson = req.resolve('tsx/package.json');
  const exp = (req(pkgJson) as { exports: Record<string, { import: { default: string } }> }).exports;
  const api = pathToFileURL(join(dirname(pkgJson), exp['./esm/api'].import.default)).href;
  const target = new URL('./decode-worker.ts', here).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
  return { script: code, evalCode: true };
}

/**
 * A pool of `node:worker_threads` that read, decode and resize image files, so that decoding
 * runs on other cores while the main thread drives the GPU. Each worker handles one job at a
 * time; jobs queue in order. A job that runs past `timeoutMs` (a hostile file, a FIFO that never
 * delivers data) or whose worker dies is rejected with an `ImageDecodeError` and the worker is
 * replaced, so one bad file can neither hang nor crash the process. Idle workers do not keep the
 * process alive. Node only.
 */
export class DecodePool {
  /** The number of workers (default: one per core). */
  readonly size: number;
  /** How long one job may run before its worker is replaced and the job rejected. */
  readonly timeoutMs: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private closed = false;

  constructor(opts: DecodePoolOptions = {}) {
    if (opts === null || typeof opts !== 'object')
      throw new ArgumentError(`DecodePool: expected an options object, got ${JSON.stringify(opts)}`);
    checkOptions<DecodePoolOptions>(opts, { size: true, timeoutMs: true }, 'DecodePool');
    const size = opts.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) {
      throw new ArgumentError(`DecodePool: size must be a positive integer, got ${String(opts.size)}`);
    }
    const timeoutMs = opts.timeoutMs ?? 60_000;
    if (!(typeof timeoutMs === 'number' && timeoutMs > 0)) {
      throw new ArgumentError(`DecodePool: timeoutMs must be a positive number, got ${String(timeoutMs)}`);
    }
    this.size = size;
    this.timeoutMs = timeoutMs;
  }

  /** Jobs queued or running. */
  get pending(): number {
    return this.queue.length + this.slots.filter((s) => s.task).length;
  }

  /**
   * Reads, decodes and resizes one file in a worker. Rejects with ImageDecodeError naming the path.
   * `opts.into` gives shared memory for the pixels (see DecodeRunOptions).
   */
  run(job: DecodeJob, opts: DecodeRunOptions = {}): Promise<ResizedImage> {
    if (this.closed) return Promise.reject(new WgslNnError('DecodePool.run: the pool was closed'));
    // A bad job must fail here: the worker's reply for it would be reported against job.path.
    const ok =
      job !== null &&
      typeof job === 'object' &&
      typeof job.path === 'string' &&
      [job.height, job.width].every((v) => Number.isInteger(v) && v > 0);
    if (!ok) {
      return Promise.reject(
        new ArgumentError(
          `DecodePool.run: job must be { path: string, height, width: positive integers }, got ${JSON.stringify(job)}`,
        ),
      );
    }
    let into: Float32Array | undefined;
    try {
      assertResizeOptions(job, 'DecodePool.run');
      checkDecodeOptions(job, 'DecodePool.run');
      into = checkInto(opts, job);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<ResizedImage>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, into, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops the workers; queued and running jobs are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new WgslNnError('DecodePool: the pool was closed while the job was pending');
    for (const t of this.queue.splice(0)) t.reject(err);
    const slots = this.slots.splice(0);
    for (const s of slots) {
      if (s.timer) clearTimeout(s.timer);
      s.task?.reject(err);
      s.task = undefined;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const { script, evalCode } = workerEntry();
    const worker = new Worker(script, { eval: evalCode, workerData: { wgslNnDecodeWorker: true } });
    const slot: Slot = { worker, ready: false };
    worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    worker.on('error', (e: Error) => {
      slot.exitReason = `the decode worker failed: ${e.message}`;
    });
    worker.on('exit', (code) => this.onExit(slot, code));
    this.slots.push(slot);
    return slot;
  }

  private dispatch(): void {
    while (this.queue.length > 0 && !this.closed) {
      let slot = this.slots.find((s) => !s.task);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.ref();
      this.arm(slot);
      slot.worker.postMessage({ id: task.id, job: task.job, into: task.into } satisfies WorkerRequest);
    }
  }

  /** The job's clock starts once the worker has loaded (start-up is not the file's fault). */
  private arm(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    const ms = slot.ready ? this.timeoutMs : Math.max(this.timeoutMs, STARTUP_MS);
    slot.timer = setTimeout(() => this.onTimeout(slot), ms);
  }

  private settle(slot: Slot): Task | undefined {
    const task = slot.task;
    if (slot.timer) clearTimeout(slot.timer);
    slot.task = undefined;
    slot.timer = undefined;
    return task;
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    if ('ready' in reply) {
      slot.ready = true;
      if (slot.task) this.arm(slot);
      return;
    }
    if (slot.task?.id !== reply.id) return;
    const task = this.settle(slot)!;
    if (!reply.ok) task.reject(new ImageDecodeError(task.job.path, reply.reason));
    else {
      // The worker sends pixels exactly when the request gave no `into`.
      const pixels = task.into ?? (reply.pixels as Float32Array);
      task.resolve({ pixels, srcWidth: reply.srcWidth, srcHeight: reply.srcHeight });
    }
    slot.worker.unref();
    this.dispatch();
  }

  /** Removes a dead or stopped worker, fails its job, and starts another if work is queued. */
  private retire(slot: Slot, reason: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    const task = this.settle(slot);
    if (task && slot.ready) task.reject(new ImageDecodeError(task.job.path, reason));
    else if (task) {
      // Every job would fail the same way: stop instead of blaming each file.
      const err = new WgslNnError(`DecodePool: a decode worker failed to start: ${reason}`);
      task.reject(err);
      for (const t of this.queue.splice(0)) t.reject(err);
    }
    this.dispatch();
  }

  private onTimeout(slot: Slot): void {
    const reason = slot.ready
      ? `decoding took longer than ${this.timeoutMs} ms; the worker was stopped`
      : `it did not load within ${Math.max(this.timeoutMs, STARTUP_MS)} ms`;
    this.retire(slot, reason);
    void slot.worker.terminate();
  }

  private onExit(slot: Slot, code: number): void {
    this.retire(slot, slot.exitReason ?? `the decode worker exited with code ${code}`);
  }
}

/** `opts.into`, checked: a SharedArrayBuffer view of the job's size, or undefined. */
function checkInto(opts: DecodeRunOptions, job: DecodeJob): Float32Array | undefined {
  if (opts === null || typeof opts !== 'object')
    throw new ArgumentError(`DecodePool.run: expected an options object, got ${JSON.stringify(opts)}`);
  checkOptions<DecodeRunOptions>(opts, { into: true }, 'DecodePool.run');
  const into = opts.into;
  if (into === undefined) return undefined;
  const need = job.height * job.width * 3;
  if (!(into instanceof Float32Array) || !(into.buffer instanceof SharedArrayBuffer)) {
    throw new ArgumentError(
      `DecodePool.run: into must be a Float32Array over a SharedArrayBuffer, got ${describeInto(into)}`,
    );
  }
  if (into.length !== need) {
    throw new ArgumentError(
      `DecodePool.run: into has ${into.length} values, but a ${job.height}x${job.width} RGB image needs ${need}`,
    );
  }
  return into;
}

function describeInto(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  const name = (v as object).constructor?.name ?? 'object';
  return v instanceof Float32Array ? `a Float32Array over an ${v.buffer.constructor.name}` : name;
}

let shared: DecodePool | undefined;

/** The process-wide pool used by `imageDatasetFromDirectory` by default (one worker per core). */
export function defaultDecodePool(): DecodePool {
  shared ??= new DecodePool();
  return shared;
}

/** Stops the default pool's workers (a later use starts a new pool). */
export async function closeDefaultDecodePool(): Promise<void> {
  const p = shared;
  shared = undefined;
  await p?.close();
}
