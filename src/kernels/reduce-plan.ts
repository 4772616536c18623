import type { BufferBinding } from '../tensor/queue.js';
import { sizeOf, stridesOf } from '../tensor/shape.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { isArg, laneKernel, mergeKernel, type PassC, type Spec, treeKernel } from './reduce-kernels.js';
import { cpuTuned } from './tuning.js';
import { assertBindable, grid, maxBindingBytes, range, whole } from './util.js';

/**
 * How a reduction runs (kernels in reduce-kernels.ts, public ops in reduce.ts). Each output
 * element reads its inputs through strides, so no transpose is needed. Adjacent axes of the same
 * kind (kept / reduced) are merged first and size-1 axes dropped, so most reductions become one
 * kept and one reduced "group". Lane mode suits many outputs, or a strided reduction where
 * neighbouring lanes read neighbouring addresses; tree mode few outputs with long reductions, and
 * with several slices per output (huge reductions) a second pass reduces the partials. Tensors
 * over the binding limit are reduced in row chunks when the reduced axes lead.
 */

interface Group {
  dim: number;
  stride: number;
}

interface Layout {
  kept: Group[];
  red: Group[];
  O: number;
  R: number;
}

/** Merges adjacent axes of the same kind and drops size-1 axes (the shape holds no zeros). */
function layout(shape: readonly number[], axes: readonly number[]): Layout {
  const strides = stridesOf(shape);
  const kept: Group[] = [];
  const red: Group[] = [];
  let prev: Group[] | undefined;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const list = axes.includes(i) ? red : kept;
    if (prev === list) {
      const g = list[list.length - 1];
      g.dim *= shape[i];
      g.stride = strides[i];
    } else list.push({ dim: shape[i], stride: strides[i] });
    prev = list;
  }
  return {
    kept: pad(kept, 1),
    red: pad(red, 1),
    O: sizeOf(kept.map((g) => g.dim)),
    R: sizeOf(red.map((g) => g.dim)),
  };
}

/**
 * Pads group lists with (dim 1, stride 0) groups to a few canonical lengths (1, 4, or more
 * for rank > 8) so that shapes share pipelines; a padded group adds a one-trip loop or a no-op term.
 */
function pad(groups: Group[], min: number): Group[] {
  const n = groups.length;
  const want = n <= 1 ? Math.max(n, min) : Math.max(n, 4);
  while (groups.length < want) groups.unshift({ dim: 1, stride: 0 });
  return groups;
}

interface Pass {
  spec: Spec;
  lay: Layout;
  mode: 'lane' | 'tree';
  wg: number;
  S: number;
  chunk: number;
  idxIn: boolean;
  final: boolean;
}

interface Choice {
  mode: 'lane' | 'tree';
  wg: number;
  S: number;
  chunk: number;
}

function tree(lay: Layout, wg: number, perLane: number, groups: number): Choice {
  let S = Math.max(1, Math.min(Math.ceil(lay.R / (wg * perLane)), Math.ceil(groups / lay.O)));
  const chunk = Math.ceil(lay.R / S);
  S = Math.ceil(lay.R / chunk);
  return { mode: 'tree', wg, S, chunk };
}

/**
 * Picks the kernel shape.
 * GPU: the classic design. Lane mode for short reductions, or strided ones with enough outputs
 * (neighbouring lanes then read neighbouring addresses); otherwise tree mode, a workgroup per
 * output (coalesced reads) split into slices until ~2048 workgroups keep the device busy.
 * CPU (measured on lavapipe): lane mode wins down to ~16 outputs even for long rows, while every
 * barrier of a tree workgroup switches between its 8-lane batches. So tree mode is kept for few
 * outputs with long reductions, with 64 lanes, ~64 workgroups in all and >= 64 elements per lane.
 * Lane workgroups shrink to 8 (lavapipe's SIMD width) when outputs are few, so they still spread
 * over threads. Several slices per output leave partials for a second pass.
 */
function choose(lay: Layout): Choice {
  if (!cpuTuned('reduce')) {
    const strided = lay.red[lay.red.length - 1].stride !== 1;
    if (lay.R <= 32 || (strided && lay.O >= 4096)) return { mode: 'lane', wg: 64, S: 1, chunk: lay.R };
    return tree(lay, lay.R >= 4096 ? 256 : 64, 16, 2048);
  }
  if (lay.O >= 64 || lay.R <= 4096) {
    return { mode: 'lane', wg: lay.O >= 512 ? 64 : 8, S: 1, chunk: lay.R };
  }
  return tree(lay, 64, 64, 64);
}

/** One pass; `bufs` holds the row maxima `m` and the outputs, bound by the names the pass declares. */
function dispatch(
  p: Pass,
  x: BufferBinding,
  xi: BufferBinding | undefined,
  base: number,
  bufs: { m?: Tensor; outV?: Tensor; outI?: Tensor },
) {
  const { spec, lay } = p;
  const c: PassC = {
    comb: spec.comb,
    pre: spec.pre,
    post: spec.post,
    inT: spec.inT,
    accT: spec.accT,
    outT: spec.outT,
    kept: lay.kept.length,
    red: lay.red.length,
    wg: p.wg,
    idxIn: p.idxIn,
    final: p.final,
  };
  const buffers: Record<string, Tensor | BufferBinding> = { x };
  if (xi) buffers.xi = xi;
  for (const [n, t] of Object.entries(bufs)) if (t) buffers[n] = t;
  const uniforms: Record<string, number> = {
    base,
    inf: 0x7f800000,
    scale: p.final ? spec.scale : 1,
    O: lay.O,
    R: lay.R,
    S: p.S,
    chunk: p.chunk,
  };
  for (const [g, list] of [
    ['k', lay.kept],
    ['r', lay.red],
  ] as const) {
    list.forEach((grp, j) => {
      uniforms[`${g}${j}d`] = grp.dim;
      uniforms[`${g}${j}s`] = grp.stride;
    });
  }
  (p.mode === 'lane' ? laneKernel : treeKernel).run({
    constants: c,
    buffers,
    uniforms,
    workgroups: p.mode === 'lane' ? grid(lay.O, p.wg) : grid(lay.O * p.S, 1),
  });
}

/**
 * Reduces `lay` read from `x` (offset by `base` elements). Final: writes `outV` (or the int32
 * indices `outI` for arg ops) through the spec's post step. Raw: writes accumulator values (and
 * u32 indices) for a later combine.
 */
function reduceInto(
  spec: Spec,
  lay: Layout,
  x: BufferBinding,
  xi: BufferBinding | undefined,
  base: number,
  m: Tensor | undefined,
  final: boolean,
  outV: Tensor | undefined,
  outI: Tensor | undefined,
): void {
  const arg = isArg(spec.comb);
  const c = choose(lay);
  const pass: Pass = { spec, lay, ...c, idxIn: xi !== undefined, final };
  if (c.S === 1) {
    dispatch(pass, x, xi, base, { m, outV, outI });
    return;
  }
  const n = lay.O * c.S;
  const pV = emptyTensor([n], spec.accT === 'f32' ? 'float32' : 'int32');
  const pI = arg ? emptyTensor([n], 'int32') : undefined;
  dispatch({ ...pass, final: false }, x, xi, base, { m, outV: pV, outI: pI });
  const spec2: Spec = { ...spec, pre: 'none' };
  reduceInto(spec2, layout([lay.O, c.S], [1]), whole(pV), pI && whole(pI), 0, m, final, outV, outI);
  pV.dispose();
  pI?.dispose();
}

/**
 * A reduction over the leading `N` rows of `x` viewed as [N, M], for tensors over the binding
 * limit: each chunk of rows is bound on its own (from a 64-aligned start, `base` skipping the
 * rest), reduced to raw partials, and merged into the first chunk's partials.
 */
function reduceChunked(
  spec: Spec,
  x: Tensor,
  N: number,
  M: number,
  m: Tensor | undefined,
  out: Tensor,
): void {
  const arg = isArg(spec.comb);
  const rows = Math.floor((Math.floor(maxBindingBytes() / 4) - 64) / M);
  const dt = spec.accT === 'f32' ? 'float32' : 'int32';
  let accV: Tensor | undefined;
  let accI: Tensor | undefined;
  for (let n0 = 0; n0 < N; n0 += rows) {
    const nc = Math.min(rows, N - n0);
    const start = n0 * M;
    const shift = start % 64;
    const pV = emptyTensor([M], dt);
    const pI = arg ? emptyTensor([M], 'int32') : undefined;
    const binding = range(x, start - shift, nc * M + shift);
    reduceInto(spec, layout([nc, M], [0]), binding, undefined, shift, m, false, pV, pI);
    if (!accV) {
      accV = pV;
      accI = pI;
      continue;
    }
    const last = n0 + rows >= N;
    const useM = last && spec.post === 'lse';
    const buffers: Record<string, Tensor> = { accV, newV: pV };
    if (accI) buffers.accI = accI;
    if (pI) buffers.newI = pI;
    if (useM) buffers.m = m!;
    if (last) buffers.out = out;
    const { comb, post, accT, outT } = spec;
    mergeKernel.run({
      constants: { comb, post, accT, outT, last, useM },
      buffers,
      uniforms: { n: M, off: n0, scale: spec.scale },
      workgroups: grid(M),
    });
    pV.dispose();
    pI?.dispose();
  }
  accV?.dispose();
  accI?.dispose();
}

/**
 * Whether `x` must be reduced in chunks (over the binding limit). Throws, naming the limit, when
 * it cannot be: the reduced axes must lead (one reduced group outside at most one kept group)
 * and a row of the kept axes must fit a binding. Called before any output is allocated.
 */
export function needsChunks(x: Tensor, axes: readonly number[], op: string): boolean {
  if (x.byteSize <= maxBindingBytes()) return false;
  const lay = layout(x.shape, axes);
  const [k, r] = [lay.kept[0], lay.red[0]];
  const leading =
    lay.red.length === 1 && lay.kept.length === 1 && (k.dim === 1 || r.stride === k.dim * k.stride);
  if (!leading || lay.O > Math.floor(maxBindingBytes() / 4) - 64) assertBindable(x, op, 'x');
  return true;
}

/** Runs `spec` over `axes` of `x` into `out` (checks done), whole or in chunks. */
export function runReduce(
  spec: Spec,
  op: string,
  x: Tensor,
  axes: number[],
  m: Tensor | undefined,
  out: Tensor,
): void {
  const lay = layout(x.shape, axes);
  const arg = isArg(spec.comb);
  if (needsChunks(x, axes, op)) reduceChunked(spec, x, lay.R, lay.O, m, out);
  else reduceInto(spec, lay, whole(x), undefined, 0, m, true, arg ? undefined : out, arg ? out : undefined);
}
