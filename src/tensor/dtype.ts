import { DTypeError } from './errors.js';

/** Element types. `bool` holds 0/1 and is what comparisons produce (stored as 32-bit ints). */
export type DType = 'float32' | 'int32' | 'bool';

export type TypedArrayFor<D extends DType> = D extends 'float32' ? Float32Array : Int32Array;
/** The values `data()` returns: Float32Array for float32, Int32Array for int32 and bool (0/1). */
export type DataArray = Float32Array | Int32Array;

export const DTYPES: readonly DType[] = ['float32', 'int32', 'bool'];

export function bytesPerElement(_dtype: DType): number {
  return 4;
}

/** The WGSL scalar type a dtype is stored as. */
export function wgslType(dtype: DType): 'f32' | 'i32' {
  return dtype === 'float32' ? 'f32' : 'i32';
}

export function assertDType(dtype: unknown, arg = 'dtype'): asserts dtype is DType {
  if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype)) {
    throw new DTypeError(`${arg} must be one of ${DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
  }
}

export function makeArray(dtype: DType, size: number): DataArray {
  return dtype === 'float32' ? new Float32Array(size) : new Int32Array(size);
}
