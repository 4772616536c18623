import { DeviceError } from '../tensor/errors.js';
import type { WindowDispatch } from './conv-args.js';
import type { UniformType } from './program.js';

/**
 * What the fused weight-stationary strip kernels (dw-project.ts, expand-dw.ts) share: one
 * subgroup per workgroup owns a strip of `px` output columns and a block of rows, walked down the
 * image. These are the strip's uniforms, its WGSL head and its dispatch grid.
 */

/** The uniforms both kernels begin with: the window, then the strip grid (see `stripGrid`). */
export const STRIP_UNIFORMS = {
  H: 'u32',
  W: 'u32',
  OH: 'u32',
  OW: 'u32',
  padT: 'i32',
  padL: 'i32',
  owb: 'u32',
  rows: 'u32',
  rowBlocks: 'u32',
  strips: 'u32',
  nwx: 'u32',
} as const satisfies Record<string, UniformType>;

/**
 * WGSL: the workgroup's strip, its first output column `ox0`, rows `oy0` to `oy1`, image `b` and
 * first input column `ix0` (column stride `sw`); workgroups past the last strip return. Every
 * value depends on the workgroup only, so the kernels' broadcasts stay in uniform control flow.
 */
export function stripHead(px: number, sw: number): string {
  return `  let blk = wid.x + wid.y * p.nwx;
  if (blk >= p.strips) { return; }
  let ox0 = (blk % p.owb) * ${px}u;
  let rr = blk / p.owb;
  let oy0 = (rr % p.rowBlocks) * p.rows;
  let oy1 = min(oy0 + p.rows, p.OH);
  let b = rr / p.rowBlocks;
  let ix0 = i32(ox0 * ${sw}u) - p.padL;
`;
}

/**
 * The strip grid of dispatch `a` with `px` output columns per strip: whole columns of rows unless
 * that leaves fewer strips (subgroups) than ~512 to share among the CPU threads. The values of
 * STRIP_UNIFORMS and the workgroup grid (a second dimension past 65535 strips).
 */
export function stripGrid(a: WindowDispatch, px: number, op: string) {
  const owb = Math.ceil(a.ow / px);
  const rowBlocks = Math.min(a.oh, Math.max(1, Math.ceil(512 / (a.n * owb))));
  const rows = Math.ceil(a.oh / rowBlocks);
  const strips = a.n * Math.ceil(a.oh / rows) * owb;
  const nwx = Math.min(strips, 65535);
  const nwy = Math.ceil(strips / nwx);
  if (nwy > 65535) throw new DeviceError(`${op}: ${strips} strips exceed the dispatch grid`);
  const { h: H, w: W, oh: OH, ow: OW, padT, padL } = a;
  return {
    uniforms: { H, W, OH, OW, padT, padL, owb, rows, rowBlocks: Math.ceil(a.oh / rows), strips, nwx },
    workgroups: [nwx, nwy, 1] as [number, number, number],
  };
}
