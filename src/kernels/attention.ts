import { deviceFacts } from '../tensor/device-info.js';
import { DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import { isRecording, recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import {
  ATTENTION_UNIFORMS,
  attentionArgs,
  type DotProductAttentionOptions,
  type Geometry,
  qkvBindings,
} from './attention-args.js';
import { R, type SgC, sgBackwardKV, sgBackwardQ, sgForward } from './attention-subgroup.js';
import { defineKernel } from './program.js';
import { assertTensor } from './util.js';

/**
 * Fused scaled dot-product attention (FlashAttention-style, for lavapipe's wide-lane CPUs):
 * softmax(q kᵀ · scale + mask) v per batch and head, in the [batch, T, heads, dim] layout that
 * a Dense projection reshaped to [batch, T, heads, dim] gives (no transposes).
 *
 * Forward: one lane per query row; a workgroup holds up to 64 consecutive queries of one
 * (batch, head) and walks the keys in tiles staged in workgroup memory. Each tile's scores live
 * in a private array; the running max, the running sum and the output accumulator are rescaled
 * once per tile (online softmax). No [T, T] matrix exists anywhere. It also writes the row's
 * max and 1/sum (lse, [batch, heads, Tq, 2]) for the backward.
 *
 * Backward (recomputing the probabilities from q, k and lse, never storing them): one kernel with
 * a lane per query row computes D = rowsum(dO ∘ O) and dq; one with a lane per key row walks the
 * query tiles and accumulates dk and dv. No atomics, deterministic sums.
 *
 * Masked scores (mask 0) are -1e9 as in Keras (so a fully masked row averages v, as Keras does)
 * and pass no gradient to q or k. The causal mask keeps keys j <= i (Keras `useCausalMask`);
 * key tiles wholly above the diagonal are skipped.
 */

type C = {
  d: number;
  dv: number;
  wg: number;
  tk: number;
  causal: boolean;
  mask: 'none' | 'batch' | 'shared';
};

const NEG = '-1.0e9';

/** Sets the score s to -1e9 where mask[b, qi, kj] is 0 (and `live` to false when asked). */
function maskLoad(c: C, qi: string, kj: string, live = false): string {
  if (c.mask === 'none') return '';
  const bOff = c.mask === 'batch' ? 'b * p.tq * p.tk + ' : '';
  return `if (mask[${bOff}${qi} * p.tk + ${kj}] == 0) { s = ${NEG};${live ? ' live = false;' : ''} }`;
}

/** What the three portable kernels share: uniforms, one lane per row, workgroup and lane ids. */
const tiled = {
  uniforms: ATTENTION_UNIFORMS,
  workgroupSize: (c: C) => c.wg,
  builtins: ['wid', 'lid'],
} as const;

/** Stages rows j0..j0+tk-1 of `src` ([b, T, h, width]) into `dst` (zeros past T). */
function stage(dst: string, src: string, width: string, rows: string, c: C): string {
  return `
  for (var e = lid; e < ${c.tk}u * ${width}; e += ${c.wg}u) {
    let jj = e / ${width};
    let j = j0 + jj;
    var val = 0.0;
    if (j < ${rows}) { val = ${src}[((b * ${rows} + j) * p.h + h) * ${width} + e % ${width}]; }
    ${dst}[e] = val;
  }`;
}

const forward = defineKernel<C, string, 'tq' | 'tk' | 'h' | 'scale'>({
  name: 'attention_fwd',
  bindings: (c) => ({
    ...qkvBindings('f32', c.mask),
    o: 'rw f32',
    lse: 'rw f32',
  }),
  ...tiled,
  helpers: (c) => `
var<workgroup> ks: array<f32, ${c.tk * c.d}>;
var<workgroup> vs: array<f32, ${c.tk * c.dv}>;`,
  body: (c) => `
  let b = wid.y / p.h;
  let h = wid.y % p.h;
  let i = wid.x * ${c.wg}u + lid;
  let valid = i < p.tq;
  let ii = min(i, p.tq - 1u);
  let qBase = ((b * p.tq + ii) * p.h + h) * ${c.d}u;
  var qr: array<f32, ${c.d}>;
  for (var d = 0u; d < ${c.d}u; d++) { qr[d] = q[qBase + d] * p.scale; }
  var acc: array<f32, ${c.dv}>;
  for (var d = 0u; d < ${c.dv}u; d++) { acc[d] = 0.0; }
  var m = -3.0e38;
  var l = 0.0;
  var sc: array<f32, ${c.tk}>;
  let jEnd = ${c.causal ? `min(p.tk, (wid.x + 1u) * ${c.wg}u)` : 'p.tk'};
  for (var j0 = 0u; j0 < jEnd; j0 += ${c.tk}u) {
    workgroupBarrier();
    ${stage('ks', 'k', `${c.d}u`, 'p.tk', c)}
    ${stage('vs', 'v', `${c.dv}u`, 'p.tk', c)}
    workgroupBarrier();
    let n = min(${c.tk}u, p.tk - j0);
    var tmax = -3.0e38;
    for (var jj = 0u; jj < n; jj++) {
      let j = j0 + jj;
      var s = 0.0;
      for (var d = 0u; d < ${c.d}u; d++) { s = fma(qr[d], ks[jj * ${c.d}u + d], s); }
      ${maskLoad(c, 'ii', 'j')}
      ${c.causal ? 'if (j > i) { s = -3.0e38; }' : ''}
      sc[jj] = s;
      tmax = max(tmax, s);
    }
    let mNew = max(m, tmax);
    let corr = exp(m - mNew);
    l = l * corr;
    for (var d = 0u; d < ${c.dv}u; d++) { acc[d] = acc[d] * corr; }
    for (var jj = 0u; jj < n; jj++) {
      let pj = select(exp(sc[jj] - mNew), 0.0, sc[jj] < -1.0e38);
      l += pj;
      for (var d = 0u; d < ${c.dv}u; d++) { acc[d] = fma(pj, vs[jj * ${c.dv}u + d], acc[d]); }
    }
    m = mNew;
  }
  if (valid) {
    let inv = 1.0 / l;
    let oBase = ((b * p.tq + i) * p.h + h) * ${c.dv}u;
    for (var d = 0u; d < ${c.dv}u; d++) { o[oBase + d] = acc[d] * inv; }
    // The row max and 1/sum, not their log-sum-exp: with -1e9 mask scores, m + log(l) would
    // round the log away in f32.
    lse[2u * (wid.y * p.tq + i)] = m;
    lse[2u * (wid.y * p.tq + i) + 1u] = inv;
  }`,
});

/** dq and D = rowsum(dO ∘ O): one lane per query row, walking key tiles. */
const backwardQ = defineKernel<C, string, 'tq' | 'tk' | 'h' | 'scale'>({
  name: 'attention_bwd_q',
  bindings: (c) => ({
    ...qkvBindings('f32', c.mask),
    o: 'read f32',
    dout: 'read f32',
    lse: 'read f32',
    dq: 'rw f32',
    drow: 'rw f32',
  }),
  ...tiled,
  helpers: (c) => `
var<workgroup> ks: array<f32, ${c.tk * c.d}>;
var<workgroup> vs: array<f32, ${c.tk * c.dv}>;`,
  body: (c) => `
  let b = wid.y / p.h;
  let h = wid.y % p.h;
  let i = wid.x * ${c.wg}u + lid;
  let valid = i < p.tq;
  let ii = min(i, p.tq - 1u);
  let qBase = ((b * p.tq + ii) * p.h + h) * ${c.d}u;
  let oBase = ((b * p.tq + ii) * p.h + h) * ${c.dv}u;
  var qr: array<f32, ${c.d}>;
  for (var d = 0u; d < ${c.d}u; d++) { qr[d] = q[qBase + d] * p.scale; }
  var dor: array<f32, ${c.dv}>;
  var di = 0.0;
  for (var d = 0u; d < ${c.dv}u; d++) { let g = dout[oBase + d]; dor[d] = g; di = fma(g, o[oBase + d], di); }
  var dqr: array<f32, ${c.d}>;
  for (var d = 0u; d < ${c.d}u; d++) { dqr[d] = 0.0; }
  let mi = lse[2u * (wid.y * p.tq + ii)];
  let il = lse[2u * (wid.y * p.tq + ii) + 1u];
  let jEnd = ${c.causal ? `min(p.tk, (wid.x + 1u) * ${c.wg}u)` : 'p.tk'};
  for (var j0 = 0u; j0 < jEnd; j0 += ${c.tk}u) {
    workgroupBarrier();
    ${stage('ks', 'k', `${c.d}u`, 'p.tk', c)}
    ${stage('vs', 'v', `${c.dv}u`, 'p.tk', c)}
    workgroupBarrier();
    let n = min(${c.tk}u, p.tk - j0);
    for (var jj = 0u; jj < n; jj++) {
      let j = j0 + jj;
      ${c.causal ? 'if (j > i) { break; }' : ''}
      var s = 0.0;
      for (var d = 0u; d < ${c.d}u; d++) { s = fma(qr[d], ks[jj * ${c.d}u + d], s); }
      var live = true;
      ${maskLoad(c, 'ii', 'j', true)}
      let pj = exp(s - mi) * il;
      var dp = 0.0;
      for (var d = 0u; d < ${c.dv}u; d++) { dp = fma(dor[d], vs[jj * ${c.dv}u + d], dp); }
      let ds = select(0.0, pj * (dp - di), live);
      for (var d = 0u; d < ${c.d}u; d++) { dqr[d] = fma(ds, ks[jj * ${c.d}u + d], dqr[d]); }
    }
  }
  if (valid) {
    for (var d = 0u; d < ${c.d}u; d++) { dq[qBase + d] = dqr[d] * p.scale; }
    drow[wid.y * p.tq + i] = di;
  }`,
});

/** dk and dv: one lane per key row, walking query tiles. */
const backwardKV = defineKernel<C, string, 'tq' | 'tk' | 'h' | 'scale'>({
  name: 'attention_bwd_kv',
  bindings: (c) => ({
    ...qkvBindings('f32', c.mask),
    dout: 'read f32',
    lse: 'read f32',
    drow: 'read f32',
    dk: 'rw f32',
    dv: 'rw f32',
  }),
  ...tiled,
  helpers: (c) => `
var<workgroup> qs: array<f32, ${c.tk * c.d}>;
var<workgroup> dos: array<f32, ${c.tk * c.dv}>;
var<workgroup> ls: array<f32, ${2 * c.tk}>;
var<workgroup> ds_: array<f32, ${c.tk}>;`,
  body: (c) => `
  let b = wid.y / p.h;
  let h = wid.y % p.h;
  let j = wid.x * ${c.wg}u + lid;
  let valid = j < p.tk;
  let jj0 = min(j, p.tk - 1u);
  let kBase = ((b * p.tk + jj0) * p.h + h) * ${c.d}u;
  let vBase = ((b * p.tk + jj0) * p.h + h) * ${c.dv}u;
  var kr: array<f32, ${c.d}>;
  for (var d = 0u; d < ${c.d}u; d++) { kr[d] = k[kBase + d] * p.scale; }
  var vr: array<f32, ${c.dv}>;
  for (var d = 0u; d < ${c.dv}u; d++) { vr[d] = v[vBase + d]; }
  var dkr: array<f32, ${c.d}>;
  for (var d = 0u; d < ${c.d}u; d++) { dkr[d] = 0.0; }
  var dvr: array<f32, ${c.dv}>;
  for (var d = 0u; d < ${c.dv}u; d++) { dvr[d] = 0.0; }
  let iStart = ${c.causal ? `(wid.x * ${c.wg}u / ${c.tk}u) * ${c.tk}u` : '0u'};
  for (var j0 = iStart; j0 < p.tq; j0 += ${c.tk}u) {
    workgroupBarrier();
    ${stage('qs', 'q', `${c.d}u`, 'p.tq', c)}
    ${stage('dos', 'dout', `${c.dv}u`, 'p.tq', c)}
    for (var e = lid; e < ${c.tk}u; e += ${c.wg}u) {
      let i = min(j0 + e, p.tq - 1u);
      ls[2u * e] = lse[2u * (wid.y * p.tq + i)];
      ls[2u * e + 1u] = lse[2u * (wid.y * p.tq + i) + 1u];
      ds_[e] = drow[wid.y * p.tq + i];
    }
    workgroupBarrier();
    let n = min(${c.tk}u, p.tq - j0);
    for (var t = 0u; t < n; t++) {
      let i = j0 + t;
      ${c.causal ? 'if (j > i) { continue; }' : ''}
      var s = 0.0;
      for (var d = 0u; d < ${c.d}u; d++) { s = fma(qs[t * ${c.d}u + d], kr[d], s); }
      var live = true;
      ${maskLoad(c, 'i', 'jj0', true)}
      let pj = exp(s - ls[2u * t]) * ls[2u * t + 1u];
      var dp = 0.0;
      for (var d = 0u; d < ${c.dv}u; d++) {
        let g = dos[t * ${c.dv}u + d];
        dvr[d] = fma(pj, g, dvr[d]);
        dp = fma(g, vr[d], dp);
      }
      let dsc = select(0.0, pj * (dp - ds_[t]), live);
      for (var d = 0u; d < ${c.d}u; d++) { dkr[d] = fma(dsc, qs[t * ${c.d}u + d], dkr[d]); }
    }
  }
  if (valid) {
    for (var d = 0u; d < ${c.d}u; d++) { dk[kBase + d] = dkr[d] * p.scale; }
    for (var d = 0u; d < ${c.dv}u; d++) { dv[vBase + d] = dvr[d]; }
  }`,
});

let portable = false;
/** @internal Forces the portable kernels (tests run both paths). */
export function setAttentionPortable(on: boolean): void {
  portable = on;
}

/** The subgroup kernels' constants, when the adapter and the head dims allow them. */
function subgroupConstants(g: Geometry): SgC | undefined {
  if (portable) return undefined;
  const lanes = deviceFacts().fixedSubgroupLanes;
  if (lanes === 0 || g.d % (4 * lanes) !== 0 || g.dv % (4 * lanes) !== 0) return undefined;
  return { nd: g.d / (4 * lanes), nv: g.dv / (4 * lanes), lanes, causal: g.causal, mask: g.mask };
}

function constants(g: Geometry, rows: number): C {
  let wg = 8;
  while (wg < Math.min(64, rows)) wg *= 2;
  // Two tiles of tk rows in workgroup memory (16 KiB on every adapter), tk a multiple of 4.
  const tk = Math.max(4, Math.min(32, Math.floor(3584 / (g.d + g.dv) / 4) * 4));
  return { d: g.d, dv: g.dv, wg, tk, causal: g.causal, mask: g.mask };
}

/**
 * Scaled dot-product attention, fused (Keras `ops.dot_product_attention` / JAX layout):
 * `softmax(q kᵀ * scale + mask) v` for q [batch, Tq, heads, dim], k [batch, Tk, heads, dim],
 * v [batch, Tk, heads, dimV] → [batch, Tq, heads, dimV]. `scale` defaults to 1/sqrt(dim); `mask`
 * (bool or numbers, nonzero = attend) is [batch, Tq, Tk] or [1, Tq, Tk]; `causal` keeps keys j <= i.
 * The [Tq, Tk] probabilities are never stored, forward or backward.
 */
export function dotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: DotProductAttentionOptions = {},
): Tensor {
  const op = 'dotProductAttention';
  const { g, mask, scale } = attentionArgs(op, q, k, v, opts);
  const out = emptyTensor([g.b, g.tq, g.h, g.dv], 'float32');
  const lse = emptyTensor([g.b, g.h, Math.max(1, g.tq), 2], 'float32');
  const sg = subgroupConstants(g);
  if (out.size > 0 && sg) {
    sgForward.run({
      constants: sg,
      buffers: { q, k, v, o: out, lse, ...(mask ? { mask } : {}) },
      uniforms: { tq: g.tq, tk: g.tk, h: g.h, scale },
      workgroups: [Math.ceil(g.tq / R), g.b * g.h],
    });
  } else if (out.size > 0) {
    const c = constants(g, g.tq);
    forward.run({
      constants: c,
      buffers: { q, k, v, o: out, lse, ...(mask ? { mask } : {}) },
      uniforms: { tq: g.tq, tk: g.tk, h: g.h, scale },
      workgroups: [Math.ceil(g.tq / c.wg), g.b * g.h],
    });
  }
  const maskIn = opts.mask !== undefined && mask !== opts.mask ? mask : undefined;
  if (!isRecording()) {
    lse.dispose();
    maskIn?.dispose();
    return out;
  }
  return recordOp(op, [q, k, v], out, { scale, causal: g.causal, mask: mask ?? null, lse });
}

/**
 * The gradients of `dotProductAttention` given its output `o`, the upstream gradient `dout` and the
 * saved row statistics `lse` ([batch, heads, Tq, 2]: max and 1/sum): [dq, dk, dv]. Not differentiable again.
 */
export function dotProductAttentionGrad(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: Tensor,
  dout: Tensor,
  lse: Tensor,
  opts: { scale: number; causal: boolean; mask: Tensor | null },
): [Tensor, Tensor, Tensor] {
  const op = 'dotProductAttentionGrad';
  const { g, mask, scale } = attentionArgs(op, q, k, v, {
    scale: opts.scale,
    causal: opts.causal,
    mask: opts.mask ?? undefined,
  });
  for (const [t, name, shape] of [
    [o, 'o', [g.b, g.tq, g.h, g.dv]],
    [dout, 'dout', [g.b, g.tq, g.h, g.dv]],
    [lse, 'lse', [g.b, g.h, Math.max(1, g.tq), 2]],
  ] as const) {
    assertTensor(t, op, name);
    if (t.dtype !== 'float32') throw new DTypeError(`${op}: ${name} must be float32, got ${t.dtype}`);
    if (t.shape.join() !== shape.join()) {
      throw new ShapeError(`${op}: ${name} must be ${fmtShape(shape)}, got ${fmtShape(t.shape)}`);
    }
  }
  const dq = emptyTensor(q.shape, 'float32');
  const dk = emptyTensor(k.shape, 'float32');
  const dv = emptyTensor(v.shape, 'float32');
  const drow = emptyTensor([Math.max(1, g.b * g.h * g.tq)], 'float32');
  const m: Record<string, Tensor> = mask ? { mask } : {};
  const uniforms = { tq: g.tq, tk: g.tk, h: g.h, scale };
  const sg = dq.size > 0 && dk.size > 0 ? subgroupConstants(g) : undefined;
  if (sg) {
    sgBackwardQ.run({
      constants: sg,
      buffers: { q, k, v, o, dout, lse, dq, drow, ...m },
      uniforms,
      workgroups: [Math.ceil(g.tq / R), g.b * g.h],
    });
    sgBackwardKV.run({
      constants: sg,
      buffers: { q, k, v, dout, lse, drow, dk, dv, ...m },
      uniforms,
      workgroups: [Math.ceil(g.tk / R), g.b * g.h],
    });
  } else if (dq.size > 0) {
    const c = constants(g, g.tq);
    backwardQ.run({
      constants: c,
      buffers: { q, k, v, o, dout, lse, dq, drow, ...m },
      uniforms,
      workgroups: [Math.ceil(g.tq / c.wg), g.b * g.h],
    });
  }
  if (!sg && dk.size > 0) {
    const c = constants(g, g.tk);
    backwardKV.run({
      constants: c,
      buffers: { q, k, v, dout, lse, drow, dk, dv, ...m },
      uniforms,
      workgroups: [Math.ceil(g.tk / c.wg), g.b * g.h],
    });
  }
  drow.dispose();
  if (mask && mask !== opts.mask) mask.dispose();
  for (const t of [dq, dk, dv]) recordOp(op, [q, k, v, o, dout], t);
  return [dq, dk, dv];
}
