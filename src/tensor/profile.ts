import { currentDevice } from './device.js';
import { raisePeak, resetPeak } from './engine.js';
import { ArgumentError, DeviceError } from './errors.js';
import { DISPATCHES_PER_BATCH, setDispatchTimer, sync } from './queue.js';
import { memory } from './scope.js';
import { gpuWait } from './wait.js';

/**
 * `profile(fn)`: runs fn with every GPU dispatch timed by timestamp queries, like TensorFlow.js's
 * `tf.profile`. Each dispatch then runs in its own compute pass, so the whole runs somewhat slower
 * than usual; the per-kernel times are what to compare.
 */

/** One kernel (pipeline) of a profile. */
export interface KernelTime {
  /**
   * The pipeline key: the op family and every value baked into its WGSL (tile, dtype...); for
   * kernels keyed by their WGSL text (reductions), its first line, which may cover several.
   */
  kernel: string;
  /** Dispatches of this pipeline. */
  calls: number;
  /** Their total GPU time, ms. */
  ms: number;
}

/** What `profile(fn)` returns. */
export interface KernelProfile<T> {
  /** What fn returned (resolved). */
  result: T;
  /** Wall time of fn, including waiting for the GPU to finish its work, ms. */
  wallMs: number;
  /** Sum of all timed dispatches, ms. */
  kernelMs: number;
  /** The number of GPU dispatches. */
  dispatches: number;
  /** Per pipeline, largest total time first. */
  kernels: KernelTime[];
  /** Tensors and bytes alive after fn minus before (what fn returned or leaked). */
  newTensors: number;
  /** Bytes of the tensors `fn` left alive (its result included). */
  newBytes: number;
  /** The peak of live tensor bytes during fn (`memory().peakBytes` if fn raised it). */
  peakBytes: number;
}

let active = false;

/**
 * Runs `fn` (sync or async) with its GPU dispatches timed, waits for the GPU, and returns the
 * time per kernel. Needs the adapter's `timestamp-query` feature (lavapipe and most GPUs have it).
 *
 * ```ts
 * const p = await profile(() => model.predict(x));
 * console.table(p.kernels.slice(0, 5));
 * p.result.dispose();
 * ```
 */
export async function profile<T>(fn: () => T | Promise<T>): Promise<KernelProfile<T>> {
  if (typeof fn !== 'function') throw new ArgumentError(`profile: fn must be a function, got ${typeof fn}`);
  if (active) throw new ArgumentError('profile: already profiling (profile calls cannot nest)');
  const device = currentDevice();
  if (!device.features.has('timestamp-query')) {
    throw new DeviceError(
      `profile: the adapter does not offer the 'timestamp-query' feature (features: ${[...device.features].join(', ') || 'none'})`,
    );
  }
  const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * DISPATCHES_PER_BATCH });
  const resolve = device.createBuffer({
    size: 16 * DISPATCHES_PER_BATCH,
    usage: 0x200 | 0x04 /* QUERY_RESOLVE | COPY_SRC */,
  });
  const batches: { keys: string[]; read: GPUBuffer }[] = [];
  const release = () => {
    for (const b of batches) b.read.destroy();
    querySet.destroy();
    resolve.destroy();
  };
  const before = memory();
  // fn's own high-water mark; the process-wide one is restored (raised) afterwards.
  const outerPeak = resetPeak();
  active = true;
  const t0 = performance.now();
  let result: T;
  let peakBytes = 0;
  try {
    setDispatchTimer({ querySet, resolve, batch: (keys, read) => batches.push({ keys: [...keys], read }) });
    result = await fn();
    await sync();
  } catch (e) {
    setDispatchTimer(undefined);
    release();
    throw e;
  } finally {
    setDispatchTimer(undefined);
    active = false;
    peakBytes = memory().peakBytes;
    raisePeak(outerPeak);
  }
  const wallMs = performance.now() - t0;
  const after = memory();
  const byKey = new Map<string, KernelTime>();
  let kernelMs = 0;
  let dispatches = 0;
  try {
    for (const b of batches) {
      await gpuWait(() => b.read.mapAsync(0x0001 /* GPUMapMode.READ */));
      const ts = new BigUint64Array(b.read.getMappedRange());
      b.keys.forEach((fullKey, i) => {
        // Some families key their pipelines by the whole WGSL; its first line names them.
        const key = fullKey.split('\n', 1)[0];
        const ns = ts[2 * i + 1] > ts[2 * i] ? Number(ts[2 * i + 1] - ts[2 * i]) : 0;
        const k = byKey.get(key) ?? { kernel: key, calls: 0, ms: 0 };
        k.calls++;
        k.ms += ns / 1e6;
        byKey.set(key, k);
        kernelMs += ns / 1e6;
        dispatches++;
      });
      b.read.unmap();
    }
  } finally {
    release();
  }
  return {
    result,
    wallMs,
    kernelMs,
    dispatches,
    kernels: [...byKey.values()].sort((a, b) => b.ms - a.ms),
    newTensors: after.numTensors - before.numTensors,
    newBytes: after.numBytes - before.numBytes,
    peakBytes,
  };
}
