import { type DType, wgslType } from '../tensor/dtype.js';
import { ArgumentError, DTypeError } from '../tensor/errors.js';
import { recordOp } from '../tensor/record.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  broadcastAll,
  checkOperands,
  coerce,
  elementwise,
  NAN_WGSL,
  type Operand,
  recordElementwise,
} from './elementwise.js';
import { assertDTypeIn, assertTensor } from './util.js';

/** Selection ops: where (3-way broadcasting) and clipByValue. */

/** `a` where `condition` is true, else `b`; all three broadcast together. a and b share a dtype. */
export function where(condition: Tensor, a: Operand, b: Operand): Tensor {
  assertTensor(condition, 'where', 'condition');
  if (condition.dtype !== 'bool') {
    throw new DTypeError(`where: condition must have dtype bool, got ${condition.dtype}`);
  }
  const { dtype, inputs } = checkOperands('where', ['a', 'b'], [a, b]);
  const all = [condition, ...inputs];
  const names = ['condition', 'a', 'b'];
  const t = wgslType(dtype);
  const out = elementwise({
    op: 'where',
    body: 'return select(b, a, c != 0);',
    args: ['c', 'a', 'b'],
    inputs: all,
    types: ['i32', t, t],
    outDtype: dtype,
    outShape: broadcastAll('where', names, all),
  });
  return recordElementwise('where', all, dtype, out);
}

/** Bounds in x's dtype; for int32 an infinite bound is the end of the range (coerce gives 0). */
function intBounds(min: number, max: number, dtype: DType): [number, number] {
  const b = (v: number) =>
    dtype === 'int32' && !Number.isFinite(v) ? (v > 0 ? 2147483647 : -2147483648) : coerce(v, dtype);
  return [b(min), b(max)];
}

/** Clamps x to [min, max] (NaN stays NaN). */
export function clipByValue(x: Tensor, min: number, max: number): Tensor {
  assertTensor(x, 'clipByValue', 'x');
  assertDTypeIn(x, ['float32', 'int32'], 'clipByValue', 'x');
  for (const [name, v] of [
    ['min', min],
    ['max', max],
  ] as const) {
    if (typeof v !== 'number' || Number.isNaN(v)) {
      throw new ArgumentError(`clipByValue: ${name} must be a number, got ${String(v)}`);
    }
  }
  if (min > max) {
    throw new ArgumentError(`clipByValue: min (${min}) must be <= max (${max})`);
  }
  const t = wgslType(x.dtype);
  const out = elementwise({
    op: 'clipByValue',
    body: t === 'f32' ? 'return select(clamp(x, lo, hi), x, isnan_(x));' : 'return clamp(x, lo, hi);',
    args: ['x', 'lo', 'hi'],
    inputs: [x, ...intBounds(min, max, x.dtype)],
    types: [t, t, t],
    outDtype: x.dtype,
    outShape: x.shape,
    helpers: NAN_WGSL,
  });
  return recordOp('clipByValue', [x], out, { min, max });
}
