import { type Activation, act4, activationWgsl } from './activation.js';
import { defineKernel } from './program.js';

/**
 * WGSL generators for matmul. Every kernel computes, for one sub-problem and one batch entry,
 *   C[m, n] = epi(sum_k A[m, k] * B[k, n])   (m < M, n < N, k < K)
 * with A, B, C addressed through element offsets and leading dimensions (`lda`, `ldb`, `ldc`), so
 * the dispatcher can bind windows of huge buffers; k-chunks after the first add to C, the last
 * applies bias and activation (see `Epilogue`).
 *
 * Why the shapes look like this (lavapipe / Mesa 25.0, measured): every storage load or store is
 * executed lane by lane (an exec-mask test per lane, a bounds check per component: ~25
 * instructions per vec4), even at addresses that are the same for all lanes (only constant
 * addresses count as uniform), while arithmetic runs 8 lanes wide. So the tile kernel has each
 * lane load only values no other lane needs: a subgroup of 8 lanes owns 32 columns (a vec4 of B
 * per lane) and MR rows; the MR x 4 values of A for a k-step of 4 are loaded spread over the
 * lanes and handed out with subgroupBroadcast (an extract + splat). vec4 loads cost ~25% less
 * per element than scalar ones, hence the a4/b4 variants.
 */

export interface MatmulVariant {
  /** A is stored [K, M] (transposeA) / B is stored [N, K] (transposeB). */
  tA: boolean;
  tB: boolean;
  /** Operand may be read as vec4 (leading dimension and offset are multiples of 4). */
  a4: boolean;
  b4: boolean;
  /** C stored as vec4 rows: N, ldc and C's offset multiples of 4 (one store per row and lane). */
  c4?: boolean;
}

/**
 * What the store does, baked into the kernel: lavapipe runs both sides of every branch (with
 * lane masks), so a run-time switch over activations computed exp and tanh for every output.
 */
export interface Epilogue {
  /** Add the existing C (k-chunks after the first). */
  acc: boolean;
  /** Apply bias and activation (the last k-chunk). */
  last: boolean;
  bias: boolean;
  act: Activation;
}

/** Canonical form (no bias/activation unless `last`), so equal kernels carry equal constants. */
function canonical(e: Epilogue): Epilogue {
  return e.last ? { ...e } : { acc: e.acc, last: false, bias: false, act: 'linear' };
}

/**
 * WGSL expression: the value stored for sum `o` at C index `ci`, with bias value `bv`; `act4`
 * as `act` when o, C's elements and bv are vec4f.
 */
function epiExpr(e: Epilogue, ci: string, bv: string, act = activationWgsl): string {
  let o = e.acc ? `(o + c[${ci}])` : 'o';
  if (!e.last) return o;
  if (e.bias) o = `(${o} + ${bv})`;
  return act(e.act, o);
}

export interface TileConfig {
  /** Rows of C per subgroup tile. */
  mr: number;
  /** Subgroups per workgroup (each owns 4 * sg columns). */
  s: number;
  /** Lanes per subgroup the kernel is written for; 0 = no subgroup ops (portable fallback). */
  sg: number;
  /** Row blocks along workgroup_id.x (consecutive workgroups share B's column panel). */
  rowsX?: boolean;
}

/**
 * The uniforms of every matmul kernel. `aStride`/`bStride`: element strides of A/B between batch
 * entries (workgroup_id.z).
 */
export const MATMUL_UNIFORMS = {
  M: 'u32',
  N: 'u32',
  K: 'u32',
  lda: 'u32',
  ldb: 'u32',
  ldc: 'u32',
  aOff: 'u32',
  bOff: 'u32',
  cOff: 'u32',
  biasOff: 'u32',
  aStride: 'u32',
  bStride: 'u32',
} as const;

/** Values of the matmul uniforms. */
export type MatmulUniforms = Record<keyof typeof MATMUL_UNIFORMS, number>;

/** Whether the kernel binds a bias buffer (after c). */
export function usesBias(e: Epilogue): boolean {
  return e.last && e.bias;
}

/** Batch entry z = workgroup_id.z (one batch dim in-kernel: vector integer division is slow). */
const BATCH = `  let aBase = p.aOff + wid.z * p.aStride;
  let bBase = p.bOff + wid.z * p.bStride;
`;

const XYZW = 'xyzw';

/**
 * Stores this lane's rows m0..m0+mr-1 x columns n0..n0+3 (those inside M x N). A loop, not
 * unrolled (every store expands to a per-lane branch ladder in lavapipe: unrolled, pipeline
 * compilation took seconds), over rows stored from acc0 while the accumulators shift down (a
 * dynamically indexed private array becomes a select chain).
 */
function epilogue(mr: number, e: Epilogue, c4 = false): string {
  const shift = Array.from({ length: mr - 1 }, (_, r) => `    acc${r} = acc${r + 1};\n`).join('');
  // The lane's 4 bias values (clamped past N; those columns are not stored) are read once.
  const bias = usesBias(e)
    ? `  let bq = vec4f(${[0, 1, 2, 3].map((j) => `bias[p.biasOff + min(n0 + ${j}u, p.N - 1u)]`).join(', ')});\n`
    : '';
  // cBase is computed after the main loop: live across it (lavapipe, LLVM 15) it made the loop
  // spill more and run 1.5x slower.
  if (c4) {
    // N % 4 == 0: a lane's quad is either wholly inside C or wholly past N.
    return `  let cBase = p.cOff + wid.z * p.M * p.ldc;
  let nr = select(p.M - m0, ${mr}u, m0 + ${mr}u <= p.M);
  if (n0 >= p.N) { return; }
${bias}  for (var r = 0u; r < nr; r++) {
    let ci = (cBase + (m0 + r) * p.ldc + n0) / 4u;
    let o = acc0;
    c[ci] = ${epiExpr(e, 'ci', 'bq', act4)};
${shift}  }
`;
  }
  return `  let cBase = p.cOff + wid.z * p.M * p.ldc;
  let nr = select(p.M - m0, ${mr}u, m0 + ${mr}u <= p.M);
  let nc = select(p.N - min(n0, p.N), 4u, n0 + 4u <= p.N);
${bias}  for (var r = 0u; r < nr; r++) {
    let row = cBase + (m0 + r) * p.ldc + n0;
    for (var j = 0u; j < nc; j++) {
      let o = acc0[j];
      c[row + j] = ${epiExpr(e, 'row + j', 'bq[j]')};
    }
${shift}  }
`;
}

/** A quad (vec4f expression) of 4 consecutive elements starting at element index `idx`. */
function quad(buf: 'a' | 'b', vec: boolean, idx: string): string {
  if (vec) return `${buf}[(${idx}) / 4u]`;
  return `vec4f(${buf}[${idx}], ${buf}[${idx} + 1u], ${buf}[${idx} + 2u], ${buf}[${idx} + 3u])`;
}

/**
 * The tile kernel's body. Lane `sgi` of subgroup `sgid` owns columns n0..n0+3; the subgroup owns
 * rows m0..m0+MR-1. With cfg.sg = 0 every lane loads its own A values instead of receiving
 * broadcasts.
 */
function tileBody(v: MatmulVariant, e: Epilogue, cfg: TileConfig): string {
  const { mr, s } = cfg;
  const SG = cfg.sg || 8;
  const useSg = cfg.sg > 0;
  if (!useSg && v.tA && v.a4) throw new Error('matmul_tile: the portable path reads A^T as scalars');
  const na = Math.ceil(mr / SG); // A loads per lane per k-step (subgroup mode)
  const g = mr / 4; // quads per k-row of A^T
  let pre = '';
  let main = '';
  let tail = '';

  // ---- A: a(r, i) = A[m0 + r, k + i] ----
  const aVal: string[][] = []; // [r][i] expression inside the main loop
  const aTail: string[] = []; // [r] inside the tail loop
  if (useSg) {
    for (let u = 0; u < na; u++) {
      if (!v.tA) {
        pre += `  let ar${u} = aBase + min(m0 + min(sgi + ${SG * u}u, ${mr - 1}u), p.M - 1u) * p.lda;\n`;
        main += `    let aq${u} = ${quad('a', v.a4, `ar${u} + k`)};\n`;
        if (!v.a4) tail += `    let at${u} = a[ar${u} + k];\n`;
      } else {
        // quad q = sgi + SG*u covers k-row i = q / g, rows 4*(q % g) .. +3
        pre += `  let aq_${u} = min(sgi + ${SG * u}u, ${mr - 1}u);\n`;
        if (v.a4) {
          pre += `  let ar${u} = aBase + (aq_${u} / ${g}u) * p.lda + min(m0 + 4u * (aq_${u} % ${g}u), (p.M - 1u) & ~3u);\n`;
          main += `    let aq${u} = ${quad('a', true, `ar${u} + k * p.lda`)};\n`;
        } else {
          for (let j = 0; j < 4; j++) {
            pre += `  let ar${u}_${j} = aBase + (aq_${u} / ${g}u) * p.lda + min(m0 + 4u * (aq_${u} % ${g}u) + ${j}u, p.M - 1u);\n`;
          }
          main += `    let aq${u} = vec4f(${[0, 1, 2, 3].map((j) => `a[ar${u}_${j} + k * p.lda]`).join(', ')});\n`;
        }
        pre += `  let atr${u} = aBase + min(m0 + min(sgi + ${SG * u}u, ${mr - 1}u), p.M - 1u);\n`;
        tail += v.a4
          ? `    let atq${u} = a[(atr${u} + k * p.lda) / 4u];\n    let at${u} = atq${u}[(atr${u} + k * p.lda) % 4u];\n`
          : `    let at${u} = a[atr${u} + k * p.lda];\n`;
      }
    }
    for (let r = 0; r < mr; r++) {
      aVal.push([]);
      for (let i = 0; i < 4; i++) {
        if (!v.tA) aVal[r].push(`subgroupBroadcast(aq${Math.floor(r / SG)}.${XYZW[i]}, ${r % SG}u)`);
        else {
          const q = i * g + (r >> 2);
          aVal[r].push(`subgroupBroadcast(aq${Math.floor(q / SG)}.${XYZW[r & 3]}, ${q % SG}u)`);
        }
      }
      aTail.push(`subgroupBroadcast(at${Math.floor(r / SG)}, ${r % SG}u)`);
    }
  } else {
    // Portable path: each lane loads the A values of its own rows.
    for (let r = 0; r < mr; r++) {
      aVal.push([]);
      if (!v.tA) {
        pre += `  let ar${r} = aBase + min(m0 + ${r}u, p.M - 1u) * p.lda;\n`;
        main += `    let aq${r} = ${quad('a', v.a4, `ar${r} + k`)};\n`;
        for (let i = 0; i < 4; i++) aVal[r].push(`aq${r}.${XYZW[i]}`);
        if (!v.a4) tail += `    let at${r} = a[ar${r} + k];\n`;
      } else {
        pre += `  let ar${r} = aBase + min(m0 + ${r}u, p.M - 1u);\n`;
        for (let i = 0; i < 4; i++) aVal[r].push(`a[ar${r} + (k + ${i}u) * p.lda]`);
        tail += `    let at${r} = a[ar${r} + k * p.lda];\n`;
      }
      aTail.push(`at${r}`);
    }
  }

  // ---- B: b(i, j) = B[k + i, n0 + j] ----
  const bVal: string[] = []; // [i] vec4f over j
  if (!v.tB) {
    if (v.b4) {
      pre += '  let bc = bBase + min(n0, (p.N - 1u) & ~3u);\n';
      for (let i = 0; i < 4; i++) main += `    let bq${i} = b[(bc + (k + ${i}u) * p.ldb) / 4u];\n`;
      tail += '    let bt = b[(bc + k * p.ldb) / 4u];\n';
    } else {
      for (let j = 0; j < 4; j++) pre += `  let bc${j} = bBase + min(n0 + ${j}u, p.N - 1u);\n`;
      for (let i = 0; i < 4; i++) {
        main += `    let bq${i} = vec4f(${[0, 1, 2, 3].map((j) => `b[bc${j} + (k + ${i}u) * p.ldb]`).join(', ')});\n`;
      }
      tail += `    let bt = vec4f(${[0, 1, 2, 3].map((j) => `b[bc${j} + k * p.ldb]`).join(', ')});\n`;
    }
    for (let i = 0; i < 4; i++) bVal.push(`bq${i}`);
  } else {
    for (let j = 0; j < 4; j++) {
      pre += `  let bc${j} = bBase + min(n0 + ${j}u, p.N - 1u) * p.ldb;\n`;
      main += `    let bq${j} = ${quad('b', v.b4, `bc${j} + k`)};\n`;
    }
    for (let i = 0; i < 4; i++)
      bVal.push(`vec4f(${[0, 1, 2, 3].map((j) => `bq${j}.${XYZW[i]}`).join(', ')})`);
    tail += v.b4
      ? `    let bt = vec4f(${[0, 1, 2, 3].map((j) => `b[(bc${j} + k) / 4u][(bc${j} + k) % 4u]`).join(', ')});\n`
      : `    let bt = vec4f(${[0, 1, 2, 3].map((j) => `b[bc${j} + k]`).join(', ')});\n`;
  }

  // One nested expression per row: row-major order measured 1.2-1.5x faster on lavapipe than
  // k-major (all products of a k-step first), which LLVM hoists and spills.
  if (v.tB) for (let i = 0; i < 4; i++) main += `    let bv${i} = ${bVal[i]};\n`;
  for (let r = 0; r < mr; r++) {
    let x = `acc${r}`;
    for (let i = 0; i < 4; i++) x = `fma(vec4f(${aVal[r][i]}), ${v.tB ? `bv${i}` : bVal[i]}, ${x})`;
    main += `    acc${r} = ${x};\n`;
  }
  for (let r = 0; r < mr; r++) tail += `    acc${r} = fma(vec4f(${aTail[r]}), bt, acc${r});\n`;

  let decl = '';
  for (let r = 0; r < mr; r++) decl += `  var acc${r} = vec4f(0.0);\n`;

  // The main loop needs k % 4 == 0 alignment for vec4 reads along k; with a4 && !tA, K is a
  // multiple of 4 (lda is), so the tail loop only exists in the other cases.
  const k4 = '(p.K & ~3u)';
  const hasTail = !(v.a4 && !v.tA) && !(v.b4 && v.tB);
  const tailLoop = hasTail ? `  for (var k = ${k4}; k < p.K; k++) {\n${tail}  }\n` : '';

  const store = epilogue(mr, e, !!v.c4);

  const wg = tileWorkgroup(cfg);
  const [wm, wn] = cfg.rowsX ? ['wid.x', 'wid.y'] : ['wid.y', 'wid.x'];
  const head = useSg
    ? `  let m0 = ${wm} * ${mr}u;
  let n0 = (${wn} * ${s}u + sgid) * ${4 * SG}u + sgi * 4u;
`
    : `  let m0 = ${wm} * ${mr}u;
  let n0 = (${wn} * ${wg}u + lid) * 4u;
`;
  return `${head}${BATCH}${pre}${decl}  for (var k = 0u; k < ${k4}; k += 4u) {
${main}  }
${tailLoop}${store.slice(0, -1)}`;
}

/** Lanes per workgroup of the tile kernel. */
function tileWorkgroup(cfg: TileConfig): number {
  return cfg.sg > 0 ? cfg.sg * cfg.s : 64;
}

/** The tile kernel's compile-time constants: operand variant, tile and (canonical) epilogue. */
export type TileConstants = {
  tA: boolean;
  tB: boolean;
  a4: boolean;
  b4: boolean;
  c4: boolean;
  mr: number;
  s: number;
  sg: number;
  rowsX: boolean;
  acc: boolean;
  last: boolean;
  bias: boolean;
  act: Activation;
};

/** The constants of the tile kernel for one variant, epilogue and tile. */
export function tileConstants(v: MatmulVariant, e: Epilogue, cfg: TileConfig): TileConstants {
  const { acc, last, bias, act } = canonical(e);
  return {
    tA: v.tA,
    tB: v.tB,
    a4: v.a4,
    b4: v.b4,
    c4: !!v.c4,
    mr: cfg.mr,
    s: cfg.s,
    sg: cfg.sg,
    rowsX: !!cfg.rowsX,
    acc,
    last,
    bias,
    act,
  };
}

const vecOrScalar = (vec: boolean) => (vec ? 'vec4f' : 'f32');

/** The tile kernel: bindings a, b, c and (with the bias epilogue) bias. */
export const matmulTile = defineKernel({
  name: 'matmul_tile',
  bindings: (c: TileConstants) => ({
    a: `read ${vecOrScalar(c.a4)}` as const,
    b: `read ${vecOrScalar(c.b4)}` as const,
    c: `rw ${vecOrScalar(c.c4)}` as const,
    bias: usesBias(c) ? ('read f32' as const) : undefined,
  }),
  uniforms: MATMUL_UNIFORMS,
  enables: (c) => (c.sg > 0 ? ['subgroups'] : []),
  workgroupSize: (c) => tileWorkgroup(c),
  builtins: (c) => (c.sg > 0 ? ['wid', 'sgi', 'sgid'] : ['wid', 'lid']),
  body: (c) => tileBody(c, c, c),
});

/** Columns of C covered by one workgroup of the tile kernel. */
export function tileCols(cfg: TileConfig): number {
  return cfg.sg > 0 ? 4 * cfg.sg * cfg.s : 256;
}

/** Lanes per workgroup of the skinny kernel. */
export const SKINNY_WG = 64;

export interface SkinnyConfig {
  /** Rows per workgroup (all lanes share them). */
  mr: number;
  /** Output columns (N <= 8), baked. */
  n: number;
}

/**
 * Split-K kernel for few output columns (N <= 8): lanes split K instead of N. Lane g takes
 * k = g, g + L, g + 2L... (neighbouring lanes read neighbouring addresses of A's rows), keeps
 * mr x n sums (every loaded value is used n or mr times) and writes them to
 * part[((g * M) + m) * n + j]; a second pass adds the parts. Workgroup x indexes the k-part, y
 * the row block. One k per iteration keeps the kernel small: each load in the loop costs about
 * 20 ms of pipeline compilation on lavapipe.
 */
function skinnyBody(v: MatmulVariant, cfg: SkinnyConfig): string {
  // (A quad version reading A as vec4 along k measured slower: more live values, more spills.)
  const { mr, n } = cfg;
  let pre = '';
  let body = '';
  let decl = '';
  const flat: string[] = [];
  for (let r = 0; r < mr; r++) {
    pre += v.tA
      ? `  let ar${r} = p.aOff + min(m0 + ${r}u, p.M - 1u);\n`
      : `  let ar${r} = p.aOff + min(m0 + ${r}u, p.M - 1u) * p.lda;\n`;
    body += v.tA ? `    let a${r} = a[ar${r} + k * p.lda];\n` : `    let a${r} = a[ar${r} + k];\n`;
  }
  for (let j = 0; j < n; j++) {
    pre += v.tB ? `  let bc${j} = p.bOff + ${j}u * p.ldb;\n` : `  let bc${j} = p.bOff + ${j}u;\n`;
    body += v.tB ? `    let b${j} = b[bc${j} + k];\n` : `    let b${j} = b[bc${j} + k * p.ldb];\n`;
  }
  for (let r = 0; r < mr; r++) {
    for (let j = 0; j < n; j++) {
      decl += `  var s${r}_${j} = 0.0;\n`;
      body += `    s${r}_${j} = fma(a${r}, b${j}, s${r}_${j});\n`;
      flat.push(`s${r}_${j}`);
    }
  }
  return `  let m0 = wid.y * ${mr}u;
  let g = wid.x * ${SKINNY_WG}u + lid;
  let step = nwg.x * ${SKINNY_WG}u;
${pre}${decl}  for (var k = g; k < p.K; k += step) {
${body}  }
  let t = array<f32, ${mr * n}>(${flat.join(', ')});
  let nr = select(p.M - m0, ${mr}u, m0 + ${mr}u <= p.M);
  for (var i = 0u; i < nr * ${n}u; i++) {
    part[(g * p.M + m0) * ${n}u + i] = t[i];
  }`;
}

/** The skinny kernel's constants: transposes, rows per workgroup and (baked) output columns. */
export type SkinnyConstants = { tA: boolean; tB: boolean; mr: number; n: number };

/** Split-K partial sums (see `skinnyBody`): bindings a, b, part. */
export const matmulSkinny = defineKernel({
  name: 'matmul_skinny',
  bindings: { a: 'read f32', b: 'read f32', part: 'rw f32' },
  uniforms: MATMUL_UNIFORMS,
  workgroupSize: SKINNY_WG,
  builtins: ['wid', 'nwg', 'lid'],
  body: (c: SkinnyConstants) => skinnyBody({ tA: c.tA, tB: c.tB, a4: false, b4: false }, c),
});

/** The reduce pass's constants: output columns (baked) and the (canonical) epilogue. */
export type SkinnyReduceConstants = {
  n: number;
  acc: boolean;
  last: boolean;
  bias: boolean;
  act: Activation;
};

/** The constants of the reduce pass for `n` columns and epilogue `e`. */
export function skinnyReduceConstants(n: number, e: Epilogue): SkinnyReduceConstants {
  return { n, ...canonical(e) };
}

/**
 * Sums the k-parts of the skinny kernel (their count in p.K) and stores: one lane per output.
 * Bindings part, c and (with the bias epilogue) bias.
 */
export const matmulSkinnyReduce = defineKernel({
  name: 'matmul_skinny_reduce',
  bindings: (c: SkinnyReduceConstants) => ({
    part: 'read f32' as const,
    c: 'rw f32' as const,
    bias: usesBias(c) ? ('read f32' as const) : undefined,
  }),
  uniforms: MATMUL_UNIFORMS,
  workgroupSize: 64,
  builtins: ['gid'],
  body: (c) => skinnyReduceBody(c.n, c),
});

function skinnyReduceBody(n: number, e: Epilogue): string {
  return `  let i = gid.x;
  if (i >= p.M * p.N) { return; }
  let m = i / p.N;
  let j = i % p.N;
  var o = 0.0;
  for (var g = 0u; g < p.K; g++) { o += part[(g * p.M + m) * ${n}u + j]; }
  let ci = p.cOff + m * p.ldc + j;
  c[ci] = ${epiExpr(e, 'ci', 'bias[p.biasOff + j]')};`;
}
