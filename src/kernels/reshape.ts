import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { recordOp } from '../tensor/record.js';
import { normalizeAxes, sizeOf } from '../tensor/shape.js';
import { type Tensor, viewTensor } from '../tensor/tensor.js';
import { assertTensor } from './util.js';

/**
 * reshape, expandDims and squeeze return views: a new Tensor sharing the input's storage (no copy,
 * no kernel, any size). Disposing either one leaves the other intact. All three record as
 * 'reshape' (the gradient reshapes back to the input's shape).
 */

/** Gives `x` a new shape of the same size; one entry may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  assertTensor(x, 'reshape', 'x');
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= -1)) {
    throw new ArgumentError(
      `reshape: shape must be an array of non-negative integers and at most one -1, got ${JSON.stringify(shape)}`,
    );
  }
  const infer = shape.indexOf(-1);
  if (infer !== shape.lastIndexOf(-1)) {
    throw new ArgumentError(`reshape: shape ${fmtShape(shape)} has more than one -1`);
  }
  const s = [...shape];
  if (infer >= 0) {
    const known = sizeOf(s.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError(
        `reshape: cannot infer the -1 in shape ${fmtShape(shape)} for x of shape ${fmtShape(x.shape)} (${x.size} elements)`,
      );
    }
    s[infer] = x.size / known;
  }
  if (sizeOf(s) !== x.size) {
    throw new ShapeError(
      `reshape: cannot reshape x of shape ${fmtShape(x.shape)} (${x.size} elements) into shape ${fmtShape(s)} (${sizeOf(s)} elements)`,
    );
  }
  return recordOp('reshape', [x], viewTensor(x, s), { shape: s });
}

/** Inserts an axis of size 1 at `axis` (in [-(rank+1), rank]; negative counts from the end). */
export function expandDims(x: Tensor, axis = 0): Tensor {
  assertTensor(x, 'expandDims', 'x');
  const r = x.rank;
  if (!Number.isInteger(axis) || axis < -(r + 1) || axis > r) {
    throw new ArgumentError(
      `expandDims: axis ${String(axis)} is out of range [${-(r + 1)}, ${r}] for x of shape ${fmtShape(x.shape)}`,
    );
  }
  const s = [...x.shape];
  s.splice(axis < 0 ? axis + r + 1 : axis, 0, 1);
  return recordOp('reshape', [x], viewTensor(x, s), { shape: s });
}

/** Removes the given size-1 axes (default, or an empty list: every size-1 axis). */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  assertTensor(x, 'squeeze', 'x');
  const all = axis === undefined || (Array.isArray(axis) && axis.length === 0);
  const axes = all ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normalizeAxes(axis, x.rank, 'squeeze');
  for (const a of axes) {
    if (x.shape[a] !== 1) {
      throw new ShapeError(
        `squeeze: cannot squeeze axis ${a} of x with shape ${fmtShape(x.shape)}: its size is ${x.shape[a]}, not 1`,
      );
    }
  }
  const s = x.shape.filter((_, i) => !axes.includes(i));
  return recordOp('reshape', [x], viewTensor(x, s), { shape: s });
}
