import { ArgumentError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import { recordOp } from '../tensor/record.js';
import { normalizeAxis, sizeOf } from '../tensor/shape.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { stridedCopy } from './transpose.js';
import { assertTensor } from './util.js';

/**
 * concat, stack and tile. Each input of concat/stack is copied into its column block of the
 * output seen as [outer, row]: when outer is 1 (axis 0, or all leading dims 1) the block is
 * contiguous and the copy is a buffer-to-buffer copy.
 */

function checkList(tensors: unknown, op: string): asserts tensors is Tensor[] {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new ArgumentError(
      `${op}: tensors must be a non-empty array of tensors, got ${JSON.stringify(tensors)}`,
    );
  }
  tensors.forEach((t, i) => {
    assertTensor(t, op, `tensors[${i}]`);
  });
  const t0 = tensors[0] as Tensor;
  tensors.forEach((t: Tensor, i) => {
    if (t.dtype !== t0.dtype) {
      throw new DTypeError(
        `${op}: tensors[${i}] has dtype ${t.dtype} (shape ${fmtShape(t.shape)}) but tensors[0] has dtype ${t0.dtype}; all must match`,
      );
    }
  });
}

/** Copies each input, seen as [outer, inner_k], into columns [offset_k, offset_k + inner_k) of out. */
function copyBlocks(tensors: readonly Tensor[], inners: readonly number[], out: Tensor, outer: number): void {
  const row = inners.reduce((a, b) => a + b, 0);
  let offset = 0;
  tensors.forEach((t, k) => {
    if (t.size > 0) {
      stridedCopy(
        [outer, inners[k]],
        { t, base: 0, strides: [inners[k], 1] },
        { t: out, base: offset, strides: [row, 1] },
      );
    }
    offset += inners[k];
  });
}

/**
 * Joins tensors along an existing `axis`. All must have the same dtype and rank, and equal sizes
 * on every other axis.
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  checkList(tensors, 'concat');
  const t0 = tensors[0];
  if (t0.rank === 0) throw new ShapeError('concat: tensors must have rank >= 1, got scalars (use stack)');
  const ax = normalizeAxis(axis, t0.rank, 'concat');
  tensors.forEach((t, i) => {
    const ok = t.rank === t0.rank && t.shape.every((d, j) => j === ax || d === t0.shape[j]);
    if (!ok) {
      throw new ShapeError(
        `concat: tensors[${i}] has shape ${fmtShape(t.shape)}, which does not match tensors[0] shape ${fmtShape(t0.shape)} on the axes other than axis ${ax}`,
      );
    }
  });
  const shape = [...t0.shape];
  shape[ax] = tensors.reduce((a, t) => a + t.shape[ax], 0);
  const out = emptyTensor(shape, t0.dtype);
  if (out.size > 0) {
    const outer = sizeOf(shape.slice(0, ax));
    copyBlocks(
      tensors,
      tensors.map((t) => sizeOf(t.shape.slice(ax))),
      out,
      outer,
    );
  }
  return recordOp('concat', tensors, out, { axis: ax });
}

/** Stacks same-shape tensors along a new `axis` (in [-(rank+1), rank]). */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  checkList(tensors, 'stack');
  const t0 = tensors[0];
  const ax = normalizeAxis(axis, t0.rank + 1, 'stack');
  tensors.forEach((t, i) => {
    if (t.rank !== t0.rank || t.shape.some((d, j) => d !== t0.shape[j])) {
      throw new ShapeError(
        `stack: tensors[${i}] has shape ${fmtShape(t.shape)} but tensors[0] has shape ${fmtShape(t0.shape)}; all must match`,
      );
    }
  });
  const shape = [...t0.shape];
  shape.splice(ax, 0, tensors.length);
  const out = emptyTensor(shape, t0.dtype);
  if (out.size > 0) {
    const inner = sizeOf(t0.shape.slice(ax));
    copyBlocks(
      tensors,
      tensors.map(() => inner),
      out,
      sizeOf(t0.shape.slice(0, ax)),
    );
  }
  return recordOp('stack', tensors, out, { axis: ax });
}

/** Repeats `x` `reps[i]` times along axis i (`reps` has one non-negative integer per axis). */
export function tile(x: Tensor, reps: readonly number[]): Tensor {
  assertTensor(x, 'tile', 'x');
  if (!Array.isArray(reps) || reps.length !== x.rank || !reps.every((r) => Number.isInteger(r) && r >= 0)) {
    throw new ArgumentError(
      `tile: reps must have ${x.rank} non-negative integers (one per axis of x with shape ${fmtShape(x.shape)}), got ${JSON.stringify(reps)}`,
    );
  }
  const shape = x.shape.map((d, i) => d * reps[i]);
  const out = emptyTensor(shape, x.dtype);
  if (out.size > 0) {
    // Output seen as [r0, d0, r1, d1, ...] in row-major order: a repetition axis reads with stride 0.
    const dims: number[] = [];
    const src: number[] = [];
    const dst: number[] = [];
    let sAcc = 1;
    let dAcc = 1;
    for (let i = x.rank - 1; i >= 0; i--) {
      dims.unshift(reps[i], x.shape[i]);
      src.unshift(0, sAcc);
      dst.unshift(dAcc * x.shape[i], dAcc);
      sAcc *= x.shape[i];
      dAcc *= shape[i];
    }
    stridedCopy(dims, { t: x, base: 0, strides: src }, { t: out, base: 0, strides: dst });
  }
  return recordOp('tile', [x], out, { reps: [...reps] });
}
