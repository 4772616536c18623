import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import type { BufferBinding } from '../tensor/queue.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { type Activation, assertActivation } from './activation.js';
import { bucket, gpuClass, type TuneTask, tunedChoice, tuneInput } from './autotune.js';
import { type F16Problem, matmulF16, type Precision, useF16 } from './matmul-f16.js';
import {
  type Epilogue,
  type MatmulUniforms,
  type MatmulVariant,
  matmulSkinny,
  matmulSkinnyReduce,
  matmulTile,
  SKINNY_WG,
  skinnyReduceConstants,
  type TileConfig,
  tileCols,
  tileConstants,
  usesBias,
} from './matmul-variants.js';
import { dispatchMatmulWs, matmulWsPlan } from './matmul-ws.js';
import { subgroupLanes, tuning, withTuning } from './tuning.js';
import { assertBindable, assertDTypeIn, assertTensor, maxBindingBytes, range, whole } from './util.js';

/**
 * Matrix products: `matmul(a, b)` = act(op(a) @ op(b) + bias) for rank-2 operands and batched
 * operands (rank >= 3, batch dims broadcast as in NumPy). Rank-2 operands of any size are split into
 * sub-problems whose operand slices each fit one storage binding (lavapipe: 128 MiB).
 */

export interface MatmulOptions {
  /** Use a^T: a is [..., K, M]. */
  transposeA?: boolean;
  /** Use b^T: b is [..., N, K]. */
  transposeB?: boolean;
  /** Added to every row of the product: shape [N]. */
  bias?: Tensor;
  /** Applied last (fused epilogue). */
  activation?: Activation;
  /**
   * 'f16': rank-2 operands go through half-precision copies where the adapter has shader-f16
   * (f32 elsewhere; see matmul-f16.ts for the error). Default 'f32'.
   */
  precision?: Precision;
}

// ---------------------------------------------------------------------------------------------
// Kernel configuration per adapter and shape class.

/**
 * Tile shape per shape class (measured on lavapipe with the square `matmul` cases of
 * bench/cases.ts, `--filter scaling-matmul`): 32 rows per subgroup amortise the per-lane loads of B best; 16 or 4 rows when M is small. One subgroup per
 * workgroup measured as fast as 2-16, and wastes nothing on narrow N. Every distinct
 * configuration is another pipeline to compile (0.2-0.5 s on lavapipe), so the table stays short.
 * `tuning().matmulTile` overrides fields of the choice (subgroup tiles only), `matmulPortable`
 * forces the portable kernel. `note`: with autotuning on, note the class for timing (only where
 * the tile kernel will run it).
 */
export function chooseTile(M: number, N: number, K: number, note = true): TileConfig {
  const t = chooseTileDefault(M, N, K);
  if (!t.sg) return t;
  const task = note ? () => matmulTask(M, N, K) : undefined;
  const override = tuning().matmulTile ?? tunedChoice('matmul', matmulClass(M, N, K), task);
  return override ? { ...t, ...override } : t;
}

/** The autotune shape class of a product (M, N, K bucketed; see autotune.ts). */
export function matmulClass(M: number, N: number, K: number): string {
  return `${bucket(M)}x${bucket(N)}x${bucket(K)}`;
}

/** Times a class with a product of its shape, the tile forced by the `matmulTile` switch. */
function matmulTask(M: number, N: number, K: number): Omit<TuneTask<'matmul'>, 'family' | 'cls'> {
  return {
    inputs: () => [tuneInput([M, K], 1), tuneInput([K, N], 2)],
    run: (cand, [a, b]) => withTuning({ matmulTile: cand }, () => matmul(a, b)),
  };
}

function chooseTileDefault(M: number, N: number, K: number): TileConfig {
  const sg = subgroupLanes('matmul');
  if (sg === 0) return { mr: 4, s: 1, sg: 0 };
  // GPUs (not measured here: no GPU was available): 64 invocations per workgroup at least, so a
  // workgroup of one 4- or 8-lane subgroup does not leave most of a compute unit idle. The cache
  // (autotune) replaces this guess with a measurement.
  const s = gpuClass() ? Math.max(1, Math.min(4, 64 / sg)) : 1;
  // Once B outgrows the caches (2048^2: +15%), walk row blocks first so consecutive workgroups
  // reuse one column panel of B. 32 rows per tile (with the row-major accumulation order of
  // tileKernel) measured 1024^3 at 39 GFLOP/s against 34 for 16 rows; small M keeps 16 or 4.
  // 16-lane subgroups on a software adapter (lavapipe with LP_NATIVE_VECTOR_WIDTH=512: 32 vector
  // registers) take 64 rows: 2048^3 in 399 ms against 475 for 32 rows (bench/README.md).
  const wide = sg >= 16 && !gpuClass() && M >= 64;
  const mr = M <= 4 ? 4 : M <= 16 ? 16 : wide ? 64 : 32;
  return { mr, s, sg, rowsX: K * N > 2 * 1024 * 1024 };
}

/** Split-K ("skinny") kernel for a handful of output columns: N <= 8 and a long reduction. */
function useSkinny(M: number, N: number, K: number): boolean {
  return N <= 8 && K >= 64 && M <= 4096;
}

// ---------------------------------------------------------------------------------------------
// Sub-problem dispatch.

interface Operand {
  t: Tensor;
  /** Element offset of the matrix (batch entry 0) in the tensor. */
  off: number;
  ld: number;
}

interface Problem extends F16Problem {
  a: Operand;
  b: Operand;
  c: Operand;
  biasOff: number;
  epi: Epilogue;
  /** Batch entries run in-kernel (workgroup_id.z), with the element strides of A and B between them. */
  z: number;
  as: number;
  bs: number;
}

interface Window {
  bind: BufferBinding;
  /** Element offset of the first element inside the window. */
  off: number;
}

/** A binding window of [first, end) elements starting at a 64-element boundary. */
function windowOf(t: Tensor, first: number, end: number): Window {
  const start = Math.floor(first / 64) * 64;
  return { bind: range(t, start, Math.max(end - start, 1)), off: first - start };
}

function params(p: Problem, aOff: number, bOff: number, cOff: number): MatmulUniforms {
  return {
    M: p.M,
    N: p.N,
    K: p.K,
    lda: p.a.ld,
    ldb: p.b.ld,
    ldc: p.c.ld,
    aOff,
    bOff,
    cOff,
    biasOff: p.biasOff,
    aStride: p.as,
    bStride: p.bs,
  };
}

/** Element ranges [first, end) of A, B and C that the batch entries of a problem touch. */
function spans(p: Problem): { a: [number, number]; b: [number, number]; c: [number, number] } {
  const ext = (ld: number, rows: number, cols: number) => Math.max((rows - 1) * ld + cols, 1);
  const aExt = p.tA ? ext(p.a.ld, p.K, p.M) : ext(p.a.ld, p.M, p.K);
  const bExt = p.tB ? ext(p.b.ld, p.N, p.K) : ext(p.b.ld, p.K, p.N);
  const cExt = (p.z - 1) * p.M * p.c.ld + ext(p.c.ld, p.M, p.N);
  return {
    a: [p.a.off, p.a.off + (p.z - 1) * p.as + aExt],
    b: [p.b.off, p.b.off + (p.z - 1) * p.bs + bExt],
    c: [p.c.off, p.c.off + cExt],
  };
}

function dispatch(p: Problem): void {
  const sp = spans(p);
  const wa = windowOf(p.a.t, sp.a[0], sp.a[1]);
  const wb = windowOf(p.b.t, sp.b[0], sp.b[1]);
  const wc = windowOf(p.c.t, sp.c[0], sp.c[1]);
  const bias = usesBias(p.epi) && p.bias ? whole(p.bias) : undefined;
  if (useSkinny(p.M, p.N, p.K) && p.z === 1) {
    dispatchSkinny(p, wa, wb, wc, bias);
    return;
  }
  // CPU adapters: the weight-stationary kernel where it applies (matmul-ws.ts), unless a tile is
  // forced (the autotuner times tiles that way); decided before the tile choice, which would note
  // a tuning task for the class.
  const sg = subgroupLanes('matmul');
  const vec4 = (ld: number, off: number, stride: number) => ld % 4 === 0 && off % 4 === 0 && stride % 4 === 0;
  const wsLayout =
    !p.tA && !p.tB && vec4(p.a.ld, wa.off, p.as) && vec4(p.b.ld, wb.off, p.bs) && vec4(p.c.ld, wc.off, 0);
  const ws = wsLayout && !tuning().matmulTile ? matmulWsPlan(p.M, p.N, p.K, p.z, p.epi, sg) : undefined;
  if (ws) {
    const u = params(p, wa.off, wb.off, wc.off);
    dispatchMatmulWs(ws, sg, p.epi, { a: wa.bind, b: wb.bind, c: wc.bind, bias }, u, p.z);
    return;
  }
  const cfg = chooseTile(p.M, p.N, p.K);
  const a4 =
    (cfg.sg > 0 || !p.tA) &&
    p.a.ld % 4 === 0 &&
    wa.off % 4 === 0 &&
    p.as % 4 === 0 &&
    (p.tA || p.K % 4 === 0);
  const b4 = p.b.ld % 4 === 0 && wb.off % 4 === 0 && p.bs % 4 === 0 && (!p.tB || p.K % 4 === 0);
  const c4 = cfg.sg > 0 && p.N % 4 === 0 && p.c.ld % 4 === 0 && wc.off % 4 === 0;
  const v: MatmulVariant = { tA: p.tA, tB: p.tB, a4, b4, c4 };
  matmulTile.run({
    constants: tileConstants(v, p.epi, cfg),
    buffers: { a: wa.bind, b: wb.bind, c: wc.bind, bias },
    uniforms: params(p, wa.off, wb.off, wc.off),
    workgroups: cfg.rowsX
      ? [Math.ceil(p.M / cfg.mr), Math.ceil(p.N / tileCols(cfg)), p.z]
      : [Math.ceil(p.N / tileCols(cfg)), Math.ceil(p.M / cfg.mr), p.z],
  });
}

function dispatchSkinny(p: Problem, wa: Window, wb: Window, wc: Window, bias?: BufferBinding): void {
  // 16 rows share each loaded B value (A is read once whatever mr); n = N exactly.
  const cfg = { mr: p.M >= 16 ? 16 : p.M >= 8 ? 8 : 4, n: p.N };
  // Enough k-parts to keep every lavapipe thread busy, but >= 64 k per lane and at most 4M
  // partial sums (16 MB).
  const maxParts = Math.floor((4 << 20) / (SKINNY_WG * p.M * cfg.n));
  const xParts = Math.max(1, Math.min(Math.ceil(p.K / (64 * SKINNY_WG)), 16, maxParts));
  const parts = xParts * SKINNY_WG;
  const part = emptyTensor([parts, p.M, cfg.n], 'float32');
  matmulSkinny.run({
    constants: { tA: p.tA, tB: p.tB, mr: cfg.mr, n: cfg.n },
    buffers: { a: wa.bind, b: wb.bind, part },
    uniforms: params(p, wa.off, wb.off, 0),
    workgroups: [xParts, Math.ceil(p.M / cfg.mr), 1],
  });
  // The reduce pass reads the number of parts from the K slot.
  matmulSkinnyReduce.run({
    constants: skinnyReduceConstants(cfg.n, p.epi),
    buffers: { part, c: wc.bind, bias },
    uniforms: params({ ...p, K: parts }, 0, 0, wc.off),
    workgroups: [Math.ceil((p.M * p.N) / 64), 1, 1],
  });
  part.dispose();
}

// ---------------------------------------------------------------------------------------------
// Splitting rank-2 problems into bindable windows.

/**
 * Largest window, in elements, leaving room for the 64-element alignment of its start
 * (`tuning().matmulWindowLimit` pretends a smaller binding limit).
 */
function windowElems(): number {
  return (tuning().matmulWindowLimit ?? Math.floor(maxBindingBytes() / 4)) - 64;
}

interface Chunks {
  mc: number;
  nc: number;
  kc: number;
}

/**
 * Chunk sizes so that the A, B and C slices of every sub-problem fit one binding: shrink the
 * dimension that strides through the offending operand (its row count) until it fits.
 */
export function planChunks(
  M: number,
  N: number,
  K: number,
  tA: boolean,
  tB: boolean,
  limit: number,
  maxRows = 65535 * 4,
  maxCols = 65535 * 32,
): Chunks {
  let mc = Math.min(M, maxRows);
  let nc = Math.min(N, maxCols);
  let kc = K;
  const lda = tA ? M : K;
  const ldb = tB ? K : N;
  // [outer, inner, ld] of each operand's slice in terms of the chunk sizes.
  const fitSpan = (outer: number, inner: number, ld: number): [number, number] => {
    if ((outer - 1) * ld + inner <= limit) return [outer, inner];
    if (inner >= limit) return [1, limit];
    return [Math.max(1, Math.floor((limit - inner) / ld) + 1), inner];
  };
  for (let iter = 0; iter < 8; iter++) {
    if (tA) [kc, mc] = fitSpan(kc, mc, lda);
    else [mc, kc] = fitSpan(mc, kc, lda);
    if (tB) [nc, kc] = fitSpan(nc, kc, ldb);
    else [kc, nc] = fitSpan(kc, nc, ldb);
    [mc, nc] = fitSpan(mc, nc, N);
  }
  const round = (x: number, g: number, whole: number) => (x >= whole ? whole : x >= g ? x - (x % g) : x);
  return { mc: round(mc, 64, M), nc: round(nc, 256, N), kc: round(kc, 64, K) };
}

type Base = Omit<Problem, 'a' | 'b' | 'c' | 'epi' | 'z' | 'as' | 'bs' | 'biasOff'>;

function matmul2d(a: Tensor, b: Tensor, out: Tensor, base: Base): void {
  const { M, N, K, tA, tB } = base;
  const lda = tA ? M : K;
  const ldb = tB ? K : N;
  // The tile only bounds the grid here; the dispatch notes the class if the tile kernel runs.
  const cfg = chooseTile(M, N, K, false);
  const { mc, nc, kc } = planChunks(M, N, K, tA, tB, windowElems(), 65535 * cfg.mr, 65535 * tileCols(cfg));
  const kChunks = K === 0 ? 1 : Math.ceil(K / kc);
  for (let m0 = 0; m0 < M; m0 += mc) {
    for (let n0 = 0; n0 < N; n0 += nc) {
      for (let kci = 0; kci < kChunks; kci++) {
        const k0 = kci * kc;
        const mm = Math.min(mc, M - m0);
        const nn = Math.min(nc, N - n0);
        const kk = Math.min(kc, K - k0);
        dispatch({
          ...base,
          M: mm,
          N: nn,
          K: kk,
          a: { t: a, off: tA ? k0 * lda + m0 : m0 * lda + k0, ld: lda },
          b: { t: b, off: tB ? n0 * ldb + k0 : k0 * ldb + n0, ld: ldb },
          c: { t: out, off: m0 * N + n0, ld: N },
          biasOff: n0,
          epi: { acc: kci > 0, last: kci === kChunks - 1, bias: !!base.bias, act: base.act },
          z: 1,
          as: 0,
          bs: 0,
        });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Batched products.

/**
 * Merges batch dims that both operands step through contiguously (or both broadcast), drops
 * size-1 dims. Returns dims with the element strides of A and B per dim (0 = broadcast).
 */
function collapseBatch(
  out: readonly number[],
  aB: readonly number[],
  bB: readonly number[],
  aMat: number,
  bMat: number,
): { dims: number[]; as: number[]; bs: number[] } {
  const r = out.length;
  const strides = (own: readonly number[], mat: number) => {
    const s = new Array<number>(r).fill(0);
    let acc = mat;
    for (let i = r - 1; i >= 0; i--) {
      const d = own[own.length - r + i] ?? 1;
      s[i] = d === 1 ? 0 : acc;
      acc *= d;
    }
    return s;
  };
  const sa = strides(aB, aMat);
  const sb = strides(bB, bMat);
  const dims: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < r; i++) {
    if (out[i] === 1) continue;
    const j = dims.length - 1;
    if (j >= 0 && as[j] === sa[i] * out[i] && bs[j] === sb[i] * out[i]) {
      dims[j] *= out[i];
      as[j] = sa[i];
      bs[j] = sb[i];
      continue;
    }
    dims.push(out[i]);
    as.push(sa[i]);
    bs.push(sb[i]);
  }
  return { dims, as, bs };
}

function matmulBatched(a: Tensor, b: Tensor, out: Tensor, batch: readonly number[], base: Base): void {
  const { M, N, K, tA, tB } = base;
  const { dims, as, bs } = collapseBatch(batch, a.shape.slice(0, -2), b.shape.slice(0, -2), M * K, K * N);
  // The innermost dim runs in-kernel (workgroup_id.z, in runs of at most 65535); the others loop
  // here, one dispatch per index.
  const inner = dims.length > 0 ? dims[dims.length - 1] : 1;
  const outer = dims.slice(0, -1);
  const count = outer.reduce((x, y) => x * y, 1);
  const epi = { acc: false, last: true, bias: !!base.bias, act: base.act };
  for (let o = 0; o < count; o++) {
    let rem = o;
    let aOff = 0;
    let bOff = 0;
    for (let d = outer.length - 1; d >= 0; d--) {
      const coord = rem % outer[d];
      rem = Math.floor(rem / outer[d]);
      aOff += coord * as[d];
      bOff += coord * bs[d];
    }
    const sa = as.length > 0 ? as[as.length - 1] : 0;
    const sb = bs.length > 0 ? bs[bs.length - 1] : 0;
    for (let s = 0; s < inner; s += 65535) {
      dispatch({
        ...base,
        a: { t: a, off: aOff + s * sa, ld: tA ? M : K },
        b: { t: b, off: bOff + s * sb, ld: tB ? K : N },
        c: { t: out, off: (o * inner + s) * M * N, ld: N },
        biasOff: 0,
        epi,
        z: Math.min(65535, inner - s),
        as: sa,
        bs: sb,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The public op.

/**
 * act(op(a) @ op(b) + bias) in float32, op = optional transpose of the last two axes. a: [..., M, K]
 * (or [..., K, M] with transposeA), b: [..., K, N] (or [..., N, K]); batch dims broadcast, the
 * result is [...batch, M, N]. Rank-2 operands may exceed the storage binding limit; batched ones
 * may not (DeviceError).
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const op = 'matmul';
  assertTensor(a, op, 'a');
  assertTensor(b, op, 'b');
  assertDTypeIn(a, ['float32'], op, 'a');
  assertDTypeIn(b, ['float32'], op, 'b');
  if (opts === null || typeof opts !== 'object') {
    throw new ArgumentError(`${op}: options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  }
  const tA = opts.transposeA ?? false;
  const tB = opts.transposeB ?? false;
  for (const [name, val] of [
    ['transposeA', tA],
    ['transposeB', tB],
  ] as const) {
    if (typeof val !== 'boolean')
      throw new ArgumentError(`${op}: ${name} must be a boolean, got ${String(val)}`);
  }
  const act = opts.activation ?? 'linear';
  assertActivation(act, op);
  for (const [name, t] of [
    ['a', a],
    ['b', b],
  ] as const) {
    if (t.rank < 2) {
      throw new ShapeError(`${op}: ${name} must have rank >= 2, got shape ${fmtShape(t.shape)}`);
    }
  }
  const ra = a.rank;
  const rb = b.rank;
  const M = tA ? a.shape[ra - 1] : a.shape[ra - 2];
  const Ka = tA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = tB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = tB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (Ka !== Kb) {
    throw new ShapeError(
      `${op}: inner dimensions differ: a ${fmtShape(a.shape)} (K=${Ka}, transposeA=${tA}) vs b ${fmtShape(b.shape)} (K=${Kb}, transposeB=${tB})`,
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const br = Math.max(aBatch.length, bBatch.length);
  const batch: number[] = [];
  for (let i = 0; i < br; i++) {
    const da = aBatch[aBatch.length - br + i] ?? 1;
    const db = bBatch[bBatch.length - br + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `${op}: batch dimensions of a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)} cannot be broadcast (${da} vs ${db})`,
      );
    }
    batch.push(da === 1 ? db : da);
  }
  const bias = opts.bias;
  if (bias !== undefined) {
    assertTensor(bias, op, 'bias');
    assertDTypeIn(bias, ['float32'], op, 'bias');
    if (bias.rank !== 1 || bias.shape[0] !== N) {
      throw new ShapeError(
        `${op}: bias must have shape [${N}] (N of the product), got ${fmtShape(bias.shape)}`,
      );
    }
    assertBindable(bias, op, 'bias');
  }
  const f16 = useF16(opts.precision, a, b);
  const out = emptyTensor([...batch, M, N], 'float32');
  const inputs = bias ? [a, b, bias] : [a, b];
  const attrs = { transposeA: tA, transposeB: tB, activation: act };
  if (out.size === 0) return recordOp(op, inputs, out, attrs);
  if (f16 && Ka > 0) {
    matmulF16(a, b, out, { M, N, K: Ka, tA, tB, act, bias });
    return recordOp(op, inputs, out, attrs);
  }
  const base: Base = { bias, M, N, K: Ka, tA, tB, act };
  if (batch.length === 0) {
    matmul2d(a, b, out, base);
  } else {
    assertBindable(a, op, 'a');
    assertBindable(b, op, 'b');
    assertBindable(out, op, 'the output');
    matmulBatched(a, b, out, batch, base);
  }
  return recordOp(op, inputs, out, attrs);
}
