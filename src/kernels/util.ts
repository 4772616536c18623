import { currentDevice } from '../tensor/device.js';
import type { DType } from '../tensor/dtype.js';
import { DeviceError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import type { BufferBinding } from '../tensor/queue.js';
import { Tensor } from '../tensor/tensor.js';

/** Shared helpers for kernel files: argument checks, dispatch grids, big-tensor chunking. */

export const WG = 256;

/**
 * Workgroup counts covering `n` invocations of `wgSize` lanes, spread over x and y because one
 * dimension is limited to 65535 workgroups. In WGSL, the flat index is `linearIndex(gid, nwg)`.
 */
export function grid(n: number, wgSize = WG): [number, number] {
  const groups = Math.ceil(n / wgSize);
  const max = currentDevice().limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** WGSL: the flat invocation index for a `grid()` dispatch (needs `gid` and `nwg` builtins). */
export function linearIndex(wgSize = WG): string {
  return `(gid.x + gid.y * nwg.x * ${wgSize}u)`;
}

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

export function maxBindingBytes(): number {
  return currentDevice().limits.maxStorageBufferBindingSize;
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

/** A binding of a whole tensor. */
export function whole(t: Tensor): BufferBinding {
  return { buffer: t.buffer, offset: 0, size: Math.max(16, Math.ceil((t.size * 4) / 16) * 16) };
}

/** A binding of elements [start, start+count) of `t` (start must be a multiple of 64 elements). */
export function range(t: Tensor, start: number, count: number): BufferBinding {
  const offset = start * 4;
  const size = Math.min(t.buffer.size - offset, Math.max(16, Math.ceil((count * 4) / 16) * 16));
  return { buffer: t.buffer, offset, size };
}

/**
 * Splits `n` elements into chunks that fit one storage binding, each starting at a multiple of
 * 64 elements (256 bytes: the offset alignment). One chunk when everything fits.
 */
export function chunks(n: number, maxElems = Math.floor(maxBindingBytes() / 4)): Array<[number, number]> {
  if (n <= maxElems) return [[0, n]];
  const step = Math.floor(maxElems / 64) * 64;
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += step) out.push([s, Math.min(step, n - s)]);
  return out;
}
