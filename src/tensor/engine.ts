import type { Storage } from './storage.js';

/**
 * Bookkeeping of live tensors and `tidy` scopes (as in TensorFlow.js).
 * Kept free of GPU calls so that `Tensor` can depend on it without cycles.
 */

export interface Tracked {
  readonly id: number;
  readonly storage: Storage;
  kept: boolean;
  readonly isDisposed: boolean;
  dispose(): void;
}

const scopes: Array<Set<Tracked>> = [];
const storages = new Map<Storage, number>();
let numTensors = 0;
let numBytes = 0;

let peakBytes = 0;

export function registerTensor(t: Tracked): void {
  numTensors++;
  const n = storages.get(t.storage) ?? 0;
  if (n === 0) {
    numBytes += t.storage.bytes;
    if (numBytes > peakBytes) peakBytes = numBytes;
  }
  storages.set(t.storage, n + 1);
  scopes[scopes.length - 1]?.add(t);
}

export function unregisterTensor(t: Tracked): void {
  numTensors--;
  const n = storages.get(t.storage)! - 1;
  if (n === 0) {
    storages.delete(t.storage);
    numBytes -= t.storage.bytes;
  } else storages.set(t.storage, n);
}

export function liveCounts(): { numTensors: number; numBytes: number; peakBytes: number } {
  return { numTensors, numBytes, peakBytes };
}

/** @internal Raises the high-water mark to at least `bytes` (restores an earlier peak). */
export function raisePeak(bytes: number): void {
  if (bytes > peakBytes) peakBytes = bytes;
}

/** Starts a new high-water mark at the current live bytes; returns the previous peak. */
export function resetPeak(): number {
  const prev = peakBytes;
  peakBytes = numBytes;
  return prev;
}

export function markKept(t: Tracked): void {
  t.kept = true;
  for (const s of scopes) s.delete(t);
}

export function pushScope(): void {
  scopes.push(new Set());
}

/** Ends the innermost scope: disposes its tensors except `keep`, which move to the parent scope. */
export function popScope(keep: Set<Tracked>): void {
  const scope = scopes.pop();
  if (!scope) return;
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (keep.has(t) || t.kept) {
      parent?.add(t);
    } else if (!t.isDisposed) {
      t.dispose();
    }
  }
}

export function scopeDepth(): number {
  return scopes.length;
}
