import { deviceFacts } from '../tensor/device-info.js';
import { ArgumentError } from '../tensor/errors.js';
import type { BufferBinding } from '../tensor/queue.js';
import { act4 } from './activation.js';
import {
  type BnConstant,
  bnBindings,
  bnBuffers,
  bnConstant,
  bnScaleShift,
  type InlineBatchNorm,
} from './bn-inline.js';
import { type Epilogue, MATMUL_UNIFORMS, type MatmulUniforms, usesBias } from './matmul-variants.js';
import { defineKernel } from './program.js';
import { tuning } from './tuning.js';
import { broadcastFmas, laneQuads, quadSource, residentWeights, spreadQuad } from './ws-codegen.js';

/**
 * The weight-stationary matmul for CPU adapters with a fixed subgroup size (lavapipe): C = A B
 * with A [M, K] and B [K, N] row-major (no transposes), everything read and written as vec4.
 *
 * The pointwise conv's finding (conv-pointwise.ts) carried over: a subgroup owns C quads of
 * output columns per lane and a run of PX rows, and walks K in chunks of KC. Per chunk each lane
 * loads its KC x C quads of B once (by a loop whose bound is a uniform, into a private array: an
 * unrolled load is a per-lane load loop in lavapipe's code, and many of them take LLVM seconds to
 * compile) and keeps them as values; then for each row of the run it loads the row's KC values of
 * A spread over the lanes, broadcasts them, does KC x C vec4 FMAs into accumulators that live for
 * that row only (no loop-carried blends), and adds them to C (read-modify-write after the first
 * chunk). Measured on lavapipe (256-bit, 8 lanes), 2048^3: 286-291 ms (59-60 GFLOP/s) with KC 128,
 * C 2, PX 256-512, against 516-555 ms for the tile kernel in the same runs; KC 64 / C 2 56
 * GFLOP/s, KC 32 39-43, C 3 55 (bench/README.md "Where lavapipe's time goes").
 *
 * Partial sums (session 12): with several chunks, the first version added each chunk's products
 * into C in memory, a per-lane load and store of every C quad per chunk, which cost as much as
 * the chunk's FMAs at K 384-960 and narrow N. Now the run's partial sums stay in a private array
 * of `rows` x C quads (scratch memory, indexed by the row within the run) and C is written once,
 * after the last chunk. Interleaved on lavapipe (bench/README.md): 4096x2048x2048 679 -> 442-460
 * ms, MobileNetV2's 1x1 convs 576 -> 96 at [64,12,12] 22.6 -> 14.2-17.1 ms, 960 -> 320 at
 * [64,6,6] 34.3 -> 20-24 ms, 192 -> 32 at [64,24,24] 10.5 -> 8.3-8.9 ms. With one chunk, or
 * when adding to C across k-windows (the acc epilogue), C is read and written as before.
 *
 * The epilogue (bias, activation) is applied by a select on the last chunk's store, so only the
 * cheap activations take this kernel (linear, relu, relu6); the others go to the tile kernel.
 */
export type MatmulWsConstants = {
  /** K per chunk (a multiple of 4, dividing K), unrolled. */
  kc: number;
  /** Output column quads per lane. */
  c: number;
  /** Lanes per subgroup (the workgroup is one subgroup). */
  sg: number;
  acc: boolean;
  bias: boolean;
  act: 'linear' | 'relu' | 'relu6';
  /**
   * Rows of partial sums kept in a private array across chunks (at least the run's PX); 0: each
   * chunk after the first reads and writes C.
   */
  rows: number;
  /** A batch norm folded in by the kernel (bn-inline.ts; conv use, no batch); absent: none. */
  bn?: BnConstant;
  /**
   * A residual laid out as C, added to the output after the activation (with private partial sums
   * only: `rows` > 0); absent: none.
   */
  res?: boolean;
};

export const matmulWsKernel = defineKernel({
  name: 'matmul_ws',
  bindings: (k: MatmulWsConstants) => ({
    a: 'read vec4f' as const,
    b: 'read vec4f' as const,
    c: 'rw vec4f' as const,
    bias: k.bias ? ('read f32' as const) : undefined,
    ...bnBindings(k.bn),
    res: k.res ? ('read vec4f' as const) : undefined,
  }),
  uniforms: { ...MATMUL_UNIFORMS, KC: 'u32', PX: 'u32' },
  workgroupSize: (k) => k.sg,
  builtins: ['wid', 'sgi'],
  enables: ['subgroups'],
  body: wsBody,
});

function wsBody(k: MatmulWsConstants): string {
  const { kc, c: C, sg: L } = k;
  const KC4 = kc / 4;
  const G = Math.ceil(KC4 / L); // A quads each lane loads per row and chunk
  let pre = `  let aBase = (p.aOff + wid.z * p.aStride) / 4u;
  let bBase = (p.bOff + wid.z * p.bStride) / 4u;
  let cBase = (p.cOff + wid.z * p.M * p.ldc) / 4u;
  let n4 = p.N / 4u;
  let qb = wid.x * ${C * L}u + sgi;
  let m0 = wid.y * p.PX;
  let m1 = min(m0 + p.PX, p.M);
  let nch = p.K / ${kc}u;
`;
  pre += laneQuads(C, L, 'qb', 'n4');
  const bn = k.bn;
  const biasQuad = (j: number) =>
    `vec4f(${[0, 1, 2, 3].map((e) => `bias[p.biasOff + q${j} * 4u + ${e}u]`).join(', ')})`;
  for (let j = 0; j < C; j++) {
    if (bn)
      pre += `${bnScaleShift(bn, `bn${j}`, `q${j}`, k.bias ? biasQuad(j) : null)}  let bv${j} = bn${j}t;\n`;
    else if (k.bias) pre += `  let bv${j} = ${biasQuad(j)};\n`;
  }
  let chunk = `    let k0 = ch * ${kc}u;
    let last = ch + 1u == nch;
`;
  chunk += residentWeights(
    kc,
    C,
    'p.KC',
    (j) => `b[bBase + (k0 + i) * (p.ldb / 4u) + q${j}]${bn ? ` * bn${j}s` : ''}`,
    '    ',
  );
  chunk += '    for (var m = m0; m < m1; m++) {\n';
  chunk += '      let crow = cBase + m * (p.ldc / 4u);\n';
  if (k.rows) {
    pre += `  var part: array<vec4f, ${k.rows * C}>;\n`;
    chunk += `      let pi = (m - m0) * ${C}u;\n`;
  }
  // The chunk's accumulators start from 0 (first chunk), from C (acc), or from the partial sums.
  const from = (j: number) => (k.rows ? `part[pi + ${j}u]` : `c[crow + q${j}]`);
  for (let j = 0; j < C; j++)
    chunk += k.acc
      ? `      var a${j} = c[crow + q${j}];\n`
      : `      var a${j} = select(${from(j)}, vec4f(0.0), ch == 0u);\n`;
  for (let g = 0; g < G; g++)
    chunk += `      let xq${g} = a[${spreadQuad(g, L, KC4, 'aBase + m * (p.lda / 4u) + k0 / 4u')}];\n`;
  chunk += broadcastFmas(kc, C, quadSource(L), '      ');
  for (let j = 0; j < C; j++) {
    const fin = `${act4(k.act, k.bias || bn ? `(a${j} + bv${j})` : `a${j}`)}${k.res ? ` + res[crow + q${j}]` : ''}`;
    const v = fin === `a${j}` ? fin : `select(a${j}, ${fin}, last)`;
    chunk += k.rows
      ? `      if (last) { if (ok${j}) { c[crow + q${j}] = ${fin}; } } else { part[pi + ${j}u] = a${j}; }\n`
      : `      if (ok${j}) { c[crow + q${j}] = ${v}; }\n`;
  }
  chunk += '    }\n';
  return `${pre}  for (var ch = 0u; ch < nch; ch++) {\n${chunk}  }\n`;
}

/**
 * The plan of a weight-stationary matmul: K per chunk, column quads per lane, rows per run, and
 * the rows of private partial sums (0: chunks add into C).
 */
export interface MatmulWsPlan {
  kc: number;
  c: number;
  px: number;
  rows: number;
}

/**
 * Whether an (M x K) (K x N) product with `z` batch entries takes the weight-stationary kernel
 * (undefined: the tile kernel). The caller has checked the layout: no transposes, vec4 operands
 * and output. `sg`: the fixed subgroup lanes (0: none). The tuning switch
 * `matmulWeightStationary` forces it on or off; 'auto' takes it on software adapters.
 */
export function matmulWsPlan(
  M: number,
  N: number,
  K: number,
  z: number,
  e: Epilogue,
  sg: number,
): MatmulWsPlan | undefined {
  const mode = tuning().matmulWeightStationary;
  if (mode === 'off' || sg === 0 || K % 4 !== 0 || N % 4 !== 0) return undefined;
  if (mode === 'auto' && (deviceFacts().adapterClass !== 'software' || M < 128)) return undefined;
  if (e.last && e.act !== 'linear' && e.act !== 'relu' && e.act !== 'relu6') return undefined;
  // The largest chunk of at most 128 dividing K (>= 32 unless K itself is smaller and forced).
  let kc = 0;
  for (let d = Math.min(128, K); d >= 4; d -= 4) {
    if (K % d === 0) {
      kc = d;
      break;
    }
  }
  if (kc < 32 && mode === 'auto') return undefined;
  // Column quads per lane: 2 measured best; 3 or 1 where they leave fewer idle lanes (N = 96:
  // 3 quads x 8 lanes fit exactly, 2 leave a block of 16 quads a quarter empty).
  const n4 = N / 4;
  const idle = (c: number) => Math.ceil(n4 / (c * sg)) * c * sg - n4;
  const c = [2, 3, 1].reduce((best, c) => (idle(c) < idle(best) ? c : best));
  const blocksX = Math.ceil(n4 / (c * sg));
  const work = M * blocksX * z;
  if (K > kc && !e.acc && deviceFacts().lavapipe) {
    // Partial sums kept privately (on lavapipe, where it was measured: the private array also
    // doubles LLVM's compile time, 6 -> 12 s cold for 576 -> 96): runs of 64-256 rows (256 measured
    // best, 64 10-25% slower), about 32 runs (more past 256 rows) to share among the CPU threads;
    // the array holds the smallest power of two of rows >= the run.
    const px = Math.min(M, Math.max(64, Math.min(256, 2 ** Math.floor(Math.log2(work / 32)))));
    return { kc, c, px, rows: Math.max(64, 2 ** Math.ceil(Math.log2(px))) };
  }
  // Runs of 64-512 rows: long enough to pay for each chunk's weight loads, enough of them to
  // share among the CPU threads.
  const px = Math.max(64, Math.min(512, Math.floor(work / 96)));
  return { kc, c, px: Math.min(px, M), rows: 0 };
}

/** Runs the weight-stationary kernel on bound windows (see matmul.ts' dispatch). */
export function dispatchMatmulWs(
  plan: MatmulWsPlan,
  sg: number,
  e: Epilogue,
  buffers: {
    a: BufferBinding;
    b: BufferBinding;
    c: BufferBinding;
    bias?: BufferBinding;
    res?: BufferBinding;
  },
  u: MatmulUniforms,
  z: number,
  bn?: InlineBatchNorm,
): void {
  const bias = usesBias(e);
  if ((bn || buffers.res) && (z !== 1 || e.acc || !e.last))
    throw new ArgumentError('matmul_ws: a batch norm or a residual goes only into a whole product');
  if (buffers.res && !plan.rows) throw new ArgumentError('matmul_ws: a residual needs private partial sums');
  matmulWsKernel.run({
    constants: {
      ...(bn ? { bn: bnConstant(bn) } : {}),
      ...(buffers.res ? { res: true } : {}),
      kc: plan.kc,
      c: plan.c,
      sg,
      acc: e.acc,
      bias,
      act: e.last ? (e.act as MatmulWsConstants['act']) : 'linear',
      rows: plan.rows,
    },
    buffers: {
      a: buffers.a,
      b: buffers.b,
      c: buffers.c,
      bias: bias ? buffers.bias : undefined,
      ...bnBuffers(bn),
      res: buffers.res,
    },
    uniforms: { ...u, KC: plan.kc, PX: plan.px },
    workgroups: [Math.ceil(u.N / 4 / (plan.c * sg)), Math.ceil(u.M / plan.px), z],
  });
}
