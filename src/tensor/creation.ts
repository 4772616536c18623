import { currentDevice } from './device.js';
import { assertDType, type DType } from './dtype.js';
import { ArgumentError, DTypeError, fmtShape, ShapeError } from './errors.js';
import { fillKernel } from './fill-kernel.js';
import { randomKernel } from './random-kernel.js';
import { assertShape, sizeOf } from './shape.js';
import { STAGED_MIN_BYTES, stagedWrite } from './staging.js';
import { Storage } from './storage.js';
import { Tensor } from './tensor.js';

/** Nested arrays of numbers (or booleans for bool tensors). */
export type TensorLike =
  | number
  | boolean
  | TensorLike[]
  | Float32Array
  | Int32Array
  | Uint8Array
  | ArrayLike<number>;

function inferShape(data: TensorLike): number[] {
  const shape: number[] = [];
  let x: unknown = data;
  while (Array.isArray(x) || ArrayBuffer.isView(x)) {
    const len = (x as ArrayLike<unknown>).length;
    shape.push(len);
    if (len === 0 || ArrayBuffer.isView(x)) break;
    x = (x as unknown[])[0];
  }
  return shape;
}

function flatten(data: TensorLike, out: number[], shape: number[], dim: number): void {
  if (ArrayBuffer.isView(data)) {
    for (let i = 0; i < (data as ArrayLike<number>).length; i++) out.push((data as ArrayLike<number>)[i]);
    return;
  }
  if (Array.isArray(data)) {
    if (dim < shape.length && data.length !== shape[dim]) {
      throw new ShapeError(
        `tensor: ragged nested array: expected ${shape[dim]} elements at depth ${dim}, got ${data.length}`,
      );
    }
    for (const v of data) flatten(v, out, shape, dim + 1);
    return;
  }
  if (typeof data === 'boolean') out.push(data ? 1 : 0);
  else if (typeof data === 'number') out.push(data);
  else throw new DTypeError(`tensor: values must be numbers or booleans, got ${typeof data}`);
}

/**
 * Creates a tensor from values (a number, nested arrays or a typed array). `shape` defaults to the
 * nesting of `data`; with a flat array it reshapes. dtype defaults to float32 (int32 for an
 * Int32Array, bool for booleans).
 */
export function tensor(data: TensorLike, shape?: readonly number[], dtype?: DType): Tensor {
  currentDevice();
  const dt: DType = dtype ?? (data instanceof Int32Array ? 'int32' : isBoolData(data) ? 'bool' : 'float32');
  assertDType(dt, 'tensor: dtype');
  let values: ArrayLike<number>;
  const inferred = inferShape(data);
  if (data instanceof Float32Array || data instanceof Int32Array) values = data;
  else {
    const flat: number[] = [];
    flatten(data, flat, inferred, 0);
    values = flat;
  }
  const s = shape ? [...shape] : inferred;
  assertShape(s, 'tensor: shape');
  if (sizeOf(s) !== values.length) {
    throw new ShapeError(
      `tensor: shape ${fmtShape(s)} needs ${sizeOf(s)} values, but ${values.length} were given`,
    );
  }
  return upload(values, s, dt);
}

function isBoolData(data: TensorLike): boolean {
  let x: unknown = data;
  while (Array.isArray(x) && x.length > 0) x = x[0];
  return typeof x === 'boolean';
}

/** @internal Uploads flat values into a new tensor. */
export function upload(values: ArrayLike<number>, shape: readonly number[], dtype: DType): Tensor {
  const n = values.length;
  let typed: Float32Array | Int32Array;
  if (dtype === 'float32') typed = values instanceof Float32Array ? values : Float32Array.from(values);
  else if (values instanceof Int32Array) typed = values;
  else {
    typed = new Int32Array(n);
    for (let i = 0; i < n; i++) typed[i] = dtype === 'bool' ? (values[i] ? 1 : 0) : Math.trunc(values[i]);
  }
  if (n * 4 >= STAGED_MIN_BYTES) {
    const src = new Uint8Array(typed.buffer, typed.byteOffset, n * 4);
    return uploadFilled(shape, dtype, (dst) => new Uint8Array(dst, 0, n * 4).set(src));
  }
  // Dawn's writeBuffer takes no SharedArrayBuffer: such (small) values are copied first. (Browser
  // pages that are not cross-origin isolated have no SharedArrayBuffer global at all.)
  if (typeof SharedArrayBuffer !== 'undefined' && typed.buffer instanceof SharedArrayBuffer)
    typed = typed.slice();
  const storage = new Storage(Math.max(4, n * 4), true);
  if (n > 0) currentDevice().queue.writeBuffer(storage.buffer, 0, typed.buffer, typed.byteOffset, n * 4);
  return new Tensor(storage, shape, dtype);
}

/**
 * @internal A new tensor of `shape` whose 4-byte elements `fill` writes straight into a mapped
 * staging buffer (`dst`: at least `4 * size` bytes; float32 bits for float32, int32 otherwise), so a
 * batch assembled from parts needs no intermediate array. For large tensors (see staging.ts).
 */
export function uploadFilled(
  shape: readonly number[],
  dtype: DType,
  fill: (dst: ArrayBuffer) => void,
): Tensor {
  const bytes = Math.max(4, sizeOf(shape) * 4);
  const t = new Tensor(new Storage(bytes), shape, dtype);
  try {
    stagedWrite(t.storage.buffer, bytes, fill);
  } catch (e) {
    t.dispose();
    throw e;
  }
  return t;
}

/** A rank-0 tensor holding `value` (dtype inferred from the value unless given). */
export function scalar(value: number | boolean, dtype?: DType): Tensor {
  if (typeof value !== 'number' && typeof value !== 'boolean')
    throw new DTypeError(
      `scalar: value must be a number or a boolean, got ${value === null ? 'null' : typeof value}`,
    );
  return tensor(value, [], dtype);
}

function checkShape(shape: readonly number[], fn: string): void {
  currentDevice();
  assertShape(shape as number[], `${fn}: shape`);
}

/** A tensor of `shape` with every element `value`. */
export function fill(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
  return filled(shape, value, dtype, 'fill');
}

function filled(shape: readonly number[], value: number, dtype: DType, fn: string): Tensor {
  checkShape(shape, fn);
  assertDType(dtype, `${fn}: dtype`);
  // An int32 tensor cannot hold Infinity (it would silently become 0), nor a bool NaN.
  const representable =
    dtype === 'float32' || (dtype === 'int32' ? Number.isFinite(value) : !Number.isNaN(value));
  if (typeof value !== 'number' || !representable) {
    throw new ArgumentError(`${fn}: value must be a number representable as ${dtype}, got ${String(value)}`);
  }
  return fillKernel(shape, value, dtype);
}

/** A tensor of `shape` filled with 0. */
export function zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return filled(shape, 0, dtype, 'zeros');
}

/** A tensor of `shape` filled with 1. */
export function ones(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return filled(shape, 1, dtype, 'ones');
}

let autoSeed = (Date.now() ^ 0x5bd1e995) >>> 0;

/**
 * Makes every later unseeded random op (initializers, dropout, shuffles) deterministic, like
 * `keras.utils.set_random_seed`.
 */
export function setSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new ArgumentError(`setSeed: seed must be an integer, got ${seed}`);
  autoSeed = seed >>> 0;
}

/** The next seed of the global sequence (for ops that take an explicit seed). */
export function nextSeedValue(): number {
  autoSeed = (autoSeed + 0x9e3779b9) >>> 0;
  return autoSeed;
}
function nextSeed(seed: number | undefined, fn: string): number {
  if (seed === undefined) return nextSeedValue();
  if (!Number.isInteger(seed)) throw new ArgumentError(`${fn}: seed must be an integer, got ${seed}`);
  return seed >>> 0;
}

/** Options of the random creation functions. */
export interface RandomOptions {
  /** A seed for this call (default: the global seed sequence, see `setSeed`). */
  seed?: number;
  /** The dtype (default float32). */
  dtype?: DType;
}

/** Uniform values in [minval, maxval). With int32 dtype, integers in [minval, maxval). */
export function randomUniform(
  shape: readonly number[],
  minval = 0,
  maxval = 1,
  opts: RandomOptions = {},
): Tensor {
  checkShape(shape, 'randomUniform');
  const dtype = opts.dtype ?? 'float32';
  if (dtype === 'bool') throw new DTypeError('randomUniform: dtype must be float32 or int32, got bool');
  if (!Number.isFinite(minval) || !Number.isFinite(maxval)) {
    throw new ArgumentError(`randomUniform: minval and maxval must be finite, got ${minval} and ${maxval}`);
  }
  if (!(maxval > minval)) {
    throw new ArgumentError(`randomUniform: maxval (${maxval}) must be greater than minval (${minval})`);
  }
  return randomKernel(shape, 'uniform', minval, maxval, nextSeed(opts.seed, 'randomUniform'), dtype);
}

function checkNormal(mean: number, stddev: number, fn: string): void {
  if (typeof mean !== 'number' || !Number.isFinite(mean))
    throw new ArgumentError(`${fn}: mean must be a finite number, got ${String(mean)}`);
  if (typeof stddev !== 'number' || !(stddev >= 0) || !Number.isFinite(stddev))
    throw new ArgumentError(`${fn}: stddev must be a finite number >= 0, got ${String(stddev)}`);
}

/** Normal values with the given mean and standard deviation (float32). */
export function randomNormal(
  shape: readonly number[],
  mean = 0,
  stddev = 1,
  opts: { seed?: number } = {},
): Tensor {
  return normalKernel('randomNormal', 'normal', shape, mean, stddev, opts.seed);
}

/** Checks a normal draw's arguments (errors name `fn`) and runs the random kernel. */
function normalKernel(
  fn: string,
  kind: 'normal' | 'truncatedNormal',
  shape: readonly number[],
  mean: number,
  stddev: number,
  seed: number | undefined,
): Tensor {
  checkShape(shape, fn);
  checkNormal(mean, stddev, fn);
  return randomKernel(shape, kind, mean, stddev, nextSeed(seed, fn), 'float32');
}

/** Normal values redrawn when more than two standard deviations from the mean (Keras' TruncatedNormal). */
export function truncatedNormal(
  shape: readonly number[],
  mean = 0,
  stddev = 1,
  opts: { seed?: number } = {},
): Tensor {
  return normalKernel('truncatedNormal', 'truncatedNormal', shape, mean, stddev, opts.seed);
}
