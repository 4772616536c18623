import { liveCounts, markKept, popScope, pushScope, resetPeak, type Tracked } from './engine.js';
import { ArgumentError } from './errors.js';
import { poolStats } from './pool.js';
import { stagingBytes } from './staging.js';
import { Tensor } from './tensor.js';

/** Anything that may contain tensors: a tensor, arrays and plain objects of them. */
export type TensorContainer =
  | Tensor
  | TensorContainer[]
  | { [key: string]: TensorContainer }
  | undefined
  | null;

function collect(x: unknown, out: Set<Tracked>, seen = new Set<unknown>()): void {
  if (x instanceof Tensor) {
    out.add(x);
    return;
  }
  if (x === null || typeof x !== 'object' || seen.has(x)) return;
  seen.add(x);
  if (Array.isArray(x)) for (const v of x) collect(v, out, seen);
  else if (Object.getPrototypeOf(x) === Object.prototype)
    for (const v of Object.values(x)) collect(v, out, seen);
}

/**
 * Runs `fn` and disposes every tensor it created except those it returns (in arrays/objects too)
 * and those passed to `keep()`. `fn` must be synchronous, as in TensorFlow.js.
 */
export function tidy<T extends TensorContainer>(fn: () => T): T;
export function tidy<T extends TensorContainer>(name: string, fn: () => T): T;
export function tidy(fn: () => void): void;
export function tidy<T extends TensorContainer>(a: string | (() => T), b?: () => T): T {
  const fn = typeof a === 'function' ? a : b;
  if (typeof fn !== 'function')
    throw new ArgumentError('tidy: expected a function (or a name and a function)');
  pushScope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    popScope(new Set());
    throw e;
  }
  if (result instanceof Promise) {
    popScope(new Set());
    throw new ArgumentError('tidy: the function must be synchronous; it returned a Promise');
  }
  const keepSet = new Set<Tracked>();
  collect(result, keepSet);
  popScope(keepSet);
  return result;
}

/** Marks a tensor so that no enclosing `tidy` disposes it. Returns it. */
export function keep<T extends Tensor>(t: T): T {
  if (!(t instanceof Tensor)) {
    throw new ArgumentError(`keep: expected a Tensor, got ${t === null ? 'null' : typeof t}`);
  }
  markKept(t);
  return t;
}

/** Disposes every tensor found in `x` (a tensor, array or object of tensors). */
export function dispose(x: TensorContainer): void {
  const s = new Set<Tracked>();
  collect(x, s);
  for (const t of s) t.dispose();
}

/** What `memory()` reports: live tensors and GPU memory. */
export interface MemoryInfo {
  /** Live (not disposed) tensors. */
  numTensors: number;
  /** Bytes of tensor data held by live tensors (views of one buffer count once). */
  numBytes: number;
  /**
   * The most `numBytes` has been since the process started or since `resetPeakBytes()`: the
   * memory high-water mark of a pass, for sizing batches.
   */
  peakBytes: number;
  /** Bytes of GPU buffers kept in the pool for reuse. */
  pooledBytes: number;
  /** All bytes of GPU buffers allocated by the pool (live + pooled, rounded to size classes). */
  allocatedBytes: number;
  /**
   * Bytes of the mapped staging buffers kept for large uploads (1 MiB and up: image batches), on top
   * of `allocatedBytes`; freed by `drainPool()`.
   */
  stagingBytes: number;
}

/** Counts of live tensors and bytes, the high-water mark since `resetPeakBytes()`, and the buffer pool's size (like `tf.memory()`). */
export function memory(): MemoryInfo {
  const { numTensors, numBytes, peakBytes } = liveCounts();
  const { pooledBytes, allocatedBytes } = poolStats();
  return { numTensors, numBytes, peakBytes, pooledBytes, allocatedBytes, stagingBytes: stagingBytes() };
}

/**
 * Starts a new high-water mark for `memory().peakBytes` at the bytes live now, and returns the
 * previous peak: `resetPeakBytes(); model.predict(x); memory().peakBytes` is the predict's peak.
 */
export function resetPeakBytes(): number {
  return resetPeak();
}
