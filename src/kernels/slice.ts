import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { fillKernel } from '../tensor/fill-kernel.js';
import { recordOp } from '../tensor/record.js';
import { normalizeAxis, stridesOf } from '../tensor/shape.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { stridedCopy } from './transpose.js';
import { assertTensor } from './util.js';

/**
 * slice, split and stridedSlice (TensorFlow.js semantics). All are strided copies; a slice that is
 * one contiguous run of the input (e.g. rows of a matrix) becomes a buffer-to-buffer copy.
 */

function intList(v: unknown, op: string, arg: string): number[] {
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list) || !list.every((d) => Number.isInteger(d))) {
    throw new ArgumentError(
      `${op}: ${arg} must be an integer or an array of integers, got ${JSON.stringify(v)}`,
    );
  }
  return list as number[];
}

/**
 * Extracts the block starting at `begin` of extent `size`. A number applies to axis 0; shorter
 * arrays are padded with begin 0 / size -1; a size of -1 means "to the end of the axis".
 */
export function slice(
  x: Tensor,
  begin: number | readonly number[],
  size?: number | readonly number[],
): Tensor {
  assertTensor(x, 'slice', 'x');
  const r = x.rank;
  const b = intList(begin, 'slice', 'begin');
  const s = size === undefined ? [] : intList(size, 'slice', 'size');
  if (b.length > r || s.length > r) {
    throw new ShapeError(
      `slice: begin ${JSON.stringify(begin)} and size ${JSON.stringify(size)} must have at most rank ${r} entries for x of shape ${fmtShape(x.shape)}`,
    );
  }
  const bb = x.shape.map((_, i) => b[i] ?? 0);
  const ss = x.shape.map((d, i) => {
    const n = s[i] ?? -1;
    if (n < -1) {
      throw new ArgumentError(`slice: size[${i}] must be >= 0 or -1 (to the end), got ${n}`);
    }
    return n === -1 ? d - bb[i] : n;
  });
  x.shape.forEach((d, i) => {
    if (bb[i] < 0 || bb[i] > d || bb[i] + ss[i] > d) {
      throw new ArgumentError(
        `slice: begin[${i}] = ${bb[i]} with size[${i}] = ${ss[i]} is out of range for axis ${i} of x with shape ${fmtShape(x.shape)}`,
      );
    }
  });
  const xs = stridesOf(x.shape);
  const out = emptyTensor(ss, x.dtype);
  const base = bb.reduce((acc, v, i) => acc + v * xs[i], 0);
  if (out.size > 0) stridedCopy(ss, { t: x, base, strides: xs }, { t: out, base: 0, strides: stridesOf(ss) });
  return recordOp('slice', [x], out, { begin: bb, size: ss });
}

/**
 * Splits `x` along `axis` into `numOrSizeSplits` equal parts (it must divide the axis) or into
 * parts of the given sizes (one of them may be -1: the rest).
 */
export function split(x: Tensor, numOrSizeSplits: number | readonly number[], axis = 0): Tensor[] {
  assertTensor(x, 'split', 'x');
  const ax = normalizeAxis(axis, x.rank, 'split');
  const dim = x.shape[ax];
  let sizes: number[];
  if (typeof numOrSizeSplits === 'number') {
    const n = numOrSizeSplits;
    if (!Number.isInteger(n) || n < 1 || dim % n !== 0) {
      throw new ArgumentError(
        `split: numOrSizeSplits ${n} must be a positive integer dividing axis ${ax} of size ${dim} (x shape ${fmtShape(x.shape)})`,
      );
    }
    sizes = new Array<number>(n).fill(dim / n);
  } else {
    sizes = [...intList(numOrSizeSplits, 'split', 'numOrSizeSplits')];
    const neg = sizes.filter((v) => v === -1).length;
    if (sizes.length === 0 || neg > 1 || sizes.some((v) => v < -1)) {
      throw new ArgumentError(
        `split: numOrSizeSplits must be non-negative sizes with at most one -1, got ${JSON.stringify(numOrSizeSplits)}`,
      );
    }
    const known = sizes.reduce((a, v) => (v > 0 ? a + v : a), 0);
    if (neg === 1) sizes[sizes.indexOf(-1)] = dim - known;
    if (sizes.some((v) => v < 0) || sizes.reduce((a, v) => a + v, 0) !== dim) {
      throw new ShapeError(
        `split: sizes ${JSON.stringify(numOrSizeSplits)} must sum to ${dim}, the size of axis ${ax} of x with shape ${fmtShape(x.shape)}`,
      );
    }
  }
  let at = 0;
  return sizes.map((n) => {
    const begin = x.shape.map((_, i) => (i === ax ? at : 0));
    const size = x.shape.map((d, i) => (i === ax ? n : d));
    at += n;
    return slice(x, begin, size);
  });
}

/**
 * Python-style slicing `x[begin:end:strides]` per axis, with negative indices counted from the end
 * and clamped as in TensorFlow. Bit i of `beginMask`/`endMask` ignores begin[i]/end[i] (the whole
 * range); bit i of `shrinkAxisMask` takes the single element begin[i] and removes axis i. Arrays
 * shorter than the rank leave the remaining axes whole. ellipsisMask and newAxisMask are not
 * supported (use expandDims).
 */
export function stridedSlice(
  x: Tensor,
  begin: readonly number[],
  end: readonly number[],
  strides?: readonly number[],
  beginMask = 0,
  endMask = 0,
  ellipsisMask = 0,
  newAxisMask = 0,
  shrinkAxisMask = 0,
): Tensor {
  assertTensor(x, 'stridedSlice', 'x');
  if (ellipsisMask !== 0 || newAxisMask !== 0) {
    throw new ArgumentError(
      `stridedSlice: ellipsisMask and newAxisMask are not supported, got ${ellipsisMask} and ${newAxisMask}`,
    );
  }
  const b = intList(begin, 'stridedSlice', 'begin');
  const e = intList(end, 'stridedSlice', 'end');
  const st = strides === undefined ? [] : intList(strides, 'stridedSlice', 'strides');
  const r = x.rank;
  if (b.length > r || e.length > r || st.length > r) {
    throw new ShapeError(
      `stridedSlice: begin, end and strides must have at most ${r} entries for x of shape ${fmtShape(x.shape)}, got ${b.length}, ${e.length} and ${st.length}`,
    );
  }
  const xs = stridesOf(x.shape);
  const dims: number[] = [];
  const srcStrides: number[] = [];
  const outShape: number[] = [];
  const starts: number[] = [];
  const steps: number[] = [];
  let base = 0;
  for (let i = 0; i < r; i++) {
    const d = x.shape[i];
    const s = st[i] ?? 1;
    if (s === 0) throw new ArgumentError(`stridedSlice: strides[${i}] must not be 0`);
    const [lo, hi] = s > 0 ? [0, d] : [-1, d - 1];
    const norm = (v: number) => Math.min(hi, Math.max(lo, v < 0 ? v + d : v));
    let start: number;
    let n: number;
    if (shrinkAxisMask & (1 << i)) {
      start = (b[i] ?? 0) < 0 ? (b[i] ?? 0) + d : (b[i] ?? 0);
      if (start < 0 || start >= d) {
        throw new ArgumentError(
          `stridedSlice: begin[${i}] = ${b[i]} is out of range for shrinking axis ${i} of size ${d}`,
        );
      }
      n = 1;
    } else {
      start = beginMask & (1 << i) || b[i] === undefined ? (s > 0 ? 0 : d - 1) : norm(b[i]);
      const stop = endMask & (1 << i) || e[i] === undefined ? (s > 0 ? d : -1) : norm(e[i]);
      n = Math.max(0, Math.ceil((stop - start) / s));
      outShape.push(n);
    }
    if (n > 0) base += start * xs[i];
    dims.push(n);
    srcStrides.push(s * xs[i]);
    starts.push(start);
    steps.push(s);
  }
  const out = emptyTensor(outShape, x.dtype);
  if (out.size > 0) {
    stridedCopy(dims, { t: x, base, strides: srcStrides }, { t: out, base: 0, strides: stridesOf(dims) });
  }
  return recordOp('stridedSlice', [x], out, { begin: starts, size: dims, strides: steps });
}

/** The element offset and strides of the box `begin + k * strides`, k < size, in a tensor of `shape`. */
function box(shape: readonly number[], b: StridedBox): { base: number; strides: number[] } {
  const xs = stridesOf(shape);
  let base = 0;
  if (b.size.every((n) => n > 0)) for (let i = 0; i < shape.length; i++) base += b.begin[i] * xs[i];
  return { base, strides: b.strides.map((s, i) => s * xs[i]) };
}

/** Elements `begin[i] + k * strides[i]` (k < size[i]) of each axis: what stridedSlice recorded. */
export interface StridedBox {
  begin: readonly number[];
  size: readonly number[];
  strides: readonly number[];
}

/**
 * The gradient of stridedSlice: `dy` (any shape with the box's element count) scattered into zeros
 * of shape `shape` at the box's positions. Linear; its own gradient gathers the box back.
 */
export function stridedSliceGrad(dy: Tensor, shape: readonly number[], b: StridedBox): Tensor {
  assertTensor(dy, 'stridedSliceGrad', 'dy');
  const count = b.size.reduce((p, n) => p * n, 1);
  if (b.size.length !== shape.length || count !== dy.size) {
    throw new ShapeError(
      `stridedSliceGrad: dy of shape ${fmtShape(dy.shape)} must hold the ${count} elements of a box of size ${fmtShape(b.size)} in a tensor of rank ${shape.length}`,
    );
  }
  const out = fillKernel(shape, 0, dy.dtype);
  if (count > 0)
    stridedCopy(b.size, { t: dy, base: 0, strides: stridesOf(b.size) }, { t: out, ...box(shape, b) });
  const attrs = { shape: [...shape], begin: [...b.begin], size: [...b.size], strides: [...b.strides] };
  return recordOp('stridedSliceGrad', [dy], out, attrs);
}

/** The box of `x` gathered into a tensor of shape `outShape` (the inverse of stridedSliceGrad). */
export function stridedGather(x: Tensor, b: StridedBox, outShape: readonly number[]): Tensor {
  assertTensor(x, 'stridedGather', 'x');
  const out = emptyTensor(outShape, x.dtype);
  if (out.size > 0)
    stridedCopy(b.size, { t: x, ...box(x.shape, b) }, { t: out, base: 0, strides: stridesOf(b.size) });
  return recordOp('stridedSlice', [x], out, {
    begin: [...b.begin],
    size: [...b.size],
    strides: [...b.strides],
  });
}
