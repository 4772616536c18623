import { maxBindingBytes } from '../tensor/dispatch.js';
import type { DType } from '../tensor/dtype.js';
import { DeviceError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * Shared helpers for kernel files: argument checks, and (from src/tensor/dispatch.ts) dispatch
 * grids, bindings and big-tensor chunking.
 */

export { chunks, grid, linearIndex, maxBindingBytes, range, WG, whole } from '../tensor/dispatch.js';

export function assertTensor(x: unknown, op: string, arg: string): asserts x is Tensor {
  if (!(x instanceof Tensor)) {
    throw new DTypeError(`${op}: ${arg} must be a Tensor, got ${x === null ? 'null' : typeof x}`);
  }
  x.assertAlive(`${op}: ${arg}`);
}

export function assertDTypeIn(t: Tensor, allowed: readonly DType[], op: string, arg: string): void {
  if (!allowed.includes(t.dtype)) {
    throw new DTypeError(
      `${op}: ${arg} must have dtype ${allowed.join(' or ')}, got ${t.dtype} (shape ${fmtShape(t.shape)})`,
    );
  }
}

export function assertRank(t: Tensor, rank: number | readonly number[], op: string, arg: string): void {
  const ok = typeof rank === 'number' ? t.rank === rank : rank.includes(t.rank);
  if (!ok) {
    throw new ShapeError(
      `${op}: ${arg} must have rank ${typeof rank === 'number' ? rank : rank.join(' or ')}, got shape ${fmtShape(t.shape)}`,
    );
  }
}

/** Throws a DeviceError naming the binding limit when `t` cannot be bound whole. */
export function assertBindable(t: Tensor, op: string, arg: string): void {
  const limit = maxBindingBytes();
  if (t.byteSize > limit) {
    throw new DeviceError(
      `${op}: ${arg} of shape ${fmtShape(t.shape)} is ${t.byteSize} bytes, over the adapter's maxStorageBufferBindingSize of ${limit} bytes, and ${op} cannot split it`,
    );
  }
}
