import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { type Activation, act4 } from './activation.js';
import { convTileTuned } from './autotune-conv.js';
import type { InlineBatchNorm } from './bn-inline.js';
import {
  CONV_HEAD,
  CONV2D,
  type ConvCall,
  type ConvOptions,
  convHead,
  inputGradWindow,
  type Padding,
  type Strides,
  type WindowDispatch,
} from './conv-args.js';
import { convUsesF16, halfCopy, quad } from './conv-f16.js';
import { type ForwardArgs, forwardFolded, forwardOp, inputGradOp } from './conv-ops.js';
import {
  dispatchPointwiseMatmul,
  dispatchPointwiseWs,
  type PointwiseArgs,
  type PointwiseWsPlan,
  pointwiseMatmulPlan,
  pointwiseWsPlan,
} from './conv-pointwise.js';
import { dispatchWindowWs, windowWsPlan } from './conv-window-ws.js';
import type { MatmulWsPlan } from './matmul-ws.js';
import { defineKernel } from './program.js';
import { subgroupLanes, tuning } from './tuning.js';
import { grid } from './util.js';

/**
 * 2-D convolution, NHWC activations and HWIO filters, as an implicit GEMM: output pixels are the
 * rows, output channels the columns, and (ky, kx, ci) the reduction, read straight from the input
 * (no im2col buffer). Also its input gradient (the same kernel run on the stride-dilated dy with
 * the flipped, transposed filter); the filter gradient is in conv-grad.ts.
 *
 * Why the kernel looks like this (lavapipe, measured on the bench cases 'conv2d [64,48,48,32]
 * 3x3x32->64 same' and 'conv2d [64,24,24,96] 1x1x96->24 same'): a workgroup runs
 * on one CPU thread, 8 lanes to a SIMD register, and every load whose address differs between
 * lanes is executed lane by lane, so loads cost far more than FMAs. A subgroup of 8 lanes owns
 * ROWS output pixels x 32 output channels; each lane loads the filter values of its own 4
 * channels (vec4, Cout is contiguous in HWIO) and ROWS/8 of the input quads, which it hands to the
 * other lanes with subgroupBroadcast. Bias and activation are applied in the epilogue.
 *
 * Tried for the pointwise case and rejected (issue 20, lavapipe/Mesa 25.0, batch 32 MobileNetV2
 * shapes): lanes owning pixels with the filter read at a lane-independent address (2-10x slower:
 * such storage loads inside a loop are still done lane by lane; from a uniform buffer ~30% faster
 * than from storage, still 2-3x slower than this kernel); 2-4 channel quads per lane (16x2, 8x3,
 * 16x3, 8x4 rows x quads: equal or slower); 48 or 64 rows (within noise); the GEMM path (equal or
 * slower, 0-2x). The JIT code shows why: fma() becomes mul + add, and every load or store whose
 * address differs between lanes is a per-lane loop with a bounds check, so the time of a small-Cin
 * conv is about 2 ns per output float, 40% of it the stores. What did pay for Cin <= 144: keeping
 * the weights resident while a subgroup walks many pixels (conv-pointwise.ts, taken on CPU adapters;
 * conv-window-ws.ts for windows of at most 144 taps); for pointwise convs of Cin > 144 (145-320
 * off lavapipe), the weight-stationary matmul (matmul-ws.ts, chunks of K resident;
 * `pointwiseMatmulPlan`).
 */

export { assertOutputBindable, type ConvOptions, type Padding, type Strides } from './conv-args.js';
export { conv2dBackpropFilter } from './conv-grad.js';

// ---------------------------------------------------------------------------------------------
// The implicit-GEMM kernel.

export type ConvKernel = {
  /** Output pixels per subgroup (a multiple of the lanes). */
  rows: number;
  /** Subgroups per workgroup (each owns 4 * lanes output channels). */
  groups: number;
  /** Subgroup lanes; 0: no subgroup operations (every lane loads its own input values). */
  sg: number;
  /** Cin % 4 == 0: input read as vec4 along channels. */
  x4: boolean;
  /** Cout % 4 == 0: output written as vec4 (the filter is always read as vec4, padded if needed). */
  y4: boolean;
  /** Input dilated by (dh, dw) (the input gradient of a strided conv). */
  dilated: boolean;
  /** 1x1 window, stride 1, no padding, no dilation: output pixel m reads input pixel m. */
  pointwise: boolean;
  bias: boolean;
  act: Activation;
  /** x and f are f16 copies (conv-f16.ts), converted to f32 as loaded; absent for the f32 kernels. */
  half?: boolean;
};

/**
 * The conv kernel. Lane `sgi` of subgroup `sgid` owns output channels co..co+3 and the subgroup
 * owns output pixels m0..m0+ROWS-1; the input values of pixel m0 + sgi + L*u are loaded by that
 * lane (u < ROWS/L) and broadcast. The filter is [taps, C, CO4] with CO4 = CO rounded up to 4
 * (zero columns), so every filter read is one vec4.
 */
export const convKernel = defineKernel({
  name: 'conv2d',
  bindings: (k: ConvKernel) => ({
    x: k.half ? 'read vec4<f16>' : k.x4 ? 'read vec4f' : 'read f32',
    f: k.half ? 'read vec4<f16>' : 'read vec4f',
    y: k.y4 ? 'rw vec4f' : 'rw f32',
    bias: k.bias ? (k.y4 ? 'read vec4f' : 'read f32') : null,
  }),
  uniforms: {
    ...CONV_HEAD,
    M: 'u32',
    dh: 'u32',
    dw: 'u32',
    rowBlocks: 'u32',
    KH: 'u32',
    KW: 'u32',
  },
  workgroupSize: (k) => (k.sg || 8) * k.groups,
  builtins: (k) => (k.sg ? ['wid', 'nwg', 'sgi', 'sgid'] : ['wid', 'nwg', 'lid']),
  enables: (k) => [...(k.half ? (['f16'] as const) : []), ...(k.sg ? (['subgroups'] as const) : [])],
  body: convBody,
});

function convBody(k: ConvKernel): string {
  const L = k.sg || 8;
  const R = k.rows;
  const loaders = k.sg ? R / L : R; // pixels whose input each lane loads
  const xT = k.x4 ? 'vec4f' : 'f32';
  let pre = '';
  for (let u = 0; u < loaders; u++) {
    const r = k.sg ? `sgi + ${L * u}u` : `${u}u`;
    if (k.pointwise) {
      pre += `  let xa${u} = min(m0 + ${r}, p.M - 1u) * p.C;\n`;
      continue;
    }
    pre += `  let pm${u} = min(m0 + ${r}, p.M - 1u);
  let ox${u} = pm${u} % p.OW;
  let t${u} = pm${u} / p.OW;
  let iy${u} = i32((t${u} % p.OH) * p.sh) - p.padT;
  let ix${u} = i32(ox${u} * p.sw) - p.padL;
  let base${u} = (t${u} / p.OH) * p.H;
`;
  }
  // Per tap: the input element offset of each loaded pixel, 0 (and a zero mask) outside.
  let tap = '';
  for (let u = 0; u < (k.pointwise ? 0 : loaders); u++) {
    if (k.dilated) {
      tap += `    let sy${u} = iy${u} + i32(ky);
    let sx${u} = ix${u} + i32(kx);
    let yy${u} = u32(sy${u}) / p.dh;
    let xx${u} = u32(sx${u}) / p.dw;
    let ok${u} = sy${u} >= 0 && sx${u} >= 0 && u32(sy${u}) % p.dh == 0u && u32(sx${u}) % p.dw == 0u && yy${u} < p.H && xx${u} < p.W;
`;
    } else {
      tap += `    let yy${u} = u32(iy${u} + i32(ky));
    let xx${u} = u32(ix${u} + i32(kx));
    let ok${u} = yy${u} < p.H && xx${u} < p.W;
`;
    }
    tap += `    let xa${u} = select(0u, ((base${u} + yy${u}) * p.W + xx${u}) * p.C, ok${u});\n`;
  }
  const cq = k.x4 ? 4 : 1; // input channels per step
  let body = '';
  for (let u = 0; u < loaders; u++) {
    const idx = k.x4 ? `(xa${u} + c) / 4u` : `xa${u} + c`;
    const load = k.half ? `vec4f(x[${idx}])` : `x[${idx}]`;
    body += k.pointwise
      ? `      let xv${u} = ${load};\n`
      : `      let xv${u} = select(${xT}(0.0), ${load}, ok${u});\n`;
  }
  for (let i = 0; i < cq; i++)
    body += `      let fq${i} = ${k.half ? `vec4f(f[fr + ${i}u * co4])` : `f[fr + ${i}u * co4]`};\n`;
  for (let r = 0; r < R; r++) {
    const src = k.sg ? `subgroupBroadcast(xv${Math.floor(r / L)}, ${r % L}u)` : `xv${r}`;
    body += `      let b${r} = ${src};\n`;
    for (let i = 0; i < cq; i++) {
      const comp = k.x4 ? `b${r}.${'xyzw'[i]}` : `b${r}`;
      body += `      acc${r} = fma(vec4f(${comp}), fq${i}, acc${r});\n`;
    }
  }
  let decl = '';
  for (let r = 0; r < R; r++) decl += `  var acc${r} = vec4f(0.0);\n`;
  const biasV = k.y4
    ? 'bias[co / 4u]'
    : `vec4f(${[0, 1, 2, 3].map((j) => `bias[min(co + ${j}u, p.CO - 1u)]`).join(', ')})`;
  // The stores run in a loop over a private copy of the accumulators: one (lane-by-lane) store in
  // the code instead of ROWS of them keeps the LLVM compile short.
  let store = `  let accs = array<vec4f, ${R}>(${Array.from({ length: R }, (_, r) => `acc${r}`).join(', ')});\n`;
  store += `  let last = min(p.M - m0, ${R}u);\n`;
  if (k.bias) store += `  let bv = ${biasV};\n`;
  store += `  for (var r = 0u; r < last; r++) {\n    let o = ${act4(k.act, k.bias ? 'accs[r] + bv' : 'accs[r]')};\n`;
  if (k.y4) store += '    y[((m0 + r) * p.CO + co) / 4u] = o;\n';
  else {
    for (let j = 0; j < 4; j++)
      store += `    if (co + ${j}u < p.CO) { y[(m0 + r) * p.CO + co + ${j}u] = o.${'xyzw'[j]}; }\n`;
  }
  store += '  }\n';
  const channels = `    for (var c = 0u; c < p.C; c += ${cq}u) {
${body}      fr += ${cq}u * co4;
    }
`;
  // Pointwise: no window loops and no index arithmetic (divisions by the output width are
  // per-lane scalar divisions on lavapipe).
  const loops = k.pointwise
    ? `  {\n    var fr = cq;\n${channels}  }\n`
    : `  for (var ky = 0u; ky < p.KH; ky++) {
  for (var kx = 0u; kx < p.KW; kx++) {
${tap}    var fr = (ky * p.KW + kx) * p.C * co4 + cq;
${channels}  }
  }
`;
  return `${k.sg ? '' : `  let sgi = lid % ${L}u;\n  let sgid = lid / ${L}u;\n`}  let rb = wid.y + wid.z * nwg.y;
  if (rb >= p.rowBlocks) { return; }
  let m0 = rb * ${R}u;
  let co = (wid.x * ${k.groups}u + sgid) * ${4 * L}u + sgi * 4u;
  let co4 = (p.CO + 3u) / 4u;
  let cq = min(co / 4u, co4 - 1u);
${pre}${decl}${loops}  if (co >= p.CO) { return; }
${store}`;
}

/** A 1x1 stride-1 window without padding or dilation: the conv is a product [pixels, Cin] x [Cin, Cout]. */
function isPointwise(a: WindowDispatch): boolean {
  return (
    a.kh === 1 &&
    a.kw === 1 &&
    a.sh === 1 &&
    a.sw === 1 &&
    a.padT === 0 &&
    a.padL === 0 &&
    a.dh === 1 &&
    a.dw === 1 &&
    a.oh === a.h &&
    a.ow === a.w
  );
}

/** The weight-stationary kernel that runs a pointwise conv, with its plan. */
type PointwisePlan = { ws: PointwiseWsPlan } | { mws: MatmulWsPlan };

/**
 * The weight-stationary kernel of a pointwise conv of `m` pixels on CPU adapters, unless a tile is
 * forced: the pointwise kernel (conv-pointwise.ts, Cin <= 144), else the weight-stationary matmul
 * (Cin > 144; 145-320 off lavapipe); undefined: the tile kernel.
 */
function pointwisePlan(m: number, a: Omit<ForwardArgs, 'precision'>, sg: number): PointwisePlan | undefined {
  if (tuning().convTile) return undefined;
  const ws = pointwiseWsPlan(m, a.c, a.co, sg);
  if (ws) return { ws };
  const mws = pointwiseMatmulPlan(m, a.c, a.co, !!a.bias, a.act, sg);
  return mws && { mws };
}

/** Runs the kernel `plan` names. */
function dispatchPointwise(args: PointwiseArgs, plan: PointwisePlan, sg: number): void {
  if ('ws' in plan) dispatchPointwiseWs(args, plan.ws, sg);
  else dispatchPointwiseMatmul(args, plan.mws, sg);
}

function dispatchConv(a: ConvCall): void {
  const sg = subgroupLanes('conv');
  const L = sg || 8;
  const m = a.n * a.oh * a.ow;
  const pointwise = isPointwise(a);
  const pw = pointwise && !a.half ? pointwisePlan(m, a, sg) : undefined;
  if (pw) {
    dispatchPointwise({ x: a.x, f: a.f, y: a.y, bias: a.bias, act: a.act, m, cin: a.c, co: a.co }, pw, sg);
    return;
  }
  const wws = !pointwise && !a.half && !tuning().convTile ? windowWsPlan(a, a.c, a.co, sg) : undefined;
  if (wws) {
    dispatchWindowWs(a, wws, sg);
    return;
  }
  // Windowed convs: 16 rows measured best (bench case 'conv2d [64,48,48,32] 3x3x32->64 same');
  // 8 when Cout % 4 != 0, whose scalar stores make the kernel slow to compile; at least one row per
  // lane. Pointwise convs: 32 rows in one subgroup per workgroup measured 5-11% faster on
  // MobileNetV2 (batch 1-64) than 16 rows in two.
  // Then the autotuned winner of the shape class (subgroup tiles; see autotune-conv.ts).
  const tile =
    tuning().convTile ??
    (sg ? convTileTuned(a, a.c, a.co, pointwise) : undefined) ??
    (sg && pointwise && a.co % 4 === 0
      ? { rows: 32, groups: 1 }
      : { rows: sg ? (a.co % 4 === 0 ? 16 : 8) : 4, groups: a.co > 4 * L ? 2 : 1 });
  const k: ConvKernel = {
    rows: sg ? Math.max(tile.rows, sg) : tile.rows,
    groups: tile.groups,
    sg,
    x4: a.c % 4 === 0,
    y4: a.co % 4 === 0,
    dilated: a.dh > 1 || a.dw > 1,
    pointwise,
    bias: !!a.bias,
    act: a.act,
    ...(a.half ? { half: true } : {}),
  };
  const rowBlocks = Math.ceil(m / k.rows);
  const gy = Math.min(rowBlocks, 65535);
  convKernel.run({
    constants: k,
    buffers: { x: a.x, f: a.f, y: a.y, bias: a.bias },
    uniforms: { ...convHead(a, a.c, a.co), M: m, dh: a.dh, dw: a.dw, rowBlocks, KH: a.kh, KW: a.kw },
    workgroups: [Math.ceil(a.co / (4 * L * k.groups)), gy, Math.ceil(rowBlocks / gy)],
  });
}

/**
 * The filter as the conv kernel reads it: [taps, C, CO rounded up to 4], zero-padded columns;
 * with `flip`, f'[ky,kx,co,ci] = f[kh-1-ky, kw-1-kx, ci, co] (the input gradient's filter).
 */
const prepareKernel = defineKernel({
  name: 'conv2d_prepare_filter',
  bindings: { f: 'read f32', o: 'rw f32' },
  uniforms: { taps: 'u32', ci: 'u32', co: 'u32', d4: 'u32', n: 'u32' },
  workgroupSize: 64,
  index: { total: 'n' },
  body: ({ flip }: { flip: boolean }) => `  let j = i % p.d4;
  let c = (i / p.d4) % ${flip ? 'p.co' : 'p.ci'};
  let t = i / (p.d4 * ${flip ? 'p.co' : 'p.ci'});
  ${flip ? 'let src = (p.taps - 1u - t) * p.ci * p.co + min(j, p.ci - 1u) * p.co + c;\n  o[i] = select(0.0, f[src], j < p.ci);' : 'let src = (t * p.ci + c) * p.co + min(j, p.co - 1u);\n  o[i] = select(0.0, f[src], j < p.co);'}`,
});

function prepareFilter(f: Tensor, flip: boolean): Tensor {
  const [kh, kw, ci, co] = f.shape;
  const [c, d] = flip ? [co, ci] : [ci, co];
  const d4 = Math.ceil(d / 4) * 4;
  const out = emptyTensor([kh * kw, c, d4], 'float32');
  prepareKernel.run({
    constants: { flip },
    buffers: { f, o: out },
    uniforms: { taps: kh * kw, ci, co, d4, n: out.size },
    workgroups: grid(out.size, 64),
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Public ops.

/**
 * act(conv2d(x, filter) + bias): x [N,H,W,Cin], filter [kh,kw,Cin,Cout] -> [N,OH,OW,Cout].
 * Padding 'same' uses TensorFlow's arithmetic (stride 2 on even sizes pads 0 before, 1 after).
 * `opts.precision` 'f16' reads x and the filter as half-precision copies where the adapter has
 * shader-f16 (forward only; see ConvOptions and conv-f16.ts).
 */
export function conv2d(
  x: Tensor,
  filter: Tensor,
  strides: Strides,
  padding: Padding,
  opts: ConvOptions = {},
): Tensor {
  return forwardOp(CONV2D, x, filter, strides, padding, opts, (y, win, a) => {
    const [kh, kw] = filter.shape;
    const [cp, co4] = [quad(a.c), quad(a.co)];
    const m = x.size / a.c;
    if (convUsesF16(a.precision, m * cp, kh * kw * cp * co4)) {
      const xh = halfCopy(x, 1, m, a.c, m, cp);
      const fh = halfCopy(filter, kh * kw, a.c, a.co, cp, co4);
      dispatchConv({ ...win, ...a, c: cp, x: xh, f: fh, y, half: true });
      xh.dispose();
      fh.dispose();
      return;
    }
    const f4 = a.co % 4 === 0 ? filter : prepareFilter(filter, false);
    dispatchConv({ ...win, ...a, x, f: f4, y });
    if (f4 !== filter) f4.dispose();
  });
}

/**
 * conv2d in inference with an inference batch norm folded in by the kernel (bn-inline.ts), for
 * the pointwise convs that the weight-stationary kernels run in f32 (conv-pointwise.ts,
 * matmul-ws.ts), plus `residual` (of the output's shape, added after the activation) when given;
 * undefined (nothing run) for any other conv or residual, which the caller then runs on weights
 * folded by fold.ts (and adds). Not recorded on a gradient tape.
 */
export function conv2dFoldedBn(
  x: Tensor,
  filter: Tensor,
  strides: Strides,
  padding: Padding,
  opts: ConvOptions,
  bn: InlineBatchNorm,
  residual?: Tensor,
): Tensor | undefined {
  return forwardFolded(
    CONV2D,
    x,
    filter,
    strides,
    padding,
    opts,
    (win, a) => {
      if (!isPointwise(win) || a.precision !== 'f32') return undefined;
      const shape = [win.n, win.oh, win.ow, a.co];
      if (residual && (residual.dtype !== 'float32' || residual.shape.some((d, i) => d !== shape[i])))
        return undefined;
      const sg = subgroupLanes('conv');
      const m = win.n * win.oh * win.ow;
      const kernel = pointwisePlan(m, a, sg);
      // The matmul adds a residual only after its private partial sums (lavapipe's plans).
      if (!kernel || (residual && 'mws' in kernel && !kernel.mws.rows)) return undefined;
      return { kernel, m, sg };
    },
    (y, _win, a, p) => {
      const args = {
        x,
        f: filter,
        y,
        bias: a.bias,
        act: a.act,
        m: p.m,
        cin: a.c,
        co: a.co,
        bn,
        res: residual,
      };
      dispatchPointwise(args, p.kernel, p.sg);
    },
  );
}

/**
 * The gradient of conv2d w.r.t. its input: dy [N,OH,OW,Cout], filter [kh,kw,Cin,Cout] ->
 * [N,H,W,Cin] = inputShape. Runs the forward kernel on dy dilated by the strides (without
 * materialising it) with the flipped, transposed filter.
 */
export function conv2dBackpropInput(
  dy: Tensor,
  filter: Tensor,
  inputShape: readonly number[],
  strides: Strides,
  padding: Padding,
): Tensor {
  return inputGradOp(CONV2D, dy, filter, inputShape, strides, padding, (dx, g) => {
    const [, , ci, co] = filter.shape;
    const flipped = prepareFilter(filter, true);
    dispatchConv({ ...inputGradWindow(g), x: dy, f: flipped, y: dx, act: 'linear', c: co, co: ci });
    flipped.dispose();
  });
}
