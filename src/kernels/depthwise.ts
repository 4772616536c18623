import { deviceFacts } from '../tensor/device-info.js';
import { ArgumentError } from '../tensor/errors.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { type Activation, act4 } from './activation.js';
import { depthwiseStripTuned } from './autotune-conv.js';
import {
  type BnConstant,
  bnBindings,
  bnBuffers,
  bnConstant,
  bnScaleShift,
  type InlineBatchNorm,
} from './bn-inline.js';
import {
  type ConvOptions,
  DEPTHWISE,
  DW_HEAD,
  dwHead,
  inputGradWindow,
  type Padding,
  type Strides,
  type WindowDispatch,
} from './conv-args.js';
import { convUsesF16, halfCopy, quad } from './conv-f16.js';
import { forwardFolded, forwardOp, inputGradOp } from './conv-ops.js';
import { depthwiseGradStrided, dwGradStridedTakes } from './depthwise-grad-strided.js';
import { type BindingSpec, defineKernel, type UniformType } from './program.js';
import { stripLoop } from './strip-ws.js';
import { type Tuning, tuning } from './tuning.js';
import { grid } from './util.js';

/**
 * Depthwise 2-D convolution, NHWC, filter [kh, kw, C, multiplier]: output channel c*mult + m is
 * input channel c convolved with filter[:, :, c, m]. Plus its gradients w.r.t. input and filter.
 *
 * Loads dominate on lavapipe (see conv.ts), so the forward kernel for multiplier 1 and C % 4 == 0
 * (every MobileNet depthwise layer) gives each lane 4 channels of a strip of neighbouring output
 * columns and walks it down the image, keeping the window rows that consecutive output rows share
 * in registers: every input quad is loaded about once per strip. Other shapes and the input
 * gradient use a plain kernel, one output (quad) per lane, except the input gradient of equal
 * strides of 2-4 (depthwise-grad-strided.ts). The filter gradient is in depthwise-grad.ts. The
 * strip kernel can fold an inference batch norm itself (bn-inline.ts, `depthwiseConv2dFoldedBn`).
 */

export { depthwiseConv2dBackpropFilter } from './depthwise-grad.js';

/** The uniforms of the forward and input-gradient kernels (the strip kernel adds two). */
const DW_UNIFORMS = {
  ...DW_HEAD,
  dh: 'u32',
  dw: 'u32',
  KH: 'u32',
  KW: 'u32',
  n: 'u32',
} as const satisfies Record<string, UniformType>;

/** x, f, y and the optional bias, all of one element type. */
function dwBindings(T: 'vec4f' | 'f32', bias: boolean): Record<'x' | 'f' | 'y' | 'bias', BindingSpec | null> {
  const read: BindingSpec = `read ${T}`;
  return { x: read, f: read, y: `rw ${T}`, bias: bias ? read : null };
}

/** The bindings with x and f as f16 (quads with `vec`) when `half`. */
function halfBindings(
  b: Record<'x' | 'f' | 'y' | 'bias', BindingSpec | null>,
  half: boolean | undefined,
  vec: boolean,
): Record<'x' | 'f' | 'y' | 'bias', BindingSpec | null> {
  if (!half) return b;
  const read: BindingSpec = vec ? 'read vec4<f16>' : 'read f16';
  return { ...b, x: read, f: read };
}

interface DwCall extends WindowDispatch {
  x: Tensor;
  f: Tensor;
  y: Tensor;
  bias?: Tensor;
  act: Activation;
  /** Source channels, output channels and the multiplier. */
  cs: number;
  co: number;
  mult: number;
  /** A batch norm the strip kernel folds in (only where `stripTakes` holds, in f32). */
  bn?: InlineBatchNorm;
}

/** The uniform values of `a` for `n` lanes. */
function dwUniforms(a: DwCall, n: number) {
  return { ...dwHead(a, a.cs, a.co, a.mult), dh: a.dh, dw: a.dw, KH: a.kh, KW: a.kw, n };
}

export type StripKernel = {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  /** Output pixels per lane along the row. */
  px: number;
  bias: boolean;
  act: Activation;
  /** x and f are f16 copies (conv-f16.ts), converted as loaded; absent for the f32 kernels. */
  half?: boolean;
  /** Lanes walk `p.imgs` images (the uniform); absent: one image. */
  imgs?: boolean;
  /** A batch norm folded in by the kernel (bn-inline.ts; f32 only); absent: none. */
  bn?: BnConstant;
};

/**
 * Forward kernel, multiplier 1, channels as vec4: a lane owns one channel quad of a strip of px
 * output columns and walks down `rows` output rows, in each of `imgs` consecutive images. The
 * window rows shared by consecutive output rows (kh - sh of them) stay in registers, so each
 * iteration loads only sh new input rows of (px-1)*sw + kw quads; the loop keeps the code (and
 * lavapipe's compile time) small.
 */
export const stripKernel = defineKernel({
  name: 'depthwise_strip',
  bindings: (k: StripKernel) => ({
    ...halfBindings(dwBindings('vec4f', k.bias), k.half, true),
    ...bnBindings(k.bn),
  }),
  enables: (k) => (k.half ? ['f16'] : []),
  uniforms: { ...DW_UNIFORMS, owb: 'u32', rows: 'u32', imgs: 'u32', N: 'u32' },
  workgroupSize: 64,
  index: { total: 'n' },
  body: stripBody,
});

function stripBody(k: StripKernel): string {
  const load = (e: string) => (k.half ? `vec4f(${e})` : e);
  const cols = (k.px - 1) * k.sw + k.kw;
  const fresh = Math.min(k.sh, k.kh); // window rows loaded per output row
  const carry = k.kh - fresh;
  const loadRow = (ky: number, oy: string, indent: string) => {
    let t = `${indent}{
${indent}  let iy = i32(${oy} * ${k.sh}u + ${ky}u) - p.padT;
${indent}  let rowOk = iy >= 0 && iy < i32(p.H);
${indent}  let rowBase = (b * p.H + u32(max(iy, 0))) * p.W;
`;
    for (let j = 0; j < cols; j++) {
      t += `${indent}  let ok${j} = rowOk && ix0 + ${j} >= 0 && ix0 + ${j} < i32(p.W);
${indent}  w${ky}_${j} = select(vec4f(0.0), ${load(`x[select(0u, (rowBase + u32(ix0 + ${j})) * p.CS + cq, ok${j})]`)}, ok${j});
`;
    }
    return `${t}${indent}}\n`;
  };
  let decl = k.bn ? bnScaleShift(k.bn, 'bn', 'cq', k.bias ? 'bias[cq]' : null) : '';
  const scale = k.bn ? ' * bns' : '';
  for (let t = 0; t < k.kh * k.kw; t++) decl += `  let f${t} = ${load(`f[${t}u * p.CS + cq]`)}${scale};\n`;
  for (let ky = 0; ky < k.kh; ky++)
    for (let j = 0; j < cols; j++) decl += `  var w${ky}_${j} = vec4f(0.0);\n`;
  let pro = '';
  for (let ky = 0; ky < carry; ky++) pro += loadRow(ky, 'oy0', '  ');
  let body = '';
  for (let ky = carry; ky < k.kh; ky++) body += loadRow(ky, 'oy', '    ');
  for (let j = 0; j < k.px; j++) {
    body += `    var a${j} = ${k.bias || k.bn ? 'bv' : 'vec4f(0.0)'};\n`;
    for (let ky = 0; ky < k.kh; ky++)
      for (let kx = 0; kx < k.kw; kx++)
        body += `    a${j} = fma(w${ky}_${j * k.sw + kx}, f${ky * k.kw + kx}, a${j});\n`;
    body += `    if (ox0 + ${j}u < p.OW) { y[orow + (ox0 + ${j}u) * p.CS] = ${act4(k.act, `a${j}`)}; }\n`;
  }
  for (let ky = 0; ky < carry; ky++)
    for (let j = 0; j < cols; j++) body += `    w${ky}_${j} = w${ky + fresh}_${j};\n`;
  const head = `  let cq = i % p.CS;
  let blk = i / p.CS;
  let ox0 = (blk % p.owb) * ${k.px}u;
  let r = blk / p.owb;
  let ohb = (p.OH + p.rows - 1u) / p.rows;
  let oy0 = (r % ohb) * p.rows;
  let oy1 = min(oy0 + p.rows, p.OH);
  let bi = r / ohb;
  let ix0 = i32(ox0 * ${k.sw}u) - p.padL;
${decl}${k.bn ? '  let bv = bnt;\n' : k.bias ? '  let bv = bias[cq];\n' : ''}`;
  // The image walk of the fused strip kernels (same `imgs` and `N` uniforms), compiled in only
  // when used: in every kernel it made SwiftShader's first MobileNetV2 compile 40 s slower.
  const orow = '    let orow = ((b * p.OH + oy) * p.OW) * p.CS + cq;\n';
  return `${head}${stripLoop(!!k.imgs, pro, orow + body)}`;
}

export type PlainKernel = {
  /** Channels as vec4 (multiplier 1, C % 4 == 0). */
  vec: boolean;
  /** The input gradient (source dy dilated by (dh, dw), flipped filter, summing the multiplier). */
  back: boolean;
  bias: boolean;
  act: Activation;
  /** [kh, kw, dh, dw] baked into the source, or null (read from the uniforms). */
  baked: readonly number[] | null;
  /** x and f are f16 copies (conv-f16.ts), converted as loaded; absent for the f32 kernels. */
  half?: boolean;
};

/** The plain kernel: one output element (or quad, `vec`) per lane, every tap loaded. */
export const plainKernel = defineKernel({
  name: 'depthwise_plain',
  bindings: (k: PlainKernel) => halfBindings(dwBindings(k.vec ? 'vec4f' : 'f32', k.bias), k.half, k.vec),
  uniforms: DW_UNIFORMS,
  enables: (k) => (k.half ? ['f16'] : []),
  workgroupSize: 64,
  index: { total: 'n' },
  body: plainBody,
});

function plainBody({ vec, back, bias, act, baked, half }: PlainKernel): string {
  const T = vec ? 'vec4f' : 'f32';
  const load = (e: string) => (half ? `${T}(${e})` : e);
  // Window and dilation as constants when baked: the input gradient's divisions and remainders by
  // the stride then compile to shifts, and the tap loops to a few unrolled steps.
  const [KH, KW, DH, DW] = baked ? baked.map((v) => `${v}u`) : ['p.KH', 'p.KW', 'p.dh', 'p.dw'];
  // Source channel and filter index of multiplier slot m for output channel d.
  const src = back ? 'd * p.M + m' : 'd / p.M';
  const fidx = back ? 't * p.CO * p.M + d * p.M + m' : 't * p.CO + d';
  // Only the scalar input gradient sums over the multiplier (vec implies multiplier 1).
  const mLoop = back && !vec;
  const valid = back
    ? `let sy = iy + i32(ky);
      let sx = ix + i32(kx);
      let yy = u32(sy) / ${DH};
      let xx = u32(sx) / ${DW};
      let ok = sy >= 0 && sx >= 0 && u32(sy) % ${DH} == 0u && u32(sx) % ${DW} == 0u && yy < p.H && xx < p.W;`
    : `let yy = u32(iy + i32(ky));
      let xx = u32(ix + i32(kx));
      let ok = yy < p.H && xx < p.W;`;
  const out = bias ? 'acc + bias[d]' : 'acc';
  return `  let d = i % p.CO;
  let pix = i / p.CO;
  let ox = pix % p.OW;
  let r = pix / p.OW;
  let iy = i32((r % p.OH) * p.sh) - p.padT;
  let ix = i32(ox * p.sw) - p.padL;
  let base = (r / p.OH) * p.H;
  var acc = ${T}(0.0);
  ${
    back
      ? `// Only taps that land on a dy row/column (a multiple of the stride) contribute.
  let ky0 = u32((i32(${DH}) - iy % i32(${DH})) % i32(${DH}));
  let kx0 = u32((i32(${DW}) - ix % i32(${DW})) % i32(${DW}));
  for (var ky = ky0; ky < ${KH}; ky += ${DH}) {
    for (var kx = kx0; kx < ${KW}; kx += ${DW}) {`
      : `for (var ky = 0u; ky < ${KH}; ky++) {
    for (var kx = 0u; kx < ${KW}; kx++) {`
  }
      ${valid}
      let t = ${back ? `(${KH} - 1u - ky) * ${KW} + (${KW} - 1u - kx)` : `ky * ${KW} + kx`};
      let sb = select(0u, ((base + yy) * p.W + xx) * p.CS, ok);
      ${mLoop ? 'for (var m = 0u; m < p.M; m++) {' : '{ let m = 0u;'}
        acc = fma(select(${T}(0.0), ${load(`x[sb + ${src}]`)}, ok), ${load(`f[${fidx}]`)}, acc);
      }
    }
  }
  y[i] = ${vec ? act4(act, out) : act4(act, out).replace(/vec4f/g, 'f32')};`;
}

/** Whether the forward strip kernel runs a depthwise conv of this window (multiplier 1, C % 4 == 0). */
function stripTakes(a: WindowDispatch, cs: number, mult: number): boolean {
  return mult === 1 && cs % 4 === 0 && a.kh * a.kw <= 25 && a.sh <= 4 && a.sw <= 4;
}

function runDepthwise(a: DwCall, back: boolean, half = false): void {
  const vec = a.mult === 1 && a.cs % 4 === 0;
  const fast = !back && stripTakes(a, a.cs, a.mult);
  if (a.bn && (!fast || half))
    throw new ArgumentError('depthwise: a batch norm folds only into the f32 strip kernel');
  const q = vec ? 4 : 1;
  const call = { ...a, cs: a.cs / q, co: a.co / q };
  const buffers = { x: a.x, f: a.f, y: a.y, bias: a.bias };
  if (fast) {
    // 2 pixels per lane and whole columns measured best on [64,48,48,144] (bench case
    // 'depthwiseConv2d [64,48,48,144] 3x3 stride 1 same'); fewer rows per lane only when that
    // leaves too few lanes (~4096) to fill the threads. With a column stride, 1 pixel per lane:
    // neighbours share only kw - sw columns, and px 2 at stride 2 (15 live window quads instead
    // of 9) ran 1.2-2x slower than px 1.
    const strip: Tuning['depthwiseStrip'] = tuning().depthwiseStrip ?? depthwiseStripTuned(a, a.cs);
    const px = strip?.px ?? (a.sw > 1 ? 1 : Math.min(2, a.ow));
    const base = a.n * Math.ceil(a.ow / px) * call.cs;
    const rows = strip?.rows ?? Math.ceil(a.oh / Math.min(a.oh, Math.ceil(4096 / base)));
    const owb = Math.ceil(a.ow / px);
    // Whole columns: a lane walks the same column strip down up to 8 images, so its filter taps
    // and bias are loaded once for all of them, while ~4096 lanes remain (interleaved on lavapipe,
    // batch 64, 1 -> 8 images: [48,48,144] 29.6 -> 27.0 ms, [12,12,576] 14.7 -> 12.6, [6,6,960]
    // 10.1 -> 7.8, stride 2 [24,24,144] 22.6 -> 18.3; MobileNetV2 b64 median 693 -> 665 ms).
    // lavapipe only, where it was measured: a GPU wants the lanes, and SwiftShader (Chromium's
    // software adapter) compiles the image loop slowly.
    const most = rows >= a.oh && deviceFacts().lavapipe ? 8 : 1;
    const imgs = strip?.imgs ?? Math.max(1, Math.min(most, Math.floor((a.n * owb * call.cs) / 4096)));
    const n = Math.ceil(a.n / imgs) * Math.ceil(a.oh / rows) * owb * call.cs;
    stripKernel.run({
      constants: {
        kh: a.kh,
        kw: a.kw,
        sh: a.sh,
        sw: a.sw,
        px,
        bias: !!a.bias,
        act: a.act,
        ...(half ? { half } : {}),
        ...(imgs > 1 ? { imgs: true } : {}),
        ...(a.bn ? { bn: bnConstant(a.bn) } : {}),
      },
      buffers: { ...buffers, ...bnBuffers(a.bn) },
      uniforms: { ...dwUniforms(call, n), owb, rows, imgs, N: a.n },
      workgroups: grid(n, 64),
    });
    return;
  }
  const n = a.n * a.oh * a.ow * call.co;
  // Window and dilation as constants for the input gradient: its divisions and remainders by the
  // stride then compile to shifts, and the tap loops to a few unrolled steps.
  const baked = back && a.kh <= 7 && a.kw <= 7 && a.dh <= 4 && a.dw <= 4 ? [a.kh, a.kw, a.dh, a.dw] : null;
  plainKernel.run({
    constants: { vec, back, bias: !!a.bias, act: a.act, baked, ...(half ? { half } : {}) },
    buffers,
    uniforms: dwUniforms(call, n),
    workgroups: grid(n, 64),
  });
}

// ---------------------------------------------------------------------------------------------
// Public ops.

/** f'[ky, kx] = f[kh-1-ky, kw-1-kx] (per channel and multiplier). */
const flipKernel = defineKernel({
  name: 'depthwise_flip',
  bindings: { f: 'read f32', o: 'rw f32' },
  uniforms: { taps: 'u32', per: 'u32', n: 'u32' },
  workgroupSize: 64,
  index: { total: 'n' },
  body: () => '  o[i] = f[(p.taps - 1u - i / p.per) * p.per + i % p.per];',
});

function flipWindow(f: Tensor): Tensor {
  const [kh, kw, c, m] = f.shape;
  const out = emptyTensor(f.shape, 'float32');
  flipKernel.run({
    buffers: { f, o: out },
    uniforms: { taps: kh * kw, per: c * m, n: f.size },
    workgroups: grid(f.size, 64),
  });
  return out;
}

/**
 * act(depthwiseConv2d(x, filter) + bias): x [N,H,W,C], filter [kh,kw,C,mult] ->
 * [N,OH,OW,C*mult]; padding and strides as conv2d. `opts.precision` 'f16' reads x and the filter
 * as half-precision copies where the adapter has shader-f16, read by the same kernels (forward
 * only; see ConvOptions and conv-f16.ts).
 */
export function depthwiseConv2d(
  x: Tensor,
  filter: Tensor,
  strides: Strides,
  padding: Padding,
  opts: ConvOptions = {},
): Tensor {
  return forwardOp(DEPTHWISE, x, filter, strides, padding, opts, (y, win, a) => {
    const call = {
      ...win,
      x,
      f: filter,
      y,
      bias: a.bias,
      act: a.act,
      cs: a.c,
      co: a.co,
      mult: filter.shape[3],
    };
    if (!convUsesF16(a.precision, quad(x.size), quad(filter.size))) {
      runDepthwise(call, false);
      return;
    }
    // Flat copies (no channel padding: the kernels read quads only when C % 4 == 0).
    const xh = halfCopy(x, 1, 1, x.size, 1, quad(x.size));
    const fh = halfCopy(filter, 1, 1, filter.size, 1, quad(filter.size));
    runDepthwise({ ...call, x: xh, f: fh }, false, true);
    xh.dispose();
    fh.dispose();
  });
}

/**
 * depthwiseConv2d in inference with an inference batch norm folded in by the strip kernel
 * (bn-inline.ts: multiplier 1, channels a multiple of 4, f32); undefined (nothing run) for any
 * other depthwise conv, which the caller then runs on weights folded by fold.ts. Not recorded on
 * a gradient tape.
 */
export function depthwiseConv2dFoldedBn(
  x: Tensor,
  filter: Tensor,
  strides: Strides,
  padding: Padding,
  opts: ConvOptions,
  bn: InlineBatchNorm,
): Tensor | undefined {
  const mult = filter.shape[3];
  return forwardFolded(
    DEPTHWISE,
    x,
    filter,
    strides,
    padding,
    opts,
    (win, a) => (a.precision === 'f32' && stripTakes(win, a.c, mult) ? true : undefined),
    (y, win, a) => {
      runDepthwise({ ...win, x, f: filter, y, bias: a.bias, act: a.act, cs: a.c, co: a.co, mult, bn }, false);
    },
  );
}

/** The gradient of depthwiseConv2d w.r.t. its input: -> inputShape [N,H,W,C]. */
export function depthwiseConv2dBackpropInput(
  dy: Tensor,
  filter: Tensor,
  inputShape: readonly number[],
  strides: Strides,
  padding: Padding,
): Tensor {
  return inputGradOp(DEPTHWISE, dy, filter, inputShape, strides, padding, (dx, g) => {
    const [, , c, mult] = filter.shape;
    // Equal strides of 2-4: the strided kernel (a lane per block of s x s input pixels).
    if (dwGradStridedTakes(g, mult)) {
      depthwiseGradStrided(dy, filter, dx, g);
      return;
    }
    // Stride 1: the forward kernels on dy with the window flipped. Otherwise the plain kernel
    // gathers from dy dilated by the strides.
    const flip = g.sh === 1 && g.sw === 1 && mult === 1;
    const f = flip ? flipWindow(filter) : filter;
    const win = inputGradWindow(g);
    runDepthwise({ ...win, x: dy, f, y: dx, act: 'linear', cs: c * mult, co: c, mult }, !flip);
    if (f !== filter) f.dispose();
  });
}
