import { deviceFacts } from '../tensor/device-info.js';
import type { Tensor } from '../tensor/tensor.js';
import { type Activation, act4 } from './activation.js';
import {
  type BnConstant,
  bnBindings,
  bnBuffers,
  bnConstant,
  bnScaleShift,
  type InlineBatchNorm,
} from './bn-inline.js';
import type { Epilogue } from './matmul-variants.js';
import { dispatchMatmulWs, type MatmulWsPlan, matmulWsPlan } from './matmul-ws.js';
import { defineKernel } from './program.js';
import { tuning, withTuning } from './tuning.js';
import { whole } from './util.js';
import {
  broadcastFmas,
  fullConstant,
  laneQuads,
  psConstant,
  quadSource,
  quadStore,
  residentWeights,
  spreadQuad,
} from './ws-codegen.js';

/**
 * The weight-stationary pointwise (1x1, stride 1) convolution for CPU adapters with a fixed
 * subgroup size (lavapipe), for inputs of up to 144 channels (MobileNetV2's expansions from 16-96
 * channels, its projections from 96-144, and the input gradients of most of its projections).
 *
 * Why (issue 20, measured on lavapipe): a storage load whose address differs between lanes runs
 * lane by lane (~9 instructions per float), a load of a value kept in a register or on the stack
 * costs one instruction, and the tile kernel (conv.ts) re-reads its filter quad for every tile of
 * 32 pixels and blends its loop-carried accumulators every k-step. Here each lane reads its C
 * quads of output channels for all Cin input channels once and keeps them as values, and the
 * subgroup then walks a run of pixels one at a time: per pixel the Cin input values are loaded
 * spread over the lanes and broadcast, and each lane does Cin x C vec4 FMAs against its resident
 * weights into accumulators that live for one pixel. Measured against the tile kernel in a
 * stand-alone probe (bench/README.md "Where lavapipe's time goes"; bench case 'conv2d
 * [64,48,48,24] 1x1x24->144'): 2-2.2x on Cin 16-32, 1.6-1.8x on Cin 64 (C = 2), 1.3-1.4x on Cin 96,
 * 1.1-1.9x on Cin 144 (C = 1), and slower from Cin 160 (the resident weights outgrow the registers
 * and the L1 cache); hence Cin <= 144, with C chosen by `residentPlan` (at most 5 quads and 288
 * resident quads per lane; session 8, replacing C = floor(128 / Cin) <= 3).
 *
 * From Cin 145 the weight-stationary matmul (matmul-ws.ts), which keeps one chunk of K resident
 * at a time, takes these convs instead (`pointwiseMatmulPlan`; above 320 only on lavapipe, where
 * its partial sums stay private; elsewhere wider ones stay on the tile kernel).
 *
 * Compile time is the other limit: Cin x C unrolled weight loads took lavapipe's LLVM 2-20 s, so
 * they are loaded by a loop (see wsBody) and the kernels compile in 0.5-3 s (once per machine:
 * Mesa's shader disk cache keeps them).
 *
 * Session 17 (lavapipe, batch 64, interleaved): where Cout / 4 is a multiple of the C x sg quads
 * of a block, no lane is idle and the stores go without their `ok` test (`full`): 6-10% less on
 * 96->576, 64->384 and 32->192 alone, 6-16% inside MobileNetV2; with C = 1 and Cin >= 64 each
 * sum is split into 4 partial sums (`partialSums` in ws-codegen.ts). Together with the stem's
 * unguarded stores (conv-window-ws.ts), MobileNetV2's kernel time at batch 64 fell 1.6-2.4% by
 * per-dispatch timestamps and its wall time 574 -> 550 ms (medians of 12 interleaved passes).
 */
export type PointwiseWsKernel = {
  /** Input channels (a multiple of 4), unrolled. */
  cin: number;
  /** Output channel quads per lane. */
  c: number;
  /** Lanes per subgroup (the workgroup is one subgroup). */
  sg: number;
  bias: boolean;
  act: Activation;
  /** A batch norm folded in by the kernel (bn-inline.ts); absent: none. */
  bn?: BnConstant;
  /** A residual of y's shape added last (after the activation); absent: none. */
  res?: boolean;
  /** Independent partial sums per accumulator (`partialSums`); absent: 1. */
  ps?: number;
  /** Every lane's quads are inside the output (Cout / 4 a multiple of C x sg): stores unguarded. */
  full?: boolean;
};

export const pointwiseWsKernel = defineKernel({
  name: 'conv2d_pointwise_ws',
  bindings: (k: PointwiseWsKernel) => ({
    x: 'read vec4f',
    f: 'read vec4f',
    y: 'rw vec4f',
    bias: k.bias ? 'read vec4f' : null,
    ...bnBindings(k.bn),
    res: k.res ? 'read vec4f' : null,
  }),
  uniforms: { M: 'u32', CIN: 'u32', CO4: 'u32', PX: 'u32', blocks: 'u32' },
  workgroupSize: (k) => k.sg,
  builtins: ['wid', 'nwg', 'sgi'],
  enables: ['subgroups'],
  body: wsBody,
});

function wsBody(k: PointwiseWsKernel): string {
  const { cin, c: C, sg: L } = k;
  const K4 = cin / 4;
  const G = Math.ceil(K4 / L); // input quads each lane loads per pixel
  // Lane sgi owns quads qb + j*L (j < C) of its block of C*L quads.
  let pre = `  let pb = wid.y + wid.z * nwg.y;
  if (pb >= p.blocks) { return; }
  let qb = wid.x * ${C * L}u + sgi;
${laneQuads(C, L, 'qb', 'p.CO4')}`;
  const bn = k.bn;
  for (let j = 0; j < C; j++) {
    const b = k.bias ? `bias[q${j}]` : null;
    pre += bn ? bnScaleShift(bn, `bn${j}`, `q${j}`, b) : '';
    pre += `  let b${j} = ${bn ? `bn${j}t` : (b ?? 'vec4f(0.0)')};\n`;
  }
  pre += residentWeights(cin, C, 'p.CIN', (j) => `f[i * p.CO4 + q${j}]${bn ? ` * bn${j}s` : ''}`);
  let body = '';
  for (let j = 0; j < C; j++) body += `    var a${j} = b${j};\n`;
  for (let g = 0; g < G; g++) body += `    let xq${g} = x[${spreadQuad(g, L, K4, `m * ${K4}u`)}];\n`;
  body += broadcastFmas(cin, C, quadSource(L), '    ', k.ps);
  const res = (j: number) => (k.res ? ` + res[m * p.CO4 + q${j}]` : '');
  for (let j = 0; j < C; j++)
    body += `    ${quadStore(j, k.full, `y[m * p.CO4 + q${j}] = ${act4(k.act, `a${j}`)}${res(j)};`)}\n`;
  return `${pre}  let m1 = min((pb + 1u) * p.PX, p.M);
  for (var m = pb * p.PX; m < m1; m++) {
${body}  }
`;
}

/**
 * A pointwise conv's dispatch: x [m, cin], f [cin, co], y [m, co], the bias and activation, and
 * optionally a batch norm that the kernel folds in (bn-inline.ts).
 */
export interface PointwiseArgs {
  x: Tensor;
  f: Tensor;
  y: Tensor;
  bias?: Tensor;
  act: Activation;
  m: number;
  cin: number;
  co: number;
  bn?: InlineBatchNorm;
  /** Added to y last, [m, co] (after the activation). */
  res?: Tensor;
}

/** The plan of a weight-stationary dispatch: quads per lane and pixels per workgroup. */
export interface PointwiseWsPlan {
  c: number;
  px: number;
}

/**
 * Whether a pointwise conv of `m` pixels, `cin` -> `co` channels takes the weight-stationary
 * kernel here, and with which plan (undefined: the tile kernel). `sg`: the fixed subgroup lanes
 * (0: none). The tuning switch `convWeightStationary` forces it on or off; 'auto' takes it on
 * software adapters.
 */
export function pointwiseWsPlan(m: number, cin: number, co: number, sg: number): PointwiseWsPlan | undefined {
  const mode = tuning().convWeightStationary;
  if (mode === 'off' || sg === 0 || cin % 4 !== 0 || co % 4 !== 0 || cin > 144) return undefined;
  if (mode === 'auto' && deviceFacts().adapterClass !== 'software') return undefined;
  return residentPlan(m, cin, co, sg);
}

/**
 * The plan of a conv whose lanes keep `taps` x C weight quads resident (this kernel and
 * conv-window-ws.ts): as few blocks of lanes across Cout as C <= 5 quads per lane with at most
 * 288 resident quads allow (each block loads every pixel's inputs again), with the smallest C that
 * reaches them (fewer idle quads in the last block); runs of 64-512 pixels, enough workgroups to
 * share among the CPU threads and each run long enough to pay for loading its weights. Against
 * the earlier rule (C <= 3 with at most 128 resident quads), interleaved on lavapipe: 96->576 at
 * [32,12,12] 10.7 -> 6.3-7.3 ms (C 1 -> 3), 24->144 at [32,48,48] 10.7-12.7 -> 7.9-11.6 ms (C 3 -> 5,
 * one block instead of two), 64->384 3.3-4.4 -> 2.9-3.0 ms (C 2 -> 4); 32->192 equal at C 6, so 5
 * is the cap. The larger kernels take longer to compile (MobileNetV2's first prediction with an
 * empty shader cache 7.3 -> 11.7 s), once per machine with Mesa's disk cache.
 */
export function residentPlan(m: number, taps: number, co: number, sg: number): PointwiseWsPlan {
  const co4 = co / 4;
  const most = Math.max(1, Math.min(5, Math.floor(288 / taps)));
  const fewest = Math.ceil(co4 / (most * sg));
  let c = 1;
  while (Math.ceil(co4 / (c * sg)) > fewest) c++;
  const blocksX = Math.ceil(co4 / (c * sg));
  const px = Math.max(64, Math.min(512, Math.floor((m * blocksX) / 96)));
  return { c, px };
}

/** Runs the weight-stationary kernel: x [m, cin], f [cin, co] (co % 4 == 0), y [m, co]. */
export function dispatchPointwiseWs(a: PointwiseArgs, plan: PointwiseWsPlan, sg: number): void {
  const co4 = a.co / 4;
  const blocks = Math.ceil(a.m / plan.px);
  const gy = Math.min(blocks, 65535);
  pointwiseWsKernel.run({
    constants: {
      cin: a.cin,
      c: plan.c,
      sg,
      bias: !!a.bias,
      act: a.act,
      ...(a.bn ? { bn: bnConstant(a.bn) } : {}),
      ...(a.res ? { res: true } : {}),
      ...psConstant(a.cin, plan.c),
      ...fullConstant(co4, plan.c, sg),
    },
    buffers: { x: a.x, f: a.f, y: a.y, bias: a.bias, ...bnBuffers(a.bn), res: a.res },
    uniforms: { M: a.m, CIN: a.cin, CO4: co4, PX: plan.px, blocks },
    workgroups: [Math.ceil(co4 / (plan.c * sg)), gy, Math.ceil(blocks / gy)],
  });
}

/** The epilogue of a pointwise conv run as one product. */
function convEpilogue(bias: boolean, act: Activation): Epilogue {
  return { acc: false, last: true, bias, act };
}

/**
 * Whether a pointwise conv of `m` pixels, more than 144 input channels, takes the weight-stationary
 * matmul (matmul-ws.ts: its weights resident per chunk of K, so it is not bounded by Cin as this
 * kernel is), with which plan (undefined: the tile kernel). Measured on lavapipe, interleaved:
 * 160 -> 960 at [64,6,6] 15.0 -> 12.9 ms, 320 -> 1280 38.0 -> 30.3, 192 -> 32 at [64,24,24] 11.7 ->
 * 11.1, 192 -> 64 at [64,12,12] 6.2 -> 5.6. From Cin 384 the tile kernel was faster (384 -> 96
 * 14.0 vs 16.2, 576 -> 96 20.4 vs 22.4, 960 -> 160 14.3 vs 17.5) until the matmul kept its
 * partial sums across chunks privately (session 12, lavapipe only; 576 -> 96 at [64,12,12] 18.7
 * -> 14.2 ms, 960 -> 320 at [64,6,6] 32.8 -> 23.9, 384 -> 64 12.3 -> 9.2, one interleaved run):
 * on lavapipe it takes every Cin > 144, elsewhere 145-320. Same switches as `pointwiseWsPlan`.
 */
export function pointwiseMatmulPlan(
  m: number,
  cin: number,
  co: number,
  bias: boolean,
  act: Activation,
  sg: number,
): MatmulWsPlan | undefined {
  const mode = tuning().convWeightStationary;
  if (mode === 'off' || sg === 0 || cin <= 144) return undefined;
  if (mode === 'auto' && deviceFacts().adapterClass !== 'software') return undefined;
  // The conv's switch decides for the matmul kernel too ('auto' there also wants >= 128 rows).
  const plan = withTuning({ matmulWeightStationary: mode }, () =>
    matmulWsPlan(m, co, cin, 1, convEpilogue(bias, act), sg),
  );
  // Wider inputs only where the plan keeps its partial sums privately (`rows`: lavapipe).
  return mode === 'auto' && cin > 320 && !plan?.rows ? undefined : plan;
}

/** Runs a pointwise conv as the weight-stationary matmul: x [m, cin], f [cin, co], y [m, co]. */
export function dispatchPointwiseMatmul(a: PointwiseArgs, plan: MatmulWsPlan, sg: number): void {
  const u = {
    M: a.m,
    N: a.co,
    K: a.cin,
    lda: a.cin,
    ldb: a.co,
    ldc: a.co,
    aOff: 0,
    bOff: 0,
    cOff: 0,
    biasOff: 0,
    aStride: 0,
    bStride: 0,
  };
  const buffers = {
    a: whole(a.x),
    b: whole(a.f),
    c: whole(a.y),
    bias: a.bias ? whole(a.bias) : undefined,
    res: a.res ? whole(a.res) : undefined,
  };
  dispatchMatmulWs(plan, sg, convEpilogue(!!a.bias, a.act), buffers, u, 1, a.bn);
}
