import { deviceInfo } from '../tensor/device.js';
import { type DType, wgslType } from '../tensor/dtype.js';
import { ArgumentError, fmtShape } from '../tensor/errors.js';
import { type BufferBinding, ParamWriter, runKernel } from '../tensor/queue.js';
import { recordOp } from '../tensor/record.js';
import { normalizeAxes, normalizeAxis, sizeOf, stridesOf } from '../tensor/shape.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { fillKernel } from './fill.js';
import {
  assertBindable,
  assertDTypeIn,
  assertTensor,
  grid,
  linearIndex,
  maxBindingBytes,
  range,
  whole,
} from './util.js';

/**
 * Reductions (sum, mean, max, min, prod, any, all, argMax, argMin, logSumExp).
 *
 * Each output element reads its inputs through strides, so no transpose is needed. Adjacent axes
 * of the same kind (kept / reduced) are merged first and size-1 axes dropped, so most reductions
 * become one kept and one reduced "group". Only the number of groups is baked into the WGSL; dims
 * and strides are uniforms, so one pipeline serves every shape (lavapipe compiles are slow, and a
 * model reduces many shapes). Two kernel shapes:
 * - lane: one invocation per output loops over the reduced elements (many outputs, or a strided
 *   reduction where neighbouring lanes read neighbouring addresses);
 * - tree: a workgroup per (output, slice) strides over a contiguous range of the reduced elements
 *   and combines in workgroup memory; with several slices per output (few outputs, huge
 *   reductions) a second pass reduces the partials.
 * Tensors over the binding limit are reduced in row chunks when the reduced axes lead.
 */

type T = 'f32' | 'i32';
type Comb = 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin';
/** What a pass does to loaded values: nothing, or exp(x - m[o]) for logSumExp. */
type Pre = 'none' | 'expm';
/**
 * What the final write does: convert (float32 sums also multiply by `scale`: 1/R for mean, 1 for
 * sum, so both share a pipeline), or log(acc) + m[o] (logSumExp).
 */
type Post = 'none' | 'lse';

interface Spec {
  comb: Comb;
  pre: Pre;
  post: Post;
  inT: T;
  accT: T;
  outT: T;
  scale: number;
}

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

const isArg = (c: Comb) => c === 'argmax' || c === 'argmin';

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

/** WGSL: element offset of flat index `i` over row-major groups `p.<g>0..` (dims and strides). */
function offsetFn(name: string, g: 'k' | 'r', count: number): string {
  if (count === 0) return `fn ${name}(i: u32) -> u32 { return 0u; }`;
  if (count === 1) return `fn ${name}(i: u32) -> u32 { return i * p.${g}0s; }`;
  let body = 'var q = i;\n  var off = 0u;\n';
  for (let j = count - 1; j > 0; j--) {
    body += `  off += (q % p.${g}${j}d) * p.${g}${j}s;\n  q = q / p.${g}${j}d;\n`;
  }
  return `fn ${name}(i: u32) -> u32 {\n  ${body}  return off + q * p.${g}0s;\n}`;
}

/** WGSL uniform block: shapes are parameters so that one pipeline serves every shape. */
function paramStruct(lay: Layout): string {
  const f = ['base: u32', 'inf: u32', 'scale: f32', 'O: u32', 'R: u32', 'S: u32', 'chunk: u32'];
  for (const [g, list] of [
    ['k', lay.kept],
    ['r', lay.red],
  ] as const) {
    for (let j = 0; j < list.length; j++) f.push(`${g}${j}d: u32`, `${g}${j}s: u32`);
  }
  return `struct P { ${f.join(', ')} }`;
}

const NAN_FNS = `
fn isnan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn isinf_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }`;

/** WGSL combining functions for accumulator type `a`. Max/min propagate NaN (as NumPy). */
function combFns(comb: Comb, a: T): string {
  switch (comb) {
    case 'sum':
      return `fn comb(a: ${a}, v: ${a}) -> ${a} { return a + v; }`;
    case 'prod':
      return `fn comb(a: ${a}, v: ${a}) -> ${a} { return a * v; }`;
    case 'max':
    case 'min': {
      const op = comb === 'max' ? '>' : '<';
      return a === 'i32'
        ? `fn comb(a: i32, v: i32) -> i32 { return ${comb}(a, v); }`
        : `fn comb(a: f32, v: f32) -> f32 { return select(select(a, v, v ${op} a), v, isnan_(v)); }`;
    }
    default: {
      // Is candidate (bv, bi) better than (av, ai)? NaN beats numbers; ties go to the lower index.
      const op = comb === 'argmax' ? '>' : '<';
      const nan =
        a === 'f32'
          ? `let bn = isnan_(bv);
  let an = isnan_(av);
  if (bn != an) { return bn; }
  if (bn) { return bi < ai; }\n  `
          : '';
      return `fn better(bv: ${a}, bi: u32, av: ${a}, ai: u32) -> bool {
  ${nan}if (bv == av) { return bi < ai; }
  return bv ${op} av;
}`;
    }
  }
}

function initValue(comb: Comb, a: T): string {
  if (comb === 'sum') return `${a}(0)`;
  if (comb === 'prod') return `${a}(1)`;
  const high = comb === 'min' || comb === 'argmin';
  if (a === 'f32') return high ? 'INF' : '-INF';
  return high ? '2147483647i' : '(-2147483647i - 1i)';
}

const scaled = (spec: Spec) => spec.comb === 'sum' && spec.accT === 'f32' && spec.post === 'none';

/** WGSL of the final value from accumulator `a` (and row max `m` for logSumExp). */
function postExpr(spec: Spec, a: string, m: string): string {
  if (spec.post === 'lse') return `select(log(${a}) + ${m}, ${m}, isinf_(${m}))`;
  if (scaled(spec)) return `${a} * p.scale`;
  return spec.outT === spec.accT ? a : `${spec.outT}(${a})`;
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

function passSource(p: Pass): string {
  const { spec, lay, wg } = p;
  const arg = isArg(spec.comb);
  const A = spec.accT;
  const useM = spec.pre === 'expm' || (p.final && spec.post === 'lse');
  const inT = p.idxIn ? A : spec.inT;
  const decl: string[] = [`@group(0) @binding(0) var<storage, read> x: array<${inT}>;`];
  if (p.idxIn) decl.push('var<storage, read> xi: array<u32>;');
  if (useM) decl.push('var<storage, read> m: array<f32>;');
  if (arg && p.final) decl.push('var<storage, read_write> outI: array<i32>;');
  else {
    decl.push(`var<storage, read_write> outV: array<${p.final ? spec.outT : A}>;`);
    if (arg) decl.push('var<storage, read_write> outI: array<u32>;');
  }
  decl.push('var<uniform> p: P;');
  const bindings = decl.map((d, i) => (i === 0 ? d : `@group(0) @binding(${i}) ${d}`)).join('\n');
  const load = spec.pre === 'expm' ? 'exp(f32(x[e]) - mo)' : inT === A ? 'x[e]' : `${A}(x[e])`;
  const update = arg
    ? `let vi = ${p.idxIn ? 'xi[e]' : 'r'};\n    if (better(v, vi, acc, ai)) { acc = v; ai = vi; }`
    : 'acc = comb(acc, v);';
  const post = p.final ? postExpr(spec, 'acc', 'mo') : scaled(spec) ? 'acc * p.scale' : 'acc';
  const write = (at: string) =>
    arg
      ? p.final
        ? `outI[${at}] = i32(ai);`
        : `outV[${at}] = acc;\n    outI[${at}] = ai;`
      : `outV[${at}] = ${post};`;
  const head = `${paramStruct(lay)}
${bindings}
${NAN_FNS}
${combFns(spec.comb, A)}
${offsetFn('koff', 'k', lay.kept.length)}
${offsetFn('roff', 'r', lay.red.length)}`;
  const start = `let INF = bitcast<f32>(p.inf);
  let b = p.base + koff(o);
  ${useM ? 'let mo = m[o];' : ''}
  var acc: ${A} = ${initValue(spec.comb, A)};
  var ai = 0xffffffffu;`;

  if (p.mode === 'lane') {
    return `${head}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = ${linearIndex(wg)};
  if (o >= p.O) { return; }
  ${start}
  var r = 0u;
  ${lay.red.map((_, j) => `for (var i${j} = 0u; i${j} < p.r${j}d; i${j}++) {`).join('\n  ')}
    let e = b${lay.red.map((_, j) => ` + i${j} * p.r${j}s`).join('')};
    let v = ${load};
    ${update}
    r++;
  ${lay.red.map(() => '}').join('')}
  ${write('o')}
}`;
  }
  const treeStep = arg
    ? 'if (better(sv[lid + k], si[lid + k], sv[lid], si[lid])) { sv[lid] = sv[lid + k]; si[lid] = si[lid + k]; }'
    : 'sv[lid] = comb(sv[lid], sv[lid + k]);';
  return `${head}
var<workgroup> sv: array<${A}, ${wg}>;
${arg ? `var<workgroup> si: array<u32, ${wg}>;` : ''}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.O * p.S) { return; }
  let o = w / p.S;
  let r0 = (w - o * p.S) * p.chunk;
  ${start}
  let r1 = min(r0 + p.chunk, p.R);
  for (var r = r0 + lid; r < r1; r += ${wg}u) {
    let e = b + roff(r);
    let v = ${load};
    ${update}
  }
  sv[lid] = acc;
  ${arg ? 'si[lid] = ai;' : ''}
  workgroupBarrier();
  for (var k = ${wg / 2}u; k > 0u; k = k >> 1u) {
    if (lid < k) { ${treeStep} }
    workgroupBarrier();
  }
  if (lid == 0u) {
    acc = sv[0];
    ${arg ? 'ai = si[0];' : ''}
    ${write('w')}
  }
}`;
}

/** Which tuning `choose` uses: by adapter ('auto'), or forced (tests run both on lavapipe). */
export type KernelPolicy = 'auto' | 'gpu' | 'cpu';
let policy: KernelPolicy = 'auto';

/** @internal Forces the GPU- or CPU-tuned kernel choice of reductions and softmax. */
export function setKernelPolicy(p: KernelPolicy): void {
  policy = p;
}

/** True on software adapters (lavapipe, SwiftShader): they want few workgroups and no barriers. */
export function cpuAdapter(): boolean {
  if (policy !== 'auto') return policy === 'cpu';
  const i = deviceInfo();
  return i.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(i.description);
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
  if (!cpuAdapter()) {
    const strided = lay.red[lay.red.length - 1].stride !== 1;
    if (lay.R <= 32 || (strided && lay.O >= 4096)) return { mode: 'lane', wg: 64, S: 1, chunk: lay.R };
    return tree(lay, lay.R >= 4096 ? 256 : 64, 16, 2048);
  }
  if (lay.O >= 64 || lay.R <= 4096) {
    return { mode: 'lane', wg: lay.O >= 512 ? 64 : 8, S: 1, chunk: lay.R };
  }
  return tree(lay, 64, 64, 64);
}

function dispatch(
  p: Pass,
  x: BufferBinding,
  xi: BufferBinding | undefined,
  base: number,
  bufs: BufferBinding[],
) {
  const buffers = [x, ...(xi ? [xi] : []), ...bufs];
  const { spec, lay } = p;
  // Keyed by the WGSL itself: passes that generate the same text share one pipeline.
  const source = passSource(p);
  const w = new ParamWriter()
    .u32(base)
    .u32(0x7f800000)
    .f32(p.final ? spec.scale : 1);
  w.u32(lay.O).u32(lay.R).u32(p.S).u32(p.chunk);
  for (const g of [...lay.kept, ...lay.red]) w.u32(g.dim).u32(g.stride);
  runKernel({
    key: `reduce ${p.mode}${p.wg} ${spec.comb}\n${source}`,
    source: () => source,
    buffers,
    params: w.done(),
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
  const mBuf = m && (spec.pre === 'expm' || (final && spec.post === 'lse')) ? [whole(m)] : [];
  const pass: Pass = { spec, lay, ...c, idxIn: xi !== undefined, final };
  if (c.S === 1) {
    const outs = arg && final ? [whole(outI!)] : [whole(outV!), ...(arg ? [whole(outI!)] : [])];
    dispatch(pass, x, xi, base, [...mBuf, ...outs]);
    return;
  }
  const n = lay.O * c.S;
  const pV = emptyTensor([n], spec.accT === 'f32' ? 'float32' : 'int32');
  const pI = arg ? emptyTensor([n], 'int32') : undefined;
  const pm = spec.pre === 'expm' ? [whole(m!)] : [];
  dispatch({ ...pass, final: false }, x, xi, base, [...pm, whole(pV), ...(pI ? [whole(pI)] : [])]);
  const spec2: Spec = { ...spec, pre: 'none' };
  reduceInto(spec2, layout([lay.O, c.S], [1]), whole(pV), pI && whole(pI), 0, m, final, outV, outI);
  pV.dispose();
  pI?.dispose();
}

const mergeSource = (spec: Spec, last: boolean, useM: boolean) => {
  const A = spec.accT;
  const arg = isArg(spec.comb);
  const decl = [
    `var<storage, read_write> accV: array<${A}>;`,
    ...(arg ? ['var<storage, read_write> accI: array<u32>;'] : []),
    `var<storage, read> newV: array<${A}>;`,
    ...(arg ? ['var<storage, read> newI: array<u32>;'] : []),
    ...(useM ? ['var<storage, read> m: array<f32>;'] : []),
    ...(last ? [`var<storage, read_write> out: array<${arg ? 'i32' : spec.outT}>;`] : []),
    'var<uniform> p: P;',
  ];
  const post = postExpr(spec, 'a', 'm[i]');
  return `struct P { n: u32, off: u32, scale: f32 }
${decl.map((d, i) => `@group(0) @binding(${i}) ${d}`).join('\n')}
${NAN_FNS}
${combFns(spec.comb, A)}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${linearIndex()};
  if (i >= p.n) { return; }
  var a = accV[i];
  ${
    arg
      ? `var ai = accI[i];
  let bi = newI[i] + p.off;
  if (better(newV[i], bi, a, ai)) { a = newV[i]; ai = bi; }
  ${last ? 'out[i] = i32(ai);' : 'accV[i] = a;\n  accI[i] = ai;'}`
      : `a = comb(a, newV[i]);
  ${last ? `out[i] = ${post};` : 'accV[i] = a;'}`
  }
}`;
};

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
    runKernel({
      key: `reduce_merge_${spec.comb}_${spec.accT}${spec.outT}_${spec.post}_${last}`,
      source: () => mergeSource(spec, last, useM),
      buffers: [
        whole(accV),
        ...(accI ? [whole(accI)] : []),
        whole(pV),
        ...(pI ? [whole(pI)] : []),
        ...(useM ? [whole(m!)] : []),
        ...(last ? [whole(out)] : []),
      ],
      params: new ParamWriter().u32(M).u32(n0).f32(spec.scale).done(),
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
function needsChunks(x: Tensor, axes: readonly number[], op: string): boolean {
  if (x.byteSize <= maxBindingBytes()) return false;
  const lay = layout(x.shape, axes);
  const [k, r] = [lay.kept[0], lay.red[0]];
  const leading =
    lay.red.length === 1 && lay.kept.length === 1 && (k.dim === 1 || r.stride === k.dim * k.stride);
  if (!leading || lay.O > Math.floor(maxBindingBytes() / 4) - 64) assertBindable(x, op, 'x');
  return true;
}

/** Runs `spec` over `axes` of `x` into `out` (checks done), whole or in chunks. */
function runReduce(
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

type ReduceName = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'any' | 'all' | 'logSumExp';
type Axis = number | readonly number[] | null;

const IDENTITY: Record<ReduceName, number | undefined> = {
  sum: 0,
  prod: 1,
  any: 0,
  all: 1,
  mean: Number.NaN,
  logSumExp: Number.NEGATIVE_INFINITY,
  max: undefined,
  min: undefined,
};

function checkKeepDims(keepDims: unknown, op: string): void {
  if (typeof keepDims !== 'boolean') {
    throw new ArgumentError(`${op}: keepDims must be a boolean, got ${String(keepDims)}`);
  }
}

function emptyAxisError(op: string, x: Tensor, axes: readonly number[]): ArgumentError {
  const a = axes.find((i) => x.shape[i] === 0);
  return new ArgumentError(
    `${op}: cannot reduce over axis ${a} of size 0 (x has shape ${fmtShape(x.shape)}): ${op} of an empty set is undefined`,
  );
}

function reduceOp(op: ReduceName, x: Tensor, axis: Axis | undefined, keepDims: boolean): Tensor {
  assertTensor(x, op, 'x');
  const allowed: DType[] =
    op === 'any' || op === 'all'
      ? ['bool']
      : op === 'logSumExp'
        ? ['float32', 'int32']
        : ['float32', 'int32', 'bool'];
  assertDTypeIn(x, allowed, op, 'x');
  checkKeepDims(keepDims, op);
  const axes = normalizeAxes(axis, x.rank, op);
  const outShape = keepDims
    ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : x.shape.filter((_, i) => !axes.includes(i));
  const outDType: DType =
    op === 'mean' || op === 'logSumExp'
      ? 'float32'
      : (op === 'sum' || op === 'prod') && x.dtype === 'bool'
        ? 'int32'
        : x.dtype;
  const attrs = { axes, keepDims };
  const R = sizeOf(axes.map((a) => x.shape[a]));
  if (sizeOf(outShape) === 0) return recordOp(op, [x], emptyTensor(outShape, outDType), attrs);
  if (R === 0) {
    const id = IDENTITY[op];
    if (id === undefined) throw emptyAxisError(op, x, axes);
    return recordOp(op, [x], fillKernel(outShape, id, outDType), attrs);
  }
  needsChunks(x, axes, op);
  const inT = wgslType(x.dtype);
  const outT = wgslType(outDType);
  const float = op === 'mean' || op === 'logSumExp' ? 'f32' : inT;
  const base = { pre: 'none', post: 'none', inT, accT: float, outT, scale: 1 } as const;
  const out = emptyTensor(outShape, outDType);
  if (op === 'logSumExp') {
    const m = emptyTensor([sizeOf(outShape)], 'float32');
    runReduce({ ...base, comb: 'max', accT: inT, outT: 'f32' }, op, x, axes, undefined, m);
    runReduce({ ...base, comb: 'sum', pre: 'expm', post: 'lse' }, op, x, axes, m, out);
    m.dispose();
  } else {
    const comb: Comb = op === 'mean' ? 'sum' : op === 'any' ? 'max' : op === 'all' ? 'min' : op;
    const spec: Spec = { ...base, comb, scale: op === 'mean' ? 1 / R : 1 };
    runReduce(spec, op, x, axes, undefined, out);
  }
  return recordOp(op, [x], out, attrs);
}

/**
 * Sum over `axis` (a number, a list, or all axes when omitted); negative axes count from the end.
 * float32 -> float32, int32 and bool -> int32 (int32 sums wrap, as in TensorFlow.js).
 */
export function sum(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('sum', x, axis, keepDims);
}

/** Mean over `axis`; always float32 (int32 and bool inputs are accumulated in float32, as TF.js). */
export function mean(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('mean', x, axis, keepDims);
}

/** Maximum over `axis`, same dtype as `x`; NaN propagates. Throws on an axis of size 0. */
export function max(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('max', x, axis, keepDims);
}

/** Minimum over `axis`, same dtype as `x`; NaN propagates. Throws on an axis of size 0. */
export function min(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('min', x, axis, keepDims);
}

/** Product over `axis`; bool -> int32. */
export function prod(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('prod', x, axis, keepDims);
}

/** Logical or over `axis` of a bool tensor (false over an empty axis). */
export function any(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('any', x, axis, keepDims);
}

/** Logical and over `axis` of a bool tensor (true over an empty axis). */
export function all(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('all', x, axis, keepDims);
}

/** log(sum(exp(x))) over `axis`, computed as max + log(sum(exp(x - max))); float32 result. */
export function logSumExp(x: Tensor, axis?: Axis, keepDims = false): Tensor {
  return reduceOp('logSumExp', x, axis, keepDims);
}

function argOp(op: 'argMax' | 'argMin', x: Tensor, axis: number): Tensor {
  assertTensor(x, op, 'x');
  const a = normalizeAxis(axis, x.rank, op);
  const outShape = x.shape.filter((_, i) => i !== a);
  if (sizeOf(outShape) === 0) return recordOp(op, [x], emptyTensor(outShape, 'int32'), { axis: a });
  if (x.shape[a] === 0) throw emptyAxisError(op, x, [a]);
  needsChunks(x, [a], op);
  const t = wgslType(x.dtype);
  const spec: Spec = {
    comb: op === 'argMax' ? 'argmax' : 'argmin',
    pre: 'none',
    post: 'none',
    inT: t,
    accT: t,
    outT: 'i32',
    scale: 1,
  };
  const out = emptyTensor(outShape, 'int32');
  runReduce(spec, op, x, [a], undefined, out);
  return recordOp(op, [x], out, { axis: a });
}

/**
 * Index of the maximum along `axis` (default 0, as TF.js), int32. Ties give the first index; a
 * NaN counts as the maximum (the first NaN's index is returned, as NumPy).
 */
export function argMax(x: Tensor, axis = 0): Tensor {
  return argOp('argMax', x, axis);
}

/** Index of the minimum along `axis` (default 0), int32; first index on ties, NaN wins (NumPy). */
export function argMin(x: Tensor, axis = 0): Tensor {
  return argOp('argMin', x, axis);
}
