import { assertDType, type DType, wgslType } from '../tensor/dtype.js';
import { recordOp } from '../tensor/record.js';
import { type Tensor, viewTensor } from '../tensor/tensor.js';
import { elementwise, NAN_WGSL } from './elementwise.js';
import { assertTensor } from './util.js';

/** dtype conversion between float32, int32 and bool. */

// float -> int truncates toward zero like TF, saturating at the int32 range; NaN becomes 0.
const F32_TO_I32 = `
  if (isnan_(x)) { return 0; }
  if (x >= 2147483648.0) { return 2147483647; }
  return i32(max(x, -2147483648.0));`;

function body(from: DType, to: DType): string {
  // !(x == 0) so that NaN is true: lavapipe compiles float `!=` as an ordered compare.
  if (to === 'bool') return from === 'float32' ? 'return i32(!(x == 0.0));' : 'return i32(x != 0);';
  if (to === 'float32') return 'return f32(x);';
  return from === 'float32' ? F32_TO_I32 : 'return x;';
}

/**
 * Converts `x` to `dtype`: float32 -> int32 truncates toward zero (saturating, NaN -> 0); anything
 * -> bool is x != 0; bool -> number gives 0/1. The same dtype returns a view of `x`.
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  assertTensor(x, 'cast', 'x');
  assertDType(dtype, 'cast: dtype');
  const out =
    x.dtype === dtype
      ? viewTensor(x, x.shape)
      : elementwise({
          op: 'cast',
          body: body(x.dtype, dtype),
          args: ['x'],
          inputs: [x],
          types: [wgslType(x.dtype)],
          outDtype: dtype,
          outShape: x.shape,
          helpers: x.dtype === 'float32' ? NAN_WGSL : undefined,
        });
  return recordOp('cast', [x], out, { dtype });
}
