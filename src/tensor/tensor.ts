import { currentDevice, deviceGeneration, throwFaults, watchErrorScope } from './device.js';
import { type DataArray, type DType, makeArray } from './dtype.js';
import { registerTensor, unregisterTensor } from './engine.js';
import { DeviceError, DisposedTensorError, fmtShape, WgslNnError } from './errors.js';
import { appendChecks, armedCheckBytes, raiseChecks } from './gpu-checks.js';
import { isFailedBuffer } from './pool.js';
import { copyBuffer, flush } from './queue.js';
import { type Shape, sizeOf } from './shape.js';
import { Storage } from './storage.js';
import { gpuWait } from './wait.js';

let nextId = 0;

/** @internal The id the next tensor will get (ids increase: tells tensors created after a point). */
export function nextTensorId(): number {
  return nextId;
}

/** Nested JS arrays as returned by `Tensor.array()`. */
export type NestedArray = number | NestedArray[];

/**
 * An n-dimensional array on the GPU. Ops never mutate their inputs; `dispose()` (or `tidy`) frees
 * the buffer. Reading values back is asynchronous: `await t.data()` / `await t.array()`.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the op methods are declared by the interface below and installed at import by src/tensor-methods.ts
export class Tensor {
  /** A number unique to this tensor in the process (shown in errors). */
  readonly id = nextId++;
  /** The size of each dimension (`[]` for a scalar). */
  readonly shape: readonly number[];
  /** 'float32', 'int32' or 'bool'. */
  readonly dtype: DType;
  /** The number of elements (the product of the shape). */
  readonly size: number;
  /** @internal */ readonly storage: Storage;
  /** @internal */ kept = false;
  private disposed = false;
  /** Optional name, shown in errors and summaries. */
  name?: string;

  /** @internal Use `tensor()`, `zeros()`... to create tensors. */
  constructor(storage: Storage, shape: Shape, dtype: DType) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = sizeOf(shape);
    storage.refs++;
    registerTensor(this);
  }

  /** The number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** Whether `dispose()` has freed it. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal The GPU buffer; throws if the tensor was disposed. */
  get buffer(): GPUBuffer {
    this.assertAlive();
    return this.storage.buffer;
  }

  /** Bytes of data (4 per element). */
  get byteSize(): number {
    return this.size * 4;
  }

  /** Throws a DisposedTensorError if disposed, or a DeviceError if its GPU memory is gone (device lost, failed allocation); `arg` names it in the message. */
  assertAlive(arg = 'tensor'): void {
    if (this.storage.generation !== deviceGeneration()) {
      throw new DeviceError(
        `${arg} (tensor #${this.id}, shape ${fmtShape(this.shape)}) lived on a GPU device that was lost or replaced; recreate it on the new device`,
      );
    }
    if (this.disposed) {
      throw new DisposedTensorError(
        `${arg} (tensor #${this.id}${this.name ? ` '${this.name}'` : ''}, shape ${fmtShape(this.shape)}, ${this.dtype}) was disposed and cannot be used`,
      );
    }
    if (isFailedBuffer(this.storage.buffer)) {
      throw new DeviceError(
        `${arg} (tensor #${this.id}, shape ${fmtShape(this.shape)}) has no valid GPU memory: its allocation failed (see the error thrown by sync() or data()); dispose it and compute it again`,
      );
    }
  }

  /**
   * Copies the values to the CPU as a flat typed array (Float32Array, or Int32Array for int32/bool).
   * Throws a DeviceError if WebGPU reported an error (e.g. out of memory) since the last readback.
   */
  async data(): Promise<DataArray> {
    this.assertAlive();
    const out = makeArray(this.dtype, this.size);
    if (this.size === 0) {
      await throwFaults();
      return out;
    }
    const bytes = this.size * 4;
    const device = currentDevice();
    flush();
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    // GPU checks armed since the last read (labels out of range...) ride along in the same copy.
    const staging = device.createBuffer({
      size: bytes + armedCheckBytes(),
      usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */,
    });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(this.storage.buffer, 0, staging, 0, bytes);
    const checks = appendChecks(enc, staging, bytes);
    let checkWords: ArrayBuffer | undefined;
    device.queue.submit([enc.finish()]);
    const describe = (e: GPUError) =>
      `data(): reading back tensor #${this.id} (shape ${fmtShape(this.shape)}, ${bytes} bytes) failed: ${e.message.split('\n')[0]}`;
    watchErrorScope(device.popErrorScope(), describe);
    watchErrorScope(device.popErrorScope(), describe);
    try {
      await gpuWait(() => staging.mapAsync(0x01 /* READ */));
      const mapped = staging.getMappedRange();
      new Uint8Array(out.buffer).set(new Uint8Array(mapped, 0, bytes));
      if (checks.length) checkWords = mapped.slice(bytes);
      staging.unmap();
    } catch (e) {
      await throwFaults();
      if (e instanceof WgslNnError) throw e;
      throw new DeviceError(
        `data(): reading back tensor #${this.id} (shape ${fmtShape(this.shape)}) failed: ${(e as Error).message}`,
      );
    } finally {
      staging.destroy();
    }
    await throwFaults();
    if (checkWords) raiseChecks(checks, checkWords, 0);
    return out;
  }

  /** Copies the values to the CPU as nested arrays (a number for a scalar). */
  async array(): Promise<NestedArray> {
    const flat = await this.data();
    return nest(flat, this.shape);
  }

  /** Frees the GPU memory (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    unregisterTensor(this);
    this.storage.release();
  }

  /** `Tensor(shape=[2,3], dtype=float32)` (no values: they are on the GPU; see `print()`). */
  toString(): string {
    return `Tensor(shape=${fmtShape(this.shape)}, dtype=${this.dtype}${this.disposed ? ', disposed' : ''})`;
  }
}

/** An axis argument of the reductions: one axis, several, or `null`/omitted for all of them. */
export type ReduceAxis = number | readonly number[] | null;

// Op methods (`x.add(y).relu().sum()`), as TensorFlow.js users write them. They are declared here
// by declaration merging (types only) and installed on Tensor.prototype by src/tensor-methods.ts,
// which src/ops.ts imports: src/tensor never imports the kernels, so there is no import cycle. Each
// method calls the function of the same name with `this` as the first argument (same checks, same
// autograd recording, same errors). To add one: declare it here, add it to the table there.
export interface Tensor {
  /** `add(this, b)`: this + b with broadcasting. */
  add(b: Tensor | number): Tensor;
  /** `sub(this, b)`: this - b with broadcasting. */
  sub(b: Tensor | number): Tensor;
  /** `mul(this, b)`: this * b with broadcasting. */
  mul(b: Tensor | number): Tensor;
  /** `div(this, b)`: this / b with broadcasting (int32 division floors). */
  div(b: Tensor | number): Tensor;
  /** `pow(this, b)`: this ** b with broadcasting. */
  pow(b: Tensor | number): Tensor;
  /** `maximum(this, b)`: elementwise maximum with broadcasting. */
  maximum(b: Tensor | number): Tensor;
  /** `minimum(this, b)`: elementwise minimum with broadcasting. */
  minimum(b: Tensor | number): Tensor;
  /** `squaredDifference(this, b)`: (this - b)^2 with broadcasting. */
  squaredDifference(b: Tensor | number): Tensor;
  /** `equal(this, b)`: this == b as a bool tensor. */
  equal(b: Tensor | number): Tensor;
  /** `notEqual(this, b)`: this != b as a bool tensor. */
  notEqual(b: Tensor | number): Tensor;
  /** `greater(this, b)`: this > b as a bool tensor. */
  greater(b: Tensor | number): Tensor;
  /** `greaterEqual(this, b)`: this >= b as a bool tensor. */
  greaterEqual(b: Tensor | number): Tensor;
  /** `less(this, b)`: this < b as a bool tensor. */
  less(b: Tensor | number): Tensor;
  /** `lessEqual(this, b)`: this <= b as a bool tensor. */
  lessEqual(b: Tensor | number): Tensor;
  /** `matmul(this, b, opts)`: the matrix product, batched over leading dimensions. */
  matmul(b: Tensor, opts?: { transposeA?: boolean; transposeB?: boolean }): Tensor;
  /** `reshape(this, shape)`: the same values in another shape (one dimension may be -1). */
  reshape(shape: readonly number[]): Tensor;
  /** `reshape(this, [-1])`: the values as a rank-1 tensor. */
  flatten(): Tensor;
  /** `expandDims(this, axis)`: inserts a dimension of size 1 at `axis` (default 0). */
  expandDims(axis?: number): Tensor;
  /** `squeeze(this, axis)`: removes dimensions of size 1 (all of them when `axis` is omitted). */
  squeeze(axis?: number | readonly number[]): Tensor;
  /** `transpose(this, perm)`: permutes the dimensions (reverses them when `perm` is omitted). */
  transpose(perm?: readonly number[]): Tensor;
  /** `sum(this, axis, keepDims)`: the sum over `axis` (all axes when omitted). */
  sum(axis?: ReduceAxis, keepDims?: boolean): Tensor;
  /** `mean(this, axis, keepDims)`: the mean over `axis` (all axes when omitted). */
  mean(axis?: ReduceAxis, keepDims?: boolean): Tensor;
  /** `max(this, axis, keepDims)`: the maximum over `axis` (all axes when omitted). */
  max(axis?: ReduceAxis, keepDims?: boolean): Tensor;
  /** `min(this, axis, keepDims)`: the minimum over `axis` (all axes when omitted). */
  min(axis?: ReduceAxis, keepDims?: boolean): Tensor;
  /** `prod(this, axis, keepDims)`: the product over `axis` (all axes when omitted). */
  prod(axis?: ReduceAxis, keepDims?: boolean): Tensor;
  /** `argMax(this, axis)`: int32 indices of the maxima along `axis` (default 0). */
  argMax(axis?: number): Tensor;
  /** `argMin(this, axis)`: int32 indices of the minima along `axis` (default 0). */
  argMin(axis?: number): Tensor;
  /** `softmax(this, axis)`: softmax along `axis` (default the last). */
  softmax(axis?: number): Tensor;
  /** `logSoftmax(this, axis)`: log-softmax along `axis` (default the last). */
  logSoftmax(axis?: number): Tensor;
  /** `exp(this)`: e^x elementwise. */
  exp(): Tensor;
  /** `log(this)`: the natural logarithm elementwise. */
  log(): Tensor;
  /** `square(this)`: x^2 elementwise. */
  square(): Tensor;
  /** `sqrt(this)`: the square root elementwise. */
  sqrt(): Tensor;
  /** `rsqrt(this)`: 1 / sqrt(x) elementwise. */
  rsqrt(): Tensor;
  /** `abs(this)`: |x| elementwise. */
  abs(): Tensor;
  /** `neg(this)`: -x elementwise. */
  neg(): Tensor;
  /** `relu(this)`: max(x, 0) elementwise. */
  relu(): Tensor;
  /** `sigmoid(this)`: 1 / (1 + e^-x) elementwise. */
  sigmoid(): Tensor;
  /** `tanh(this)`: the hyperbolic tangent elementwise. */
  tanh(): Tensor;
  /** `clipByValue(this, min, max)`: the values clamped to [min, max]. */
  clipByValue(min: number, max: number): Tensor;
  /** `cast(this, dtype)`: the values converted to `dtype`. */
  cast(dtype: DType): Tensor;
  /**
   * Logs the tensor like TensorFlow.js's `print()`: a `Tensor(shape=..., dtype=...)` line, then
   * the values as nested arrays. Asynchronous here (the values are read back from the GPU):
   * `await x.print()`.
   */
  print(): Promise<void>;
}

function nest(flat: DataArray, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return flat[0];
  const build = (offset: number, dim: number): NestedArray[] => {
    const n = shape[dim];
    const out: NestedArray[] = new Array(n);
    if (dim === shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = flat[offset + i];
      return out;
    }
    let stride = 1;
    for (let d = dim + 1; d < shape.length; d++) stride *= shape[d];
    for (let i = 0; i < n; i++) out[i] = build(offset + i * stride, dim + 1);
    return out;
  };
  return build(0, 0);
}

/** @internal A new uninitialised tensor for a kernel to write. */
export function emptyTensor(shape: Shape, dtype: DType): Tensor {
  return new Tensor(new Storage(Math.max(4, sizeOf(shape) * 4)), shape, dtype);
}

/** @internal A tensor sharing `t`'s buffer with another shape of the same size (reshape). */
export function viewTensor(t: Tensor, shape: Shape): Tensor {
  t.assertAlive();
  return new Tensor(t.storage, shape, t.dtype);
}

/** @internal A copy of `t` in a new buffer (not recorded for autograd). */
export function copyOf(t: Tensor): Tensor {
  t.assertAlive();
  const out = emptyTensor(t.shape, t.dtype);
  if (t.size > 0) copyBuffer(t.buffer, 0, out.buffer, 0, t.size * 4);
  return out;
}
