import { fmtShape, ShapeError } from '../tensor/errors.js';
import type { ConvAttrs, ConvFilterGradAttrs, ConvInputGradAttrs } from '../tensor/op-table.js';
import { runKernel } from '../tensor/queue.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { type Activation, act4, assertActivation } from './activation.js';
import {
  assertOutputBindable,
  type ConvOptions,
  intParams,
  type Padding,
  type Strides,
  sumParts,
} from './conv.js';
import {
  type ConvFamily,
  checkBackprop,
  checkFloat4,
  checkInChannels,
  geometry,
  padAttr,
} from './conv-args.js';
import { fillKernel } from './fill.js';
import { assertDTypeIn, assertTensor, grid, linearIndex, whole } from './util.js';

/**
 * Depthwise 2-D convolution, NHWC, filter [kh, kw, C, multiplier]: output channel c*mult + m is
 * input channel c convolved with filter[:, :, c, m]. Plus its gradients w.r.t. input and filter.
 *
 * Loads dominate on lavapipe (see conv.ts), so the forward kernel for multiplier 1 and C % 4 == 0
 * (every MobileNet depthwise layer) gives each lane 4 channels of a strip of neighbouring output
 * columns and walks it down the image, keeping the window rows that consecutive output rows share
 * in registers: every input quad is loaded about once per strip. Other shapes and the input
 * gradient use a plain kernel, one output (quad) per lane.
 */

const DW_PARAMS = `struct P {
  H: u32, W: u32, CS: u32, OH: u32, OW: u32, CO: u32, M: u32, sh: u32, sw: u32, padT: i32,
  padL: i32, dh: u32, dw: u32, KH: u32, KW: u32, n: u32, owb: u32, rows: u32,
}`;

interface DwCall {
  x: Tensor;
  f: Tensor;
  y: Tensor;
  bias?: Tensor;
  act: Activation;
  /** Source (x, or dy for the input gradient) and output geometry. */
  h: number;
  w: number;
  cs: number;
  oh: number;
  ow: number;
  co: number;
  mult: number;
  n: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  padT: number;
  padL: number;
  dh: number;
  dw: number;
}

/** The uniform block; `owb` (strips per output row) and `rows` (rows per lane): strip kernel only. */
function params(a: DwCall, n: number, owb = 0, rows = 0): ArrayBuffer {
  return intParams(
    a.h,
    a.w,
    a.cs,
    a.oh,
    a.ow,
    a.co,
    a.mult,
    a.sh,
    a.sw,
    a.padT,
    a.padL,
    a.dh,
    a.dw,
    a.kh,
    a.kw,
    n,
    owb,
    rows,
  );
}

function bindings(vec: boolean, bias: boolean): string {
  const T = vec ? 'vec4f' : 'f32';
  return `@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read> f: array<${T}>;
@group(0) @binding(2) var<storage, read_write> y: array<${T}>;
${bias ? `@group(0) @binding(3) var<storage, read> bias: array<${T}>;\n` : ''}@group(0) @binding(${bias ? 4 : 3}) var<uniform> p: P;`;
}

let stripOverride: { px: number; rows: number } | undefined;
/** @internal Tuning: pixels and rows per lane of the strip kernel. */
export function setDepthwiseStrip(t: { px: number; rows: number } | undefined): void {
  stripOverride = t;
}

export interface StripKernel {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  /** Output pixels per lane along the row. */
  px: number;
  bias: boolean;
  act: Activation;
}

/**
 * Forward kernel, multiplier 1, channels as vec4: a lane owns one channel quad of a strip of px
 * output columns and walks down `rows` output rows. The window rows shared by consecutive output
 * rows (kh - sh of them) stay in registers, so each iteration loads only sh new input rows of
 * (px-1)*sw + kw quads; the loop keeps the code (and lavapipe's compile time) small.
 */
export function stripKernel(k: StripKernel): string {
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
${indent}  w${ky}_${j} = select(vec4f(0.0), x[select(0u, (rowBase + u32(ix0 + ${j})) * p.CS + cq, ok${j})], ok${j});
`;
    }
    return `${t}${indent}}\n`;
  };
  let decl = '';
  for (let t = 0; t < k.kh * k.kw; t++) decl += `  let f${t} = f[${t}u * p.CS + cq];\n`;
  for (let ky = 0; ky < k.kh; ky++)
    for (let j = 0; j < cols; j++) decl += `  var w${ky}_${j} = vec4f(0.0);\n`;
  let pro = '';
  for (let ky = 0; ky < carry; ky++) pro += loadRow(ky, 'oy0', '  ');
  let body = '';
  for (let ky = carry; ky < k.kh; ky++) body += loadRow(ky, 'oy', '    ');
  for (let j = 0; j < k.px; j++) {
    body += `    var a${j} = ${k.bias ? 'bv' : 'vec4f(0.0)'};\n`;
    for (let ky = 0; ky < k.kh; ky++)
      for (let kx = 0; kx < k.kw; kx++)
        body += `    a${j} = fma(w${ky}_${j * k.sw + kx}, f${ky * k.kw + kx}, a${j});\n`;
    body += `    if (ox0 + ${j}u < p.OW) { y[orow + (ox0 + ${j}u) * p.CS] = ${act4(k.act, `a${j}`)}; }\n`;
  }
  for (let ky = 0; ky < carry; ky++)
    for (let j = 0; j < cols; j++) body += `    w${ky}_${j} = w${ky + fresh}_${j};\n`;
  return `${DW_PARAMS}
${bindings(true, k.bias)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${linearIndex(64)};
  if (i >= p.n) { return; }
  let cq = i % p.CS;
  let blk = i / p.CS;
  let ox0 = (blk % p.owb) * ${k.px}u;
  let r = blk / p.owb;
  let ohb = (p.OH + p.rows - 1u) / p.rows;
  let oy0 = (r % ohb) * p.rows;
  let oy1 = min(oy0 + p.rows, p.OH);
  let b = r / ohb;
  let ix0 = i32(ox0 * ${k.sw}u) - p.padL;
${k.bias ? '  let bv = bias[cq];\n' : ''}${decl}${pro}  for (var oy = oy0; oy < oy1; oy++) {
    let orow = ((b * p.OH + oy) * p.OW) * p.CS + cq;
${body}  }
}`;
}

/**
 * The plain kernel: one output element (or quad, `vec`) per lane, every tap loaded. `back`: the
 * input gradient (source dy dilated by (dh, dw), flipped filter, summing the multiplier).
 */
export function plainKernel(
  vec: boolean,
  back: boolean,
  bias: boolean,
  act: Activation,
  baked?: { kh: number; kw: number; dh: number; dw: number },
): string {
  const T = vec ? 'vec4f' : 'f32';
  // Window and dilation as constants when baked: the input gradient's divisions and remainders by
  // the stride then compile to shifts, and the tap loops to a few unrolled steps.
  const [KH, KW, DH, DW] = baked
    ? [`${baked.kh}u`, `${baked.kw}u`, `${baked.dh}u`, `${baked.dw}u`]
    : ['p.KH', 'p.KW', 'p.dh', 'p.dw'];
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
  return `${DW_PARAMS}
${bindings(vec, bias)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${linearIndex(64)};
  if (i >= p.n) { return; }
  let d = i % p.CO;
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
        acc = fma(select(${T}(0.0), x[sb + ${src}], ok), f[${fidx}], acc);
      }
    }
  }
  y[i] = ${vec ? act4(act, out) : act4(act, out).replace(/vec4f/g, 'f32')};
}`;
}

function runDepthwise(a: DwCall, back: boolean): void {
  const vec = a.mult === 1 && a.cs % 4 === 0;
  const fast = !back && vec && a.kh * a.kw <= 25 && a.sh <= 4 && a.sw <= 4;
  const q = vec ? 4 : 1;
  const call = { ...a, cs: a.cs / q, co: a.co / q };
  const bufs = [whole(a.x), whole(a.f), whole(a.y), ...(a.bias ? [whole(a.bias)] : [])];
  if (fast) {
    // 2 pixels per lane and whole columns measured best on [64,48,48,144];
    // fewer rows per lane only when that leaves too few lanes (~4096) to fill the threads. With a
    // column stride, 1 pixel per lane: neighbours share only kw - sw columns, and px 2 at stride 2
    // (15 live window quads instead of 9) ran 1.2-2x slower than px 1.
    const px = stripOverride?.px ?? (a.sw > 1 ? 1 : Math.min(2, a.ow));
    const base = a.n * Math.ceil(a.ow / px) * call.cs;
    const rows = stripOverride?.rows ?? Math.ceil(a.oh / Math.min(a.oh, Math.ceil(4096 / base)));
    const k: StripKernel = { kh: a.kh, kw: a.kw, sh: a.sh, sw: a.sw, px, bias: !!a.bias, act: a.act };
    const owb = Math.ceil(a.ow / px);
    const n = a.n * Math.ceil(a.oh / rows) * owb * call.cs;
    runKernel({
      key: `depthwise_strip_${k.kh}x${k.kw}_${k.sh}x${k.sw}_${px}_${+k.bias}_${k.act}`,
      source: () => stripKernel(k),
      buffers: bufs,
      params: params(call, n, owb, rows),
      workgroups: grid(n, 64),
    });
    return;
  }
  const n = a.n * a.oh * a.ow * call.co;
  const baked =
    back && a.kh <= 7 && a.kw <= 7 && a.dh <= 4 && a.dw <= 4
      ? { kh: a.kh, kw: a.kw, dh: a.dh, dw: a.dw }
      : undefined;
  const bakedKey = baked ? `_${baked.kh}x${baked.kw}_${baked.dh}x${baked.dw}` : '';
  runKernel({
    key: `depthwise_plain_${+vec}_${+back}_${+!!a.bias}_${a.act}${bakedKey}`,
    source: () => plainKernel(vec, back, !!a.bias, a.act, baked),
    buffers: bufs,
    params: params(call, n),
    workgroups: grid(n, 64),
  });
}

/**
 * Filter gradient: each lane owns one output channel (quad) and a range of output rows, and keeps
 * one sum per tap (kh*kw baked); parts are added by a second pass.
 */
export function filterGradKernel(kh: number, kw: number, vec: boolean, sw = 0): string {
  const T = vec ? 'vec4f' : 'f32';
  // With the column stride baked (sw > 0), the window slides along the row: each step keeps the
  // kw - sw columns shared with the previous output pixel and loads sw new ones per window row,
  // instead of all kh * kw taps.
  const carry = sw > 0 ? Math.max(0, kw - sw) : 0;
  let decl = '';
  let body = '';
  let store = '';
  let pre = '';
  const load = (ky: number, j: number, col: string, indent: string) =>
    `${indent}{ let xx = u32(${col}); let ok = rowOk${ky} && xx < p.W; ` +
    `w${ky}_${j} = select(${T}(0.0), x[select(0u, (rowBase${ky} + xx) * p.CS + d / p.M, ok)], ok); }\n`;
  if (sw > 0) {
    for (let ky = 0; ky < kh; ky++) for (let j = 0; j < kw; j++) decl += `  var w${ky}_${j} = ${T}(0.0);\n`;
    for (let ky = 0; ky < kh; ky++) {
      pre += `    let yy${ky} = u32(iy + ${ky});\n    let rowOk${ky} = yy${ky} < p.H;\n    let rowBase${ky} = (b * p.H + yy${ky}) * p.W;\n`;
      // Columns 0 .. carry-1 of the first window, as if loaded by a step before it.
      for (let j = 0; j < carry; j++) pre += load(ky, j + sw, `-p.padL + ${j}`, '    ');
    }
    for (let ky = 0; ky < kh; ky++) {
      for (let j = 0; j < carry; j++) body += `      w${ky}_${j} = w${ky}_${j + sw};\n`;
      for (let j = carry; j < kw; j++) body += load(ky, j, `ix + ${j}`, '      ');
    }
  }
  for (let t = 0; t < kh * kw; t++) {
    const ky = Math.floor(t / kw);
    const kx = t % kw;
    decl += `  var a${t} = ${T}(0.0);\n`;
    if (sw > 0) body += `      a${t} = fma(w${ky}_${kx}, g, a${t});\n`;
    else
      body += `      {
        let yy = u32(iy + ${ky});
        let xx = u32(ix + ${kx});
        let ok = yy < p.H && xx < p.W;
        a${t} = fma(select(${T}(0.0), x[select(0u, ((b * p.H + yy) * p.W + xx) * p.CS + d / p.M, ok)], ok), g, a${t});
      }
`;
    store += `  o[(part * ${kh * kw}u + ${t}u) * p.CO + d] = a${t};\n`;
  }
  return `struct P {
  H: u32, W: u32, CS: u32, OH: u32, OW: u32, CO: u32, M: u32, sh: u32, sw: u32, padT: i32,
  padL: i32, rows: u32, rowsPerPart: u32, n: u32,
}
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read> dy: array<${T}>;
@group(0) @binding(2) var<storage, read_write> o: array<${T}>;
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${linearIndex(64)};
  if (i >= p.n) { return; }
  let d = i % p.CO;
  let part = i / p.CO;
  let r0 = part * p.rowsPerPart;
  let r1 = min(r0 + p.rowsPerPart, p.rows);
${decl}  for (var r = r0; r < r1; r++) {
    let b = r / p.OH;
    let iy = i32((r % p.OH) * p.sh) - p.padT;
${pre}    for (var ox = 0u; ox < p.OW; ox++) {
      let ix = i32(ox * p.sw) - p.padL;
      let g = dy[(r * p.OW + ox) * p.CO + d];
${body}    }
  }
${store}}`;
}

// ---------------------------------------------------------------------------------------------
// Public ops.

/** f'[ky, kx] = f[kh-1-ky, kw-1-kx] (per channel and multiplier). */
function flipWindow(f: Tensor): Tensor {
  const [kh, kw, c, m] = f.shape;
  const per = c * m;
  const out = emptyTensor(f.shape, 'float32');
  runKernel({
    key: 'depthwise_flip',
    source: () => `struct P { taps: u32, per: u32, n: u32 }
@group(0) @binding(0) var<storage, read> f: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${linearIndex(64)};
  if (i < p.n) { o[i] = f[(p.taps - 1u - i / p.per) * p.per + i % p.per]; }
}`,
    buffers: [whole(f), whole(out)],
    params: intParams(kh * kw, per, f.size),
    workgroups: grid(f.size, 64),
  });
  return out;
}

const DEPTHWISE: ConvFamily = {
  forward: 'depthwiseConv2d',
  argError: ShapeError,
  outChannels: (f) => f[2] * f[3],
};

function checkOpts(opts: unknown, op: string, co: number): ConvOptions {
  if (opts === null || typeof opts !== 'object') {
    throw new ShapeError(`${op}: options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  }
  const o = opts as ConvOptions;
  assertActivation(o.activation ?? 'linear', op);
  if (o.bias !== undefined) {
    assertTensor(o.bias, op, 'bias');
    assertDTypeIn(o.bias, ['float32'], op, 'bias');
    if (o.bias.rank !== 1 || o.bias.shape[0] !== co) {
      throw new ShapeError(
        `${op}: bias must have shape [${co}] (channels x multiplier), got ${fmtShape(o.bias.shape)}`,
      );
    }
  }
  return o;
}

/**
 * act(depthwiseConv2d(x, filter) + bias): x [N,H,W,C], filter [kh,kw,C,mult] ->
 * [N,OH,OW,C*mult]; padding and strides as conv2d.
 */
export function depthwiseConv2d(
  x: Tensor,
  filter: Tensor,
  strides: Strides,
  padding: Padding,
  opts: ConvOptions = {},
): Tensor {
  const op = 'depthwiseConv2d';
  checkFloat4(x, op, 'x');
  checkFloat4(filter, op, 'filter');
  const [kh, kw, c, mult] = filter.shape;
  if (kh < 1 || kw < 1 || mult < 1) {
    throw new ShapeError(`${op}: filter ${fmtShape(filter.shape)} needs a non-empty window and multiplier`);
  }
  checkInChannels(op, 'filter', filter.shape, 'x', x.shape);
  const { bias, activation = 'linear' } = checkOpts(opts, op, c * mult);
  const g = geometry(op, x.shape, kh, kw, strides, padding);
  assertOutputBindable([g.n, g.oh, g.ow, c * mult], op);
  const y = emptyTensor([g.n, g.oh, g.ow, c * mult], 'float32');
  const inputs = bias ? [x, filter, bias] : [x, filter];
  const attrs: ConvAttrs = { strides: [g.sh, g.sw], padding: padAttr(g), activation };
  if (y.size === 0) return recordOp(op, inputs, y, attrs);
  runDepthwise(
    {
      x,
      f: filter,
      y,
      bias,
      act: activation,
      h: g.h,
      w: g.w,
      cs: c,
      oh: g.oh,
      ow: g.ow,
      co: c * mult,
      mult,
      n: g.n,
      kh,
      kw,
      sh: g.sh,
      sw: g.sw,
      padT: g.pad[0][0],
      padL: g.pad[1][0],
      dh: 1,
      dw: 1,
    },
    false,
  );
  return recordOp(op, inputs, y, attrs);
}

/** The gradient of depthwiseConv2d w.r.t. its input: -> inputShape [N,H,W,C]. */
export function depthwiseConv2dBackpropInput(
  dy: Tensor,
  filter: Tensor,
  inputShape: readonly number[],
  strides: Strides,
  padding: Padding,
): Tensor {
  const op = 'depthwiseConv2dBackpropInput';
  const g = checkBackprop(DEPTHWISE, op, 'inputShape', dy, filter, inputShape, strides, padding);
  const [kh, kw, c, mult] = filter.shape;
  const attrs: ConvInputGradAttrs = {
    inputShape: [...inputShape],
    strides: [g.sh, g.sw],
    padding: padAttr(g),
  };
  if (dy.size === 0) return recordOp(op, [dy, filter], fillKernel(inputShape, 0, 'float32'), attrs);
  assertOutputBindable(inputShape, op);
  const dx = emptyTensor(inputShape, 'float32');
  // Stride 1: the forward kernels on dy with the window flipped. Otherwise the plain kernel
  // gathers from dy dilated by the strides.
  const flip = g.sh === 1 && g.sw === 1 && mult === 1;
  const f = flip ? flipWindow(filter) : filter;
  runDepthwise(
    {
      x: dy,
      f,
      y: dx,
      act: 'linear',
      h: g.oh,
      w: g.ow,
      cs: c * mult,
      oh: g.h,
      ow: g.w,
      co: c,
      mult,
      n: g.n,
      kh,
      kw,
      sh: 1,
      sw: 1,
      padT: kh - 1 - g.pad[0][0],
      padL: kw - 1 - g.pad[1][0],
      dh: g.sh,
      dw: g.sw,
    },
    !flip,
  );
  if (f !== filter) f.dispose();
  return recordOp(op, [dy, filter], dx, attrs);
}

/** The gradient of depthwiseConv2d w.r.t. its filter: -> filterShape [kh,kw,C,mult]. */
export function depthwiseConv2dBackpropFilter(
  x: Tensor,
  dy: Tensor,
  filterShape: readonly number[],
  strides: Strides,
  padding: Padding,
): Tensor {
  const op = 'depthwiseConv2dBackpropFilter';
  const g = checkBackprop(DEPTHWISE, op, 'filterShape', x, dy, filterShape, strides, padding);
  const [kh, kw, c, mult] = filterShape;
  const attrs: ConvFilterGradAttrs = {
    filterShape: [...filterShape],
    strides: [g.sh, g.sw],
    padding: padAttr(g),
  };
  if (dy.size === 0 || x.size === 0)
    return recordOp(op, [x, dy], fillKernel(filterShape, 0, 'float32'), attrs);
  const vec = mult === 1 && c % 4 === 0;
  const q = vec ? 4 : 1;
  const co = (c * mult) / q;
  const rows = g.n * g.oh;
  // Enough lanes for every lavapipe thread (~512), each summing at least a few rows.
  const parts = Math.max(1, Math.min(rows, Math.ceil(512 / co)));
  const rowsPerPart = Math.ceil(rows / parts);
  const used = Math.ceil(rows / rowsPerPart);
  const taps = kh * kw;
  // Sliding windows for small windows and strides (the code grows with kh * kw).
  const slide = taps <= 25 && g.sw <= 4 ? g.sw : 0;
  const df = emptyTensor(filterShape, 'float32');
  const out = used > 1 ? emptyTensor([used, taps, c * mult], 'float32') : df;
  const n = used * co;
  runKernel({
    key: `depthwise_filter_grad_${kh}x${kw}_${+vec}_${slide}`,
    source: () => filterGradKernel(kh, kw, vec, slide),
    buffers: [whole(x), whole(dy), whole(out)],
    params: intParams(
      g.h,
      g.w,
      c / q,
      g.oh,
      g.ow,
      co,
      mult,
      g.sh,
      g.sw,
      g.pad[0][0],
      g.pad[1][0],
      rows,
      rowsPerPart,
      n,
    ),
    workgroups: grid(n, 64),
  });
  if (used > 1) {
    sumParts(out, used, df);
    out.dispose();
  }
  return recordOp(op, [x, dy], df, attrs);
}
