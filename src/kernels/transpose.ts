import { ArgumentError } from '../tensor/errors.js';
import { copyBuffer } from '../tensor/queue.js';
import { recordOp } from '../tensor/record.js';
import { stridesOf } from '../tensor/shape.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { defineKernel } from './program.js';
import { cpuTuned } from './tuning.js';
import { assertTensor, grid, maxBindingBytes, range, whole } from './util.js';

/**
 * The movement engine shared by transpose, slice, concat, stack and tile. Every one of them is a
 * strided copy: iterate over a shape, read `src[srcBase + Σ c·srcStrides]`, write
 * `dst[dstBase + Σ c·dstStrides]`. After merging dimensions that are contiguous on both sides,
 * a plain run becomes a buffer-to-buffer copy, a batched 2-D swap becomes a tiled transpose, and
 * anything else runs one generic kernel with the shape and strides baked in as constants.
 * Values are copied as raw 32-bit words, so one pipeline serves float32, int32 and bool.
 */

export interface StridedSide {
  t: Tensor;
  base: number;
  strides: readonly number[];
}

/** Drops size-1 dimensions and merges neighbours that are contiguous in both src and dst. */
function collapse(dims: readonly number[], ss: readonly number[], ds: readonly number[]) {
  const d: number[] = [];
  const s: number[] = [];
  const t: number[] = [];
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 1) continue;
    const k = d.length - 1;
    if (k >= 0 && s[k] === ss[i] * dims[i] && t[k] === ds[i] * dims[i]) {
      d[k] *= dims[i];
      s[k] = ss[i];
      t[k] = ds[i];
    } else {
      d.push(dims[i]);
      s.push(ss[i]);
      t.push(ds[i]);
    }
  }
  return { dims: d, ss: s, ds: t };
}

const isRowMajor = (dims: readonly number[], strides: readonly number[]) =>
  stridesOf(dims).every((v, i) => v === strides[i]);

/** [lo, hi] of the flat indices one side touches. */
function touched(base: number, dims: readonly number[], strides: readonly number[]): [number, number] {
  let lo = base;
  let hi = base;
  dims.forEach((n, i) => {
    const span = (n - 1) * strides[i];
    if (span < 0) lo += span;
    else hi += span;
  });
  return [lo, hi];
}

/**
 * The binding window [start, count] of one side: the whole tensor when it fits one binding, else
 * the touched range from a 64-element aligned start; undefined when that is over the limit too.
 */
function window(t: Tensor, base: number, dims: readonly number[], strides: readonly number[]) {
  const maxElems = Math.floor(maxBindingBytes() / 4);
  if (t.size <= maxElems) return [0, t.size] as const;
  const [lo, hi] = touched(base, dims, strides);
  const start = Math.floor(lo / 64) * 64;
  return hi + 1 - start <= maxElems ? ([start, hi + 1 - start] as const) : undefined;
}

const u32 = (v: number) => `${v >>> 0}u`;

function offsetExpr(base: string, dims: readonly number[], strides: readonly number[] | null) {
  if (!strides) return `${base} + it`;
  return [base, ...dims.map((_, i) => `c${i} * ${u32(strides[i])}`)].join(' + ');
}

/** The generic copy: shape and strides baked in (null strides: that side is row-major). */
type CopyC = { dims: readonly number[]; ss: readonly number[] | null; ds: readonly number[] | null };

const genericKernel = defineKernel<CopyC, 'src' | 'dst', 'n' | 'sb' | 'db'>({
  name: 'strided_copy',
  bindings: { src: 'read u32', dst: 'rw u32' },
  uniforms: { n: 'u32', sb: 'u32', db: 'u32' },
  index: { total: 'n', name: 'it' },
  body: ({ dims, ss, ds }) => {
    const coords: string[] = [];
    for (let i = dims.length - 1; i > 0; i--)
      coords.push(`let c${i} = r % ${u32(dims[i])}; r = r / ${u32(dims[i])};`);
    if (dims.length > 0) coords.push('let c0 = r;');
    return `  var r = it;
  ${coords.join('\n  ')}
  dst[${offsetExpr('p.db', dims, ds)}] = src[${offsetExpr('p.sb', dims, ss)}];`;
  },
});

const T = 32;
const ROWS = 8;
// One 32x32 tile per 32x8 workgroup (4 elements per invocation), staged through shared memory so
// that the reads of rows of `src` and the writes of rows of `dst` are both contiguous; the +1
// column avoids bank conflicts. On an H100 this ran 2.5-3.5x faster than the generic kernel for
// 4096x4096 and larger matrices, and 1.3-3x faster than one 16x16 tile per workgroup.
const tiledKernel = defineKernel<{ rows: number; cols: number }, 'src' | 'dst'>({
  name: 'transpose_tiled',
  bindings: { src: 'read u32', dst: 'rw u32' },
  workgroupSize: [T, ROWS, 1],
  builtins: ['wid', 'lid3'],
  helpers: () => `var<workgroup> tile: array<u32, ${T * (T + 1)}>;`,
  body: ({ rows, cols }) => `  let base = wid.z * ${u32(rows * cols)};
  let c = wid.x * ${T}u + lid3.x;
  for (var k = 0u; k < ${T}u; k += ${ROWS}u) {
    let r = wid.y * ${T}u + lid3.y + k;
    if (r < ${u32(rows)} && c < ${u32(cols)}) { tile[(lid3.y + k) * ${T + 1}u + lid3.x] = src[base + r * ${u32(cols)} + c]; }
  }
  workgroupBarrier();
  let ocol = wid.y * ${T}u + lid3.x;
  for (var k = 0u; k < ${T}u; k += ${ROWS}u) {
    let orow = wid.x * ${T}u + lid3.y + k;
    if (orow < ${u32(cols)} && ocol < ${u32(rows)}) { dst[base + orow * ${u32(rows)} + ocol] = tile[lid3.x * ${T + 1}u + lid3.y + k]; }
  }`,
});

/**
 * CPU adapters (lavapipe, SwiftShader) and GPUs want different copy paths, as measured:
 * - the tiled transpose: on an H100 2.5-3.5x faster than the generic kernel for large matrices;
 *   on lavapipe 1.5-3x slower (a workgroup barrier is expensive on a CPU, its caches are large);
 * - buffer-to-buffer copies: on lavapipe 10-20x faster than a copy kernel; on an H100 (Dawn,
 *   Vulkan) 0.4-0.7x the bandwidth of a copy kernel. A single contiguous run is a buffer copy
 *   everywhere (no pipeline, no binding limit); up to 16 contiguous rows only on CPU adapters.
 * `cpuTuned('copy')` tells them apart (the copyStrategy tuning switch forces either).
 *
 * A batched [B, R, C] -> [B, C, R] swap of whole tensors, if that is what the collapsed copy is.
 */
function asBatchedSwap(dims: number[], ss: number[], ds: number[], src: StridedSide, dst: StridedSide) {
  const k = dims.length;
  if (cpuTuned('copy')) return undefined;
  if (k < 2 || k > 3 || src.base !== 0 || dst.base !== 0 || !isRowMajor(dims, ds)) return undefined;
  const [cols, rows] = [dims[k - 2], dims[k - 1]]; // source is [B, rows, cols]
  if (ss[k - 1] !== cols || ss[k - 2] !== 1 || (k === 3 && ss[0] !== rows * cols)) return undefined;
  const batch = k === 3 ? dims[0] : 1;
  const limit = maxBindingBytes();
  const max = 65535;
  if (src.t.byteSize > limit || dst.t.byteSize > limit) return undefined;
  if (batch > max || Math.ceil(cols / T) > max || Math.ceil(rows / T) > max) return undefined;
  return { batch, rows, cols };
}

// On CPU adapters, up to this many contiguous rows are buffer-to-buffer copies instead of a kernel.
const MAX_ROW_COPIES = 16;

/**
 * 0 when the collapsed copy is one contiguous run, the number of rows when it is a few contiguous
 * rows (each a buffer-to-buffer copy, no binding limit), else -1 (a kernel).
 */
function contiguousRows(c: { dims: number[]; ss: number[]; ds: number[] }): number {
  const k = c.dims.length;
  if (k === 0 || (k === 1 && c.ss[0] === 1 && c.ds[0] === 1)) return 0;
  if (k === 2 && c.ss[1] === 1 && c.ds[1] === 1 && c.dims[0] <= MAX_ROW_COPIES && cpuTuned('copy'))
    return c.dims[0];
  return -1;
}

/** Copies one box whose touched ranges fit one binding on each side. */
function copyBox(dims: readonly number[], src: StridedSide, dst: StridedSide): void {
  const c = collapse(dims, src.strides, dst.strides);
  const n = c.dims.reduce((a, b) => a * b, 1);
  const rows = contiguousRows(c);
  if (rows === 0) {
    copyBuffer(src.t.buffer, src.base * 4, dst.t.buffer, dst.base * 4, n * 4);
    return;
  }
  if (rows > 0) {
    for (let i = 0; i < rows; i++) {
      const [s, d] = [src.base + i * c.ss[0], dst.base + i * c.ds[0]];
      copyBuffer(src.t.buffer, s * 4, dst.t.buffer, d * 4, c.dims[1] * 4);
    }
    return;
  }
  const swap = asBatchedSwap(c.dims, c.ss, c.ds, src, dst);
  if (swap) {
    tiledKernel.run({
      constants: { rows: swap.rows, cols: swap.cols },
      buffers: { src: whole(src.t), dst: whole(dst.t) },
      workgroups: [Math.ceil(swap.cols / T), Math.ceil(swap.rows / T), swap.batch],
    });
    return;
  }
  const [sw, sl] = window(src.t, src.base, c.dims, c.ss)!;
  const [dw, dl] = window(dst.t, dst.base, c.dims, c.ds)!;
  genericKernel.run({
    constants: {
      dims: c.dims,
      ss: isRowMajor(c.dims, c.ss) ? null : c.ss,
      ds: isRowMajor(c.dims, c.ds) ? null : c.ds,
    },
    buffers: { src: range(src.t, sw, sl), dst: range(dst.t, dw, dl) },
    uniforms: { n, sb: src.base - sw, db: dst.base - dw },
    workgroups: grid(n),
  });
}

/**
 * Records the copy `dst[...] = src[...]` over `dims` (see the file comment). A copy touching more
 * than one binding's worth of a tensor over the 128 MiB binding limit is split into boxes (halving
 * its longest dimension) until each box reads and writes within one binding window.
 */
export function stridedCopy(dims: readonly number[], src: StridedSide, dst: StridedSide): void {
  if (dims.some((n) => n === 0)) return;
  const c = collapse(dims, src.strides, dst.strides);
  const fits = window(src.t, src.base, c.dims, c.ss) && window(dst.t, dst.base, c.dims, c.ds);
  if (fits || contiguousRows(c) >= 0) {
    copyBox(c.dims, { ...src, strides: c.ss }, { ...dst, strides: c.ds });
    return;
  }
  let d = 0;
  const span = (i: number) => (c.dims[i] - 1) * Math.max(Math.abs(c.ss[i]), Math.abs(c.ds[i]));
  for (let i = 1; i < c.dims.length; i++) if (span(i) > span(d)) d = i;
  const h = Math.ceil(c.dims[d] / 2);
  const first = c.dims.map((v, i) => (i === d ? h : v));
  const second = c.dims.map((v, i) => (i === d ? v - h : v));
  stridedCopy(first, { ...src, strides: c.ss }, { ...dst, strides: c.ds });
  stridedCopy(
    second,
    { t: src.t, base: src.base + h * c.ss[d], strides: c.ss },
    { t: dst.t, base: dst.base + h * c.ds[d], strides: c.ds },
  );
}

/** Checks that `perm` is a permutation of 0..rank-1. */
function assertPerm(perm: unknown, rank: number): asserts perm is number[] {
  const ok =
    Array.isArray(perm) &&
    perm.length === rank &&
    perm.every((p) => Number.isInteger(p) && p >= 0 && p < rank) &&
    new Set(perm).size === rank;
  if (!ok) {
    throw new ArgumentError(
      `transpose: perm must be a permutation of 0..${rank - 1} for a tensor of rank ${rank}, got ${JSON.stringify(perm)}`,
    );
  }
}

/**
 * Permutes the axes: output axis i is input axis `perm[i]` (default: reversed axes). Works for
 * every rank and dtype. Permutations that amount to swapping two blocks of axes (e.g. the last
 * two axes, with batch axes in front) run a tiled 2-D transpose on GPUs.
 */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  assertTensor(x, 'transpose', 'x');
  const p = perm === undefined ? x.shape.map((_, i) => x.rank - 1 - i) : [...perm];
  assertPerm(perm === undefined ? p : perm, x.rank);
  const shape = p.map((a) => x.shape[a]);
  const out = emptyTensor(shape, x.dtype);
  const xs = stridesOf(x.shape);
  stridedCopy(
    shape,
    { t: x, base: 0, strides: p.map((a) => xs[a]) },
    { t: out, base: 0, strides: stridesOf(shape) },
  );
  return recordOp('transpose', [x], out, { perm: p });
}
