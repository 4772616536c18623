import { type BindingSpec, defineKernel } from './program.js';

/**
 * The WGSL of the reductions, declared once each (planned and run by reduce-plan.ts, public ops in
 * reduce.ts). Only the numbers of kept and reduced axis groups are baked into the WGSL; dims and
 * strides are uniforms, so one pipeline serves every shape (lavapipe compiles are slow, and a
 * model reduces many shapes). Two kernel shapes:
 * - lane (`reduce_lane`): one invocation per output loops over the reduced elements;
 * - tree (`reduce_tree`): a workgroup per (output, slice) strides over a contiguous range of the
 *   reduced elements and combines in workgroup memory.
 * `reduce_merge` combines the partials of row chunks of a tensor over the binding limit.
 */

export type T = 'f32' | 'i32';
export type Comb = 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin';
/** What a pass does to loaded values: nothing, or exp(x - m[o]) for logSumExp. */
export type Pre = 'none' | 'expm';
/**
 * What the final write does: convert (float32 sums also multiply by `scale`: 1/R for mean, 1 for
 * sum, so both share a pipeline), or log(acc) + m[o] (logSumExp).
 */
export type Post = 'none' | 'lse';

export interface Spec {
  comb: Comb;
  pre: Pre;
  post: Post;
  inT: T;
  accT: T;
  outT: T;
  scale: number;
}

export const isArg = (c: Comb) => c === 'argmax' || c === 'argmin';

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

/** The fields of a spec that the final write depends on. */
type PostSpec = Pick<Spec, 'comb' | 'accT' | 'outT' | 'post'>;

const scaled = (spec: PostSpec) => spec.comb === 'sum' && spec.accT === 'f32' && spec.post === 'none';

/** WGSL of the final value from accumulator `a` (and row max `m` for logSumExp). */
function postExpr(spec: PostSpec, a: string, m: string): string {
  if (spec.post === 'lse') return `select(log(${a}) + ${m}, ${m}, isinf_(${m}))`;
  if (scaled(spec)) return `${a} * p.scale`;
  return spec.outT === spec.accT ? a : `${spec.outT}(${a})`;
}

/** What a pass bakes into its WGSL: the spec's combining code, group counts, shape and role. */
export type PassC = Omit<Spec, 'scale'> & {
  /** Numbers of kept and reduced groups (their dims and strides are uniforms). */
  kept: number;
  red: number;
  wg: number;
  /** Reads the u32 indices of a previous pass (`xi`) next to its values. */
  idxIn: boolean;
  final: boolean;
};

const passBindings = (c: PassC) => {
  const arg = isArg(c.comb);
  const b: Record<string, BindingSpec> = { x: `read ${c.idxIn ? c.accT : c.inT}` };
  if (c.idxIn) b.xi = 'read u32';
  if (c.pre === 'expm' || (c.final && c.post === 'lse')) b.m = 'read f32';
  if (arg && c.final) b.outI = 'rw i32';
  else {
    b.outV = `rw ${c.final ? c.outT : c.accT}`;
    if (arg) b.outI = 'rw u32';
  }
  return b;
};

/** Shapes are uniforms so that one pipeline serves every shape. */
const passUniforms = (c: PassC) => {
  const u: Record<string, 'u32' | 'f32'> = {
    base: 'u32',
    inf: 'u32',
    scale: 'f32',
    O: 'u32',
    R: 'u32',
    S: 'u32',
    chunk: 'u32',
  };
  for (const [g, n] of [
    ['k', c.kept],
    ['r', c.red],
  ] as const) {
    for (let j = 0; j < n; j++) {
      u[`${g}${j}d`] = 'u32';
      u[`${g}${j}s`] = 'u32';
    }
  }
  return u;
};

const passHelpers = (c: PassC) => `${NAN_FNS}
${combFns(c.comb, c.accT)}
${offsetFn('koff', 'k', c.kept)}
${offsetFn('roff', 'r', c.red)}`;

/** The parts of a pass body that lane and tree mode share. */
function passParts(c: PassC) {
  const arg = isArg(c.comb);
  const A = c.accT;
  const useM = c.pre === 'expm' || (c.final && c.post === 'lse');
  const inT = c.idxIn ? A : c.inT;
  const load = c.pre === 'expm' ? 'exp(f32(x[e]) - mo)' : inT === A ? 'x[e]' : `${A}(x[e])`;
  const update = arg
    ? `let vi = ${c.idxIn ? 'xi[e]' : 'r'};\n    if (better(v, vi, acc, ai)) { acc = v; ai = vi; }`
    : 'acc = comb(acc, v);';
  const post = c.final ? postExpr(c, 'acc', 'mo') : scaled(c) ? 'acc * p.scale' : 'acc';
  const write = (at: string) =>
    arg
      ? c.final
        ? `outI[${at}] = i32(ai);`
        : `outV[${at}] = acc;\n    outI[${at}] = ai;`
      : `outV[${at}] = ${post};`;
  const start = `let INF = bitcast<f32>(p.inf);
  let b = p.base + koff(o);
  ${useM ? 'let mo = m[o];' : ''}
  var acc: ${A} = ${initValue(c.comb, A)};
  var ai = 0xffffffffu;`;
  return { arg, load, update, write, start };
}

export const laneKernel = defineKernel<PassC, string, string>({
  name: 'reduce_lane',
  bindings: passBindings,
  uniforms: passUniforms,
  workgroupSize: (c) => c.wg,
  index: { total: 'O', name: 'o' },
  helpers: passHelpers,
  body: (c) => {
    const { load, update, write, start } = passParts(c);
    const red = Array.from({ length: c.red }, (_, j) => j);
    return `  ${start}
  var r = 0u;
  ${red.map((j) => `for (var i${j} = 0u; i${j} < p.r${j}d; i${j}++) {`).join('\n  ')}
    let e = b${red.map((j) => ` + i${j} * p.r${j}s`).join('')};
    let v = ${load};
    ${update}
    r++;
  ${red.map(() => '}').join('')}
  ${write('o')}`;
  },
});

export const treeKernel = defineKernel<PassC, string, string>({
  name: 'reduce_tree',
  bindings: passBindings,
  uniforms: passUniforms,
  workgroupSize: (c) => c.wg,
  builtins: ['wid', 'nwg', 'lid'],
  helpers: (c) => `${passHelpers(c)}
var<workgroup> sv: array<${c.accT}, ${c.wg}>;
${isArg(c.comb) ? `var<workgroup> si: array<u32, ${c.wg}>;` : ''}`,
  body: (c) => {
    const { arg, load, update, write, start } = passParts(c);
    const treeStep = arg
      ? 'if (better(sv[lid + k], si[lid + k], sv[lid], si[lid])) { sv[lid] = sv[lid + k]; si[lid] = si[lid + k]; }'
      : 'sv[lid] = comb(sv[lid], sv[lid + k]);';
    return `  let w = wid.x + wid.y * nwg.x;
  if (w >= p.O * p.S) { return; }
  let o = w / p.S;
  let r0 = (w - o * p.S) * p.chunk;
  ${start}
  let r1 = min(r0 + p.chunk, p.R);
  for (var r = r0 + lid; r < r1; r += ${c.wg}u) {
    let e = b + roff(r);
    let v = ${load};
    ${update}
  }
  sv[lid] = acc;
  ${arg ? 'si[lid] = ai;' : ''}
  workgroupBarrier();
  for (var k = ${c.wg / 2}u; k > 0u; k = k >> 1u) {
    if (lid < k) { ${treeStep} }
    workgroupBarrier();
  }
  if (lid == 0u) {
    acc = sv[0];
    ${arg ? 'ai = si[0];' : ''}
    ${write('w')}
  }`;
  },
});

/** What the merge of chunk partials bakes in. */
type MergeC = { comb: Comb; post: Post; accT: T; outT: T; last: boolean; useM: boolean };

export const mergeKernel = defineKernel<MergeC, string, 'n' | 'off' | 'scale'>({
  name: 'reduce_merge',
  bindings: (c) => {
    const arg = isArg(c.comb);
    const b: Record<string, BindingSpec> = { accV: `rw ${c.accT}` };
    if (arg) b.accI = 'rw u32';
    b.newV = `read ${c.accT}`;
    if (arg) b.newI = 'read u32';
    if (c.useM) b.m = 'read f32';
    if (c.last) b.out = `rw ${arg ? 'i32' : c.outT}`;
    return b;
  },
  uniforms: { n: 'u32', off: 'u32', scale: 'f32' },
  index: { total: 'n' },
  helpers: (c) => `${NAN_FNS}
${combFns(c.comb, c.accT)}`,
  body: (c) => {
    const post = postExpr(c, 'a', 'm[i]');
    return `  var a = accV[i];
  ${
    isArg(c.comb)
      ? `var ai = accI[i];
  let bi = newI[i] + p.off;
  if (better(newV[i], bi, a, ai)) { a = newV[i]; ai = bi; }
  ${c.last ? 'out[i] = i32(ai);' : 'accV[i] = a;\n  accI[i] = ai;'}`
      : `a = comb(a, newV[i]);
  ${c.last ? `out[i] = ${post};` : 'accV[i] = a;'}`
  }`;
  },
});
