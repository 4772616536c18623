import { fill } from '../../src/index.js';

/**
 * Plain TypeScript references for the movement ops (reshape family, transpose, slice, split,
 * stridedSlice, concat, stack, tile, gather, oneHot). Element by element through coordinates,
 * deliberately unlike the kernels (no stride merging, no windows).
 */

export interface Arr {
  data: ArrayLike<number>;
  shape: readonly number[];
}

export const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function unravel(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return c;
}

export function ravel(c: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d] + c[d];
  return i;
}

/** Builds an output of `shape` whose element at coordinates c is `f(c)`. */
function build(shape: readonly number[], f: (c: number[]) => number): Arr {
  const n = sizeOf(shape);
  const data = new Array<number>(n);
  for (let i = 0; i < n; i++) data[i] = f(unravel(i, shape));
  return { data, shape: [...shape] };
}

const at = (x: Arr, c: readonly number[]) => x.data[ravel(c, x.shape)];

export function transposeRef(x: Arr, perm?: readonly number[]): Arr {
  const p = perm ?? x.shape.map((_, i) => x.shape.length - 1 - i);
  const shape = p.map((a) => x.shape[a]);
  return build(shape, (c) => {
    const src = new Array<number>(c.length);
    p.forEach((a, i) => {
      src[a] = c[i];
    });
    return at(x, src);
  });
}

export function sliceRef(x: Arr, begin: readonly number[], size: readonly number[]): Arr {
  const s = size.map((n, i) => (n === -1 ? x.shape[i] - begin[i] : n));
  return build(s, (c) =>
    at(
      x,
      c.map((v, i) => v + begin[i]),
    ),
  );
}

/** Python's slice(start, stop, step).indices(n), as a list of source indices. */
function pyRange(n: number, start: number | null, stop: number | null, step: number): number[] {
  const adj = (v: number, lo: number, hi: number) => (v < 0 ? Math.max(v + n, lo) : Math.min(v, hi));
  const [lo, hi] = step > 0 ? [0, n] : [-1, n - 1];
  const a = start === null ? (step > 0 ? 0 : n - 1) : adj(start, lo, hi);
  const b = stop === null ? (step > 0 ? n : -1) : adj(stop, lo, hi);
  const out: number[] = [];
  for (let i = a; step > 0 ? i < b : i > b; i += step) out.push(i);
  return out;
}

export function stridedSliceRef(
  x: Arr,
  begin: readonly number[],
  end: readonly number[],
  strides: readonly number[],
  beginMask = 0,
  endMask = 0,
  shrinkAxisMask = 0,
): Arr {
  const lists = x.shape.map((n, i) => {
    if (shrinkAxisMask & (1 << i)) return [begin[i] < 0 ? begin[i] + n : begin[i]];
    const b = beginMask & (1 << i) || begin[i] === undefined ? null : begin[i];
    const e = endMask & (1 << i) || end[i] === undefined ? null : end[i];
    return pyRange(n, b, e, strides[i] ?? 1);
  });
  const full = build(
    lists.map((l) => l.length),
    (c) =>
      at(
        x,
        c.map((v, i) => lists[i][v]),
      ),
  );
  return { data: full.data, shape: full.shape.filter((_, i) => !(shrinkAxisMask & (1 << i))) };
}

export function concatRef(xs: readonly Arr[], axis: number): Arr {
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((a, x) => a + x.shape[axis], 0);
  return build(shape, (c) => {
    let k = 0;
    let v = c[axis];
    while (v >= xs[k].shape[axis]) v -= xs[k++].shape[axis];
    const src = [...c];
    src[axis] = v;
    return at(xs[k], src);
  });
}

export function stackRef(xs: readonly Arr[], axis: number): Arr {
  const shape = [...xs[0].shape];
  shape.splice(axis, 0, xs.length);
  return build(shape, (c) => {
    const src = [...c];
    const [k] = src.splice(axis, 1);
    return at(xs[k], src);
  });
}

export function tileRef(x: Arr, reps: readonly number[]): Arr {
  return build(
    x.shape.map((d, i) => d * reps[i]),
    (c) =>
      at(
        x,
        c.map((v, i) => v % x.shape[i]),
      ),
  );
}

/** Out-of-range indices give 0 (our documented GPU behaviour). */
export function gatherRef(x: Arr, indices: Arr, axis: number, batchDims = 0): Arr {
  const shape = [...x.shape.slice(0, axis), ...indices.shape.slice(batchDims), ...x.shape.slice(axis + 1)];
  const ni = indices.shape.length - batchDims;
  return build(shape, (c) => {
    const idxCoord = [...c.slice(0, batchDims), ...c.slice(axis, axis + ni)];
    const k = at(indices, idxCoord);
    if (k < 0 || k >= x.shape[axis]) return 0;
    return at(x, [...c.slice(0, axis), k, ...c.slice(axis + ni)]);
  });
}

export function oneHotRef(indices: Arr, depth: number, on = 1, off = 0): Arr {
  return build([...indices.shape, depth], (c) => {
    const k = at(indices, c.slice(0, -1));
    return k === c[c.length - 1] ? on : off;
  });
}

export type DTypeName = 'float32' | 'int32' | 'bool';

const EDGE_F32 = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 3.4e38, -1.4e-45];
const EDGE_I32 = [-2147483648, 2147483647, 0, -1];

/** Random values of `dtype` for `n` elements, with edge values (NaN, ±Inf, -0, int extremes) mixed in. */
export function randData(n: number, dtype: DTypeName, r: () => number): Float32Array | Int32Array {
  if (dtype === 'float32') {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++)
      a[i] = r() < 0.05 ? EDGE_F32[Math.floor(r() * EDGE_F32.length)] : r() * 20 - 10;
    return a;
  }
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (dtype === 'bool') a[i] = r() < 0.5 ? 1 : 0;
    else a[i] = r() < 0.05 ? EDGE_I32[Math.floor(r() * EDGE_I32.length)] : Math.floor(r() * 2000) - 1000;
  }
  return a;
}

/** The 32-bit patterns of values stored as `dtype`: movement ops must reproduce them exactly. */
export function bits(a: ArrayLike<number>, dtype: DTypeName): number[] {
  const typed = dtype === 'float32' ? Float32Array.from(a) : Int32Array.from(a);
  return Array.from(new Uint32Array(typed.buffer));
}

/**
 * Leaves a freed buffer of n elements full of a sentinel in the pool, so that the next kernel
 * output of that size gets garbage (as in real use) instead of a fresh zeroed buffer: an element
 * a kernel forgets to write then shows up. Call it after creating the inputs.
 */
export function poison(n: number): void {
  fill([Math.max(n, 1)], -777.25).dispose();
}
