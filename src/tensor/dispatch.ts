import { currentDevice } from './device.js';
import type { BufferBinding } from './queue.js';
import type { Tensor } from './tensor.js';

/** Dispatch geometry and buffer bindings for kernels: grids, flat indices, whole and ranged bindings. */

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

export function maxBindingBytes(): number {
  return currentDevice().limits.maxStorageBufferBindingSize;
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
