import { DeviceError } from '../tensor/errors.js';
import type { WindowDispatch } from './conv-args.js';
import type { UniformType } from './program.js';

/**
 * What the fused weight-stationary strip kernels (dw-project.ts, expand-dw.ts) share: one
 * subgroup per workgroup owns a strip of `px` output columns and a block of rows, walked down the
 * image. These are the strip's uniforms, its WGSL head and its dispatch grid; the walk down the
 * rows, through one or several images (`stripLoop`), is also the depthwise strip kernel's
 * (depthwise.ts).
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
  imgs: 'u32',
  N: 'u32',
} as const satisfies Record<string, UniformType>;

/**
 * WGSL: the workgroup's strip, its first output column `ox0`, rows `oy0` to `oy1`, image group
 * `bi` and first input column `ix0` (column stride `sw`); workgroups past the last strip return.
 * Every value depends on the workgroup only, so the kernels' broadcasts stay in uniform control
 * flow.
 */
export function stripHead(px: number, sw: number): string {
  return `  let blk = wid.x + wid.y * p.nwx;
  if (blk >= p.strips) { return; }
  let ox0 = (blk % p.owb) * ${px}u;
  let rr = blk / p.owb;
  let oy0 = (rr % p.rowBlocks) * p.rows;
  let oy1 = min(oy0 + p.rows, p.OH);
  let bi = rr / p.rowBlocks;
  let ix0 = i32(ox0 * ${sw}u) - p.padL;
`;
}

/**
 * WGSL: the strip's walk, in image `b`: `carry` (the window rows the first output row shares with
 * the row above, loaded at `oy0`), then `body` for each output row `oy`. With `multi` (`imgs` > 1)
 * the walk repeats for each image of group `bi` (uniforms `imgs` and `N`).
 */
export function stripLoop(multi: boolean, carry: string, body: string): string {
  const rows = `${carry}  for (var oy = oy0; oy < oy1; oy++) {\n${body}  }\n`;
  if (!multi) return `  let b = bi;\n${rows}`;
  return `  let b1 = min((bi + 1u) * p.imgs, p.N);
  for (var b = bi * p.imgs; b < b1; b++) {
${rows}  }
`;
}

/**
 * The strip grid of dispatch `a` with `px` output columns per strip: whole columns of rows unless
 * that leaves fewer strips (subgroups) than ~512 to share among the CPU threads, and several images
 * per strip while ~512 strips remain. The values of STRIP_UNIFORMS, the workgroup grid (a second
 * dimension past 65535 strips) and the images per strip (`imgs` > 1: the kernel takes `stripLoop`'s
 * multi-image walk).
 */
export function stripGrid(a: WindowDispatch, px: number, op: string) {
  const owb = Math.ceil(a.ow / px);
  const rowBlocks = Math.min(a.oh, Math.max(1, Math.ceil(512 / (a.n * owb))));
  const rows = Math.ceil(a.oh / rowBlocks);
  // Whole columns with strips to spare: each subgroup walks its column strip in up to 8 images,
  // loading its resident weights once for all of them (the expansion + depthwise of MobileNetV2's
  // block 1 at batch 64, profiled: 86-110 -> 59-80 ms; the depthwise + projection of block 0 within
  // noise).
  const imgs = rowBlocks === 1 ? Math.max(1, Math.min(8, Math.floor((a.n * owb) / 512))) : 1;
  const strips = Math.ceil(a.n / imgs) * Math.ceil(a.oh / rows) * owb;
  const nwx = Math.min(strips, 65535);
  const nwy = Math.ceil(strips / nwx);
  if (nwy > 65535) throw new DeviceError(`${op}: ${strips} strips exceed the dispatch grid`);
  const { h: H, w: W, oh: OH, ow: OW, padT, padL } = a;
  return {
    uniforms: {
      H,
      W,
      OH,
      OW,
      padT,
      padL,
      owb,
      rows,
      rowBlocks: Math.ceil(a.oh / rows),
      strips,
      nwx,
      imgs,
      N: a.n,
    },
    workgroups: [nwx, nwy, 1] as [number, number, number],
    imgs,
  };
}
