import { ArgumentError, fmtShape, ShapeError } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function assertShape(shape: unknown, arg = 'shape'): asserts shape is number[] {
  if (!Array.isArray(shape)) {
    throw new ShapeError(`${arg} must be an array of non-negative integers, got ${String(shape)}`);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(
        `${arg} must contain non-negative integers, got ${JSON.stringify(shape)} (bad entry ${String(d)})`,
      );
    }
  }
}

/** Row-major strides in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting of two shapes; throws naming both shapes when they are incompatible. */
export function broadcastShapes(a: Shape, b: Shape, op = 'op'): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together (dimension ${i} of the result: ${da} vs ${db})`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Normalizes `axis` (number, array, or undefined = all axes) against `rank`, allowing negative
 * values. Returns sorted unique axes; throws naming the bad axis.
 */
export function normalizeAxes(
  axis: number | readonly number[] | undefined | null,
  rank: number,
  op = 'op',
): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const out = new Set<number>();
  // A scalar accepts axis 0 / -1 (reducing a scalar over "its" axis is the identity), as NumPy-like APIs do.
  const r = Math.max(rank, 1);
  for (const a of list) {
    if (!Number.isInteger(a) || a < -r || a >= r) {
      throw new ArgumentError(`${op}: axis ${String(a)} is out of range for a tensor of rank ${rank}`);
    }
    const n = a < 0 ? a + r : a;
    if (out.has(n))
      throw new ArgumentError(`${op}: axis ${String(a)} is repeated in ${JSON.stringify(list)}`);
    out.add(n);
  }
  return [...out].filter((a) => a < rank).sort((x, y) => x - y);
}

/** Normalizes a single (possibly negative) axis. */
export function normalizeAxis(axis: number, rank: number, op = 'op', arg = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new ArgumentError(`${op}: ${arg} ${String(axis)} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}
