import { ATTENTION_UNIFORMS, qkvBindings } from './attention-args.js';
import { defineKernel } from './program.js';

/**
 * The attention kernels for adapters with a fixed subgroup size S (lavapipe: 8 lanes of one AVX
 * vector). A workgroup is one subgroup and owns R = 4 rows (queries forward and for dq, keys for
 * dk/dv); each lane owns D / S consecutive elements of every head vector as vec4s, so each lane
 * loads only values no other lane needs (the rule of CONTRIBUTING.md), every accumulator lives in
 * registers (the code is unrolled: no private arrays), and the four rows' dot products are summed
 * across the lanes by one `subgroupAdd` of a vec4. Online softmax per key (the rescale is two
 * vec4 multiplies per lane). Same results and layout as the portable kernels of attention.ts.
 */

export type SgC = {
  /** vec4s per lane of the q/k head vector and of the v head vector. */
  nd: number;
  nv: number;
  lanes: number;
  causal: boolean;
  mask: 'none' | 'batch' | 'shared';
};

/** Rows per workgroup. */
export const R = 4;
const rows = [0, 1, 2, 3];
const XYZW = ['x', 'y', 'z', 'w'];

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** One WGSL line per (row, vec4) pair. */
const each = (n: number, f: (r: number, k: number) => string) =>
  rows.flatMap((r) => range(n).map((k) => f(r, k))).join('\n  ');
/** The vec4 of R dot products sum_k dot(a_r_k, b_k) (or a_k, b_r_k), summed across the lanes. */
const dots = (n: number, a: (r: number, k: number) => string, b: (r: number, k: number) => string) =>
  `subgroupAdd(vec4f(${rows
    .map((r) =>
      range(n)
        .map((k) => `dot(${a(r, k)}, ${b(r, k)})`)
        .join(' + '),
    )
    .join(', ')}))`;

function maskTest(c: SgC, qi: string, kj: string): string {
  if (c.mask === 'none') return 'false';
  const bOff = c.mask === 'batch' ? 'b * p.tq * p.tk + ' : '';
  return `mask[${bOff}${qi} * p.tk + ${kj}] == 0`;
}

/** What the three subgroup kernels share: uniforms, one subgroup a workgroup, its lane count. */
const common = {
  uniforms: ATTENTION_UNIFORMS,
  builtins: ['wid', 'sgi'],
  enables: ['subgroups'],
  workgroupSize: (c: SgC) => c.lanes,
  helpers: (c: SgC) => `const LANES: u32 = ${c.lanes}u;`,
} as const;

/** Head-vector base (in vec4s) of row `t` of a [b, T, h, n*4*lanes] tensor, for this lane. */
const base = (rowsU: string, t: string, n: number) =>
  `((b * ${rowsU} + ${t}) * p.h + hh) * ${n}u * LANES + sgi * ${n}u`;

export const sgForward = defineKernel<SgC, string, 'tq' | 'tk' | 'h' | 'scale'>({
  name: 'attention_fwd_sg',
  ...common,
  bindings: (c) => ({
    ...qkvBindings('vec4f', c.mask),
    o: 'rw vec4f',
    lse: 'rw f32',
  }),
  body: (c) => `
  let b = wid.y / p.h;
  let hh = wid.y % p.h;
  let i0 = wid.x * ${R}u;
  ${rows.map((r) => `let ir${r} = min(i0 + ${r}u, p.tq - 1u);`).join('\n  ')}
  ${each(c.nd, (r, k) => `let q${r}_${k} = q[${base('p.tq', `ir${r}`, c.nd)} + ${k}u] * p.scale;`)}
  ${each(c.nv, (r, k) => `var a${r}_${k} = vec4f(0.0);`)}
  var m = vec4f(-3.0e38);
  var l = vec4f(0.0);
  let jEnd = ${c.causal ? `min(p.tk, i0 + ${R}u)` : 'p.tk'};
  for (var j = 0u; j < jEnd; j++) {
    let kb = ${base('p.tk', 'j', c.nd)};
    let vb = ${base('p.tk', 'j', c.nv)};
    ${range(c.nd)
      .map((k) => `let k${k} = k[kb + ${k}u];`)
      .join('\n    ')}
    ${range(c.nv)
      .map((k) => `let v${k} = v[vb + ${k}u];`)
      .join('\n    ')}
    var s = ${dots(
      c.nd,
      (r, k) => `q${r}_${k}`,
      (_r, k) => `k${k}`,
    )};
    ${rows.map((r) => `if (${maskTest(c, `ir${r}`, 'j')}) { s.${XYZW[r]} = -1.0e9; }`).join('\n    ')}
    ${c.causal ? rows.map((r) => `if (j > i0 + ${r}u) { s.${XYZW[r]} = -3.0e38; }`).join('\n    ') : ''}
    let mn = max(m, s);
    let corr = exp(m - mn);
    let pj = select(exp(s - mn), vec4f(0.0), s < vec4f(-1.0e38));
    l = l * corr + pj;
    m = mn;
    ${each(c.nv, (r, k) => `a${r}_${k} = a${r}_${k} * corr.${XYZW[r]} + pj.${XYZW[r]} * v${k};`)}
  }
  let il = 1.0 / l;
  ${rows
    .map(
      (r) => `if (i0 + ${r}u < p.tq) {
    let ob = ${base('p.tq', `ir${r}`, c.nv)};
    ${range(c.nv)
      .map((k) => `o[ob + ${k}u] = a${r}_${k} * il.${XYZW[r]};`)
      .join('\n    ')}
    if (sgi == 0u) {
      lse[2u * (wid.y * p.tq + ir${r})] = m.${XYZW[r]};
      lse[2u * (wid.y * p.tq + ir${r}) + 1u] = il.${XYZW[r]};
    }
  }`,
    )
    .join('\n  ')}`,
});

export const sgBackwardQ = defineKernel<SgC, string, 'tq' | 'tk' | 'h' | 'scale'>({
  name: 'attention_bwd_q_sg',
  ...common,
  bindings: (c) => ({
    ...qkvBindings('vec4f', c.mask),
    o: 'read vec4f',
    dout: 'read vec4f',
    lse: 'read f32',
    dq: 'rw vec4f',
    drow: 'rw f32',
  }),
  body: (c) => `
  let b = wid.y / p.h;
  let hh = wid.y % p.h;
  let i0 = wid.x * ${R}u;
  ${rows.map((r) => `let ir${r} = min(i0 + ${r}u, p.tq - 1u);`).join('\n  ')}
  ${each(c.nd, (r, k) => `let q${r}_${k} = q[${base('p.tq', `ir${r}`, c.nd)} + ${k}u] * p.scale;`)}
  ${each(c.nv, (r, k) => `let g${r}_${k} = dout[${base('p.tq', `ir${r}`, c.nv)} + ${k}u];`)}
  let di = ${dots(
    c.nv,
    (r, k) => `g${r}_${k}`,
    (r, k) => `o[${base('p.tq', `ir${r}`, c.nv)} + ${k}u]`,
  )};
  let m = vec4f(${rows.map((r) => `lse[2u * (wid.y * p.tq + ir${r})]`).join(', ')});
  let il = vec4f(${rows.map((r) => `lse[2u * (wid.y * p.tq + ir${r}) + 1u]`).join(', ')});
  ${each(c.nd, (r, k) => `var d${r}_${k} = vec4f(0.0);`)}
  let jEnd = ${c.causal ? `min(p.tk, i0 + ${R}u)` : 'p.tk'};
  for (var j = 0u; j < jEnd; j++) {
    let kb = ${base('p.tk', 'j', c.nd)};
    let vb = ${base('p.tk', 'j', c.nv)};
    ${range(c.nd)
      .map((k) => `let k${k} = k[kb + ${k}u];`)
      .join('\n    ')}
    ${range(c.nv)
      .map((k) => `let v${k} = v[vb + ${k}u];`)
      .join('\n    ')}
    var s = ${dots(
      c.nd,
      (r, k) => `q${r}_${k}`,
      (_r, k) => `k${k}`,
    )};
    let dp = ${dots(
      c.nv,
      (r, k) => `g${r}_${k}`,
      (_r, k) => `v${k}`,
    )};
    var live = vec4<bool>(true);
    ${rows.map((r) => `if (${maskTest(c, `ir${r}`, 'j')}) { s.${XYZW[r]} = -1.0e9; live.${XYZW[r]} = false; }`).join('\n    ')}
    ${c.causal ? rows.map((r) => `if (j > i0 + ${r}u) { live.${XYZW[r]} = false; }`).join('\n    ') : ''}
    let ds = select(vec4f(0.0), exp(s - m) * il * (dp - di), live);
    ${each(c.nd, (r, k) => `d${r}_${k} = d${r}_${k} + ds.${XYZW[r]} * k${k};`)}
  }
  ${rows
    .map(
      (r) => `if (i0 + ${r}u < p.tq) {
    let qb = ${base('p.tq', `ir${r}`, c.nd)};
    ${range(c.nd)
      .map((k) => `dq[qb + ${k}u] = d${r}_${k} * p.scale;`)
      .join('\n    ')}
    if (sgi == 0u) { drow[wid.y * p.tq + ir${r}] = di.${XYZW[r]}; }
  }`,
    )
    .join('\n  ')}`,
});

export const sgBackwardKV = defineKernel<SgC, string, 'tq' | 'tk' | 'h' | 'scale'>({
  name: 'attention_bwd_kv_sg',
  ...common,
  bindings: (c) => ({
    ...qkvBindings('vec4f', c.mask),
    dout: 'read vec4f',
    lse: 'read f32',
    drow: 'read f32',
    dk: 'rw vec4f',
    dv: 'rw vec4f',
  }),
  body: (c) => `
  let b = wid.y / p.h;
  let hh = wid.y % p.h;
  let j0 = wid.x * ${R}u;
  ${rows.map((r) => `let jr${r} = min(j0 + ${r}u, p.tk - 1u);`).join('\n  ')}
  ${each(c.nd, (r, k) => `let k${r}_${k} = k[${base('p.tk', `jr${r}`, c.nd)} + ${k}u] * p.scale;`)}
  ${each(c.nv, (r, k) => `let v${r}_${k} = v[${base('p.tk', `jr${r}`, c.nv)} + ${k}u];`)}
  ${each(c.nd, (r, k) => `var dk${r}_${k} = vec4f(0.0);`)}
  ${each(c.nv, (r, k) => `var dv${r}_${k} = vec4f(0.0);`)}
  let iStart = ${c.causal ? 'j0' : '0u'};
  for (var i = iStart; i < p.tq; i++) {
    let qb = ${base('p.tq', 'i', c.nd)};
    let gb = ${base('p.tq', 'i', c.nv)};
    ${range(c.nd)
      .map((k) => `let q${k} = q[qb + ${k}u];`)
      .join('\n    ')}
    ${range(c.nv)
      .map((k) => `let g${k} = dout[gb + ${k}u];`)
      .join('\n    ')}
    let mi = lse[2u * (wid.y * p.tq + i)];
    let ili = lse[2u * (wid.y * p.tq + i) + 1u];
    let di = drow[wid.y * p.tq + i];
    var s = ${dots(
      c.nd,
      (_r, k) => `q${k}`,
      (r, k) => `k${r}_${k}`,
    )};
    let dp = ${dots(
      c.nv,
      (_r, k) => `g${k}`,
      (r, k) => `v${r}_${k}`,
    )};
    var live = vec4<bool>(true);
    ${rows.map((r) => `if (${maskTest(c, 'i', `jr${r}`)}) { s.${XYZW[r]} = -1.0e9; live.${XYZW[r]} = false; }`).join('\n    ')}
    var pj = exp(s - vec4f(mi)) * ili;
    ${c.causal ? rows.map((r) => `if (j0 + ${r}u > i) { pj.${XYZW[r]} = 0.0; }`).join('\n    ') : ''}
    let ds = select(vec4f(0.0), pj * (dp - vec4f(di)), live);
    ${each(c.nv, (r, k) => `dv${r}_${k} = dv${r}_${k} + pj.${XYZW[r]} * g${k};`)}
    ${each(c.nd, (r, k) => `dk${r}_${k} = dk${r}_${k} + ds.${XYZW[r]} * q${k};`)}
  }
  ${rows
    .map(
      (r) => `if (j0 + ${r}u < p.tk) {
    let kb = ${base('p.tk', `jr${r}`, c.nd)};
    let vb = ${base('p.tk', `jr${r}`, c.nv)};
    ${range(c.nd)
      .map((k) => `dk[kb + ${k}u] = dk${r}_${k} * p.scale;`)
      .join('\n    ')}
    ${range(c.nv)
      .map((k) => `dv[vb + ${k}u] = dv${r}_${k};`)
      .join('\n    ')}
  }`,
    )
    .join('\n  ')}`,
});
