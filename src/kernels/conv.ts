import { currentDevice } from '../tensor/device.js';
import { ArgumentError, DeviceError, fmtShape, ShapeError } from '../tensor/errors.js';
import type { ConvAttrs, ConvFilterGradAttrs, ConvInputGradAttrs } from '../tensor/op-table.js';
import { ParamWriter, runKernel } from '../tensor/queue.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { type Activation, act4, assertActivation } from './activation.js';
import {
  type ConvFamily,
  checkBackprop,
  checkFloat4,
  checkInChannels,
  type Geometry,
  geometry,
  padAttr,
} from './conv-args.js';
import { fillKernel } from './fill.js';
import { assertDTypeIn, assertTensor, grid, linearIndex, maxBindingBytes, whole } from './util.js';

/**
 * 2-D convolution, NHWC activations and HWIO filters, as an implicit GEMM: output pixels are the
 * rows, output channels the columns, and (ky, kx, ci) the reduction, read straight from the input
 * (no im2col buffer). Also its two gradients: w.r.t. the input (the same kernel run on the
 * stride-dilated dy with the flipped, transposed filter) and w.r.t. the filter (a split-K kernel).
 *
 * Why the kernel looks like this (lavapipe, measured in scratch/conv-tune.mts): a workgroup runs
 * on one CPU thread, 8 lanes to a SIMD register, and every load whose address differs between
 * lanes is executed lane by lane, so loads cost far more than FMAs. A subgroup of 8 lanes owns
 * ROWS output pixels x 32 output channels; each lane loads the filter values of its own 4
 * channels (vec4, Cout is contiguous in HWIO) and ROWS/8 of the input quads, which it hands to the
 * other lanes with subgroupBroadcast. Bias and activation are applied in the epilogue.
 */

export { type Geometry, geometry, resolveStrides } from './conv-args.js';

export type Padding = 'same' | 'valid' | [[number, number], [number, number]];
export type Strides = number | [number, number];

export interface ConvOptions {
  /** Added per output channel: shape [Cout]. */
  bias?: Tensor;
  /** Applied last (fused epilogue). */
  activation?: Activation;
}

/** Throws before allocating when an output of `shape` (float32) could not be bound whole. */
export function assertOutputBindable(shape: readonly number[], op: string): void {
  const bytes = shape.reduce((a, b) => a * b, 4);
  const limit = maxBindingBytes();
  if (bytes > limit) {
    throw new DeviceError(
      `${op}: the output of shape ${fmtShape(shape)} is ${bytes} bytes, over the adapter's maxStorageBufferBindingSize of ${limit} bytes, and ${op} cannot split it`,
    );
  }
}

/** A uniform block of 4-byte integers (negative values are written as two's complement i32). */
export function intParams(...values: number[]): ArrayBuffer {
  const w = new ParamWriter();
  for (const v of values) w.u32(v);
  return w.done();
}

// ---------------------------------------------------------------------------------------------
// Subgroups.

let forcePortable = false;

/** Lanes per subgroup when the adapter has one fixed size the kernels can use, else 0. */
export function subgroupLanes(): number {
  if (forcePortable) return 0;
  const dev = currentDevice();
  if (!dev.features.has('subgroups')) return 0;
  const ai = (dev as unknown as { adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number } })
    .adapterInfo;
  const lo = ai?.subgroupMinSize ?? 0;
  return lo === ai?.subgroupMaxSize && (lo === 4 || lo === 8 || lo === 16) ? lo : 0;
}

/** @internal Tests: use the kernels without subgroup operations. */
export function setConvPortable(on: boolean): void {
  forcePortable = on;
}

// ---------------------------------------------------------------------------------------------
// The implicit-GEMM kernel.

export interface ConvKernel {
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
  pointwise?: boolean;
  bias: boolean;
  act: Activation;
}

const CONV_PARAMS = `struct P {
  H: u32, W: u32, C: u32, OH: u32, OW: u32, CO: u32, sh: u32, sw: u32, padT: i32, padL: i32,
  M: u32, dh: u32, dw: u32, rowBlocks: u32, KH: u32, KW: u32,
}`;

/**
 * WGSL of the conv kernel. Lane `lane` of subgroup `sgi` owns output channels co..co+3 and the
 * subgroup owns output pixels m0..m0+ROWS-1; the input values of pixel m0 + lane + L*u are loaded
 * by that lane (u < ROWS/L) and broadcast. The filter is [taps, C, CO4] with CO4 = CO rounded up
 * to 4 (zero columns), so every filter read is one vec4.
 */
export function convKernel(k: ConvKernel): string {
  const L = k.sg || 8;
  const R = k.rows;
  const loaders = k.sg ? R / L : R; // pixels whose input each lane loads
  const xT = k.x4 ? 'vec4f' : 'f32';
  let pre = '';
  for (let u = 0; u < loaders; u++) {
    const r = k.sg ? `lane + ${L * u}u` : `${u}u`;
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
    body += k.pointwise
      ? `      let xv${u} = x[${idx}];\n`
      : `      let xv${u} = select(${xT}(0.0), x[${idx}], ok${u});\n`;
  }
  for (let i = 0; i < cq; i++) body += `      let fq${i} = f[fr + ${i}u * co4];\n`;
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
  const yT = k.y4 ? 'vec4f' : 'f32';
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
  const ids = k.sg
    ? '@builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_id) sgi: u32'
    : '@builtin(local_invocation_index) li: u32';
  return `${k.sg ? 'enable subgroups;\n' : ''}${CONV_PARAMS}
@group(0) @binding(0) var<storage, read> x: array<${xT}>;
@group(0) @binding(1) var<storage, read> f: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y: array<${yT}>;
${k.bias ? `@group(0) @binding(3) var<storage, read> bias: array<${yT}>;\n` : ''}@group(0) @binding(${k.bias ? 4 : 3}) var<uniform> p: P;

@compute @workgroup_size(${L * k.groups})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, ${ids}) {
${k.sg ? '' : `  let lane = li % ${L}u;\n  let sgi = li / ${L}u;\n`}  let rb = wid.y + wid.z * nwg.y;
  if (rb >= p.rowBlocks) { return; }
  let m0 = rb * ${R}u;
  let co = (wid.x * ${k.groups}u + sgi) * ${4 * L}u + lane * 4u;
  let co4 = (p.CO + 3u) / 4u;
  let cq = min(co / 4u, co4 - 1u);
${pre}${decl}${loops}  if (co >= p.CO) { return; }
${store}}
`;
}

interface ConvCall {
  x: Tensor;
  /** [taps, C, CO4] (see convKernel). */
  f: Tensor;
  y: Tensor;
  bias?: Tensor;
  act: Activation;
  /** Input (possibly dilated) and output geometry. */
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  co: number;
  m: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  padT: number;
  padL: number;
  dh: number;
  dw: number;
}

let convTileOverride: { rows: number; groups: number } | undefined;
/** @internal Tuning: overrides the tile choice (undefined restores it). */
export function setConvTile(t: { rows: number; groups: number } | undefined): void {
  convTileOverride = t;
}

function dispatchConv(a: ConvCall): void {
  const sg = subgroupLanes();
  const L = sg || 8;
  const pointwise =
    a.kh === 1 &&
    a.kw === 1 &&
    a.sh === 1 &&
    a.sw === 1 &&
    a.padT === 0 &&
    a.padL === 0 &&
    a.dh === 1 &&
    a.dw === 1 &&
    a.oh === a.h &&
    a.ow === a.w;
  // Windowed convs: 16 rows measured best (scratch/conv-tune.mts); 8 when Cout % 4 != 0, whose
  // scalar stores make the kernel slow to compile; at least one row per lane. Pointwise convs: 32
  // rows in one subgroup per workgroup measured 5-11% faster on MobileNetV2 (batch 1-64) than 16
  // rows in two.
  const tile =
    convTileOverride ??
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
  };
  const rowBlocks = Math.ceil(a.m / k.rows);
  const gy = Math.min(rowBlocks, 65535);
  const key = `conv2d_${k.rows}_${k.groups}_${sg}_${+k.x4}${+k.y4}${+k.dilated}${+!!k.pointwise}${+k.bias}_${k.act}`;
  runKernel({
    key,
    source: () => convKernel(k),
    buffers: [whole(a.x), whole(a.f), whole(a.y), ...(a.bias ? [whole(a.bias)] : [])],
    params: intParams(
      a.h,
      a.w,
      a.c,
      a.oh,
      a.ow,
      a.co,
      a.sh,
      a.sw,
      a.padT,
      a.padL,
      a.m,
      a.dh,
      a.dw,
      rowBlocks,
      a.kh,
      a.kw,
    ),
    workgroups: [Math.ceil(a.co / (4 * L * k.groups)), gy, Math.ceil(rowBlocks / gy)],
  });
}

/**
 * The filter as the conv kernel reads it: [taps, C, CO rounded up to 4], zero-padded columns;
 * with `flip`, f'[ky,kx,co,ci] = f[kh-1-ky, kw-1-kx, ci, co] (the input gradient's filter).
 */
function prepareFilter(f: Tensor, flip: boolean): Tensor {
  const [kh, kw, ci, co] = f.shape;
  const [c, d] = flip ? [co, ci] : [ci, co];
  const d4 = Math.ceil(d / 4) * 4;
  const out = emptyTensor([kh * kw, c, d4], 'float32');
  runKernel({
    key: `conv2d_prepare_filter_${+flip}`,
    source: () => `struct P { taps: u32, ci: u32, co: u32, d4: u32, n: u32 }
@group(0) @binding(0) var<storage, read> f: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${linearIndex(64)};
  if (i >= p.n) { return; }
  let j = i % p.d4;
  let c = (i / p.d4) % ${flip ? 'p.co' : 'p.ci'};
  let t = i / (p.d4 * ${flip ? 'p.co' : 'p.ci'});
  ${flip ? 'let src = (p.taps - 1u - t) * p.ci * p.co + min(j, p.ci - 1u) * p.co + c;\n  o[i] = select(0.0, f[src], j < p.ci);' : 'let src = (t * p.ci + c) * p.co + min(j, p.co - 1u);\n  o[i] = select(0.0, f[src], j < p.co);'}
}`,
    buffers: [whole(f), whole(out)],
    params: intParams(kh * kw, ci, co, d4, out.size),
    workgroups: grid(out.size, 64),
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Gradient kernels.

export interface FilterGradKernel {
  /** Input channels per subgroup tile (rows of the product). */
  rows: number;
  groups: number;
  sg: number;
  x4: boolean;
  f4: boolean;
}

const FG_PARAMS = `struct P {
  H: u32, W: u32, C: u32, OH: u32, OW: u32, CO: u32, sh: u32, sw: u32, padT: i32, padL: i32,
  KW: u32, taps: u32, rowsPerPart: u32, NOH: u32, ciBlocks: u32,
}`;

/**
 * Split-K filter gradient: df[t, ci, co] = sum over output pixels of x(shifted by tap t)[ci] *
 * dy[co]. Workgroup z = part * taps + t; a part is a range of (image, output row) pairs and
 * writes its sums to part[z]. A subgroup owns `rows` input channels x 4*lanes output channels;
 * per step it takes `px` output pixels, whose input values are spread over the lanes and
 * broadcast as in the forward kernel.
 */
export function filterGradKernel(k: FilterGradKernel): string {
  const L = k.sg || 8;
  const E = k.x4 ? 4 : 1; // input channels per load
  const per = k.rows / E; // loads per pixel
  const px = Math.max(1, (L * E) / k.rows); // pixels per step
  const loaders = k.sg ? (px * per) / L : px * per;
  const xT = k.x4 ? 'vec4f' : 'f32';
  const fT = k.f4 ? 'vec4f' : 'f32';
  let body = '';
  // Lane-loaded input values: item q covers pixel q / per and channel group q % per.
  for (let u = 0; u < loaders; u++) {
    const q = k.sg ? `(lane + ${L * u}u)` : `${u}u`;
    body += `      let q${u} = ${q};
      let ox${u} = ox + q${u} / ${per}u;
      let ix${u} = u32(i32(ox${u} * p.sw) + ixOff);
      let ok${u} = ox${u} < p.OW && ix${u} < p.W;
      let ci${u} = min(ci0 + (q${u} % ${per}u) * ${E}u, p.C - 1u);
      let xv${u} = select(${xT}(0.0), x[select(0u, (rowBase + ix${u}) * p.C + ci${u}, ok${u})${k.x4 ? ' / 4u' : ''}], ok${u});
`;
  }
  for (let j = 0; j < px; j++) {
    const dyIdx = `(dyRow + min(ox + ${j}u, p.OW - 1u)) * p.CO`;
    if (k.f4) body += `      let g${j} = select(vec4f(0.0), dy[(${dyIdx} + cq) / 4u], ox + ${j}u < p.OW);\n`;
    else {
      const el = [0, 1, 2, 3].map((c) => `dy[${dyIdx} + cc${c}]`).join(', ');
      body += `      let g${j} = select(vec4f(0.0), vec4f(${el}), ox + ${j}u < p.OW);\n`;
    }
  }
  for (let item = 0; item < px * per; item++) {
    const src = k.sg ? `subgroupBroadcast(xv${Math.floor(item / L)}, ${item % L}u)` : `xv${item}`;
    body += `      let b${item} = ${src};\n`;
  }
  for (let r = 0; r < k.rows; r++) {
    for (let j = 0; j < px; j++) {
      const item = j * per + Math.floor(r / E);
      const comp = k.x4 ? `b${item}.${'xyzw'[r % E]}` : `b${item}`;
      body += `      acc${r} = fma(vec4f(${comp}), g${j}, acc${r});\n`;
    }
  }
  let decl = '';
  for (let r = 0; r < k.rows; r++) decl += `  var acc${r} = vec4f(0.0);\n`;
  let cols = '';
  if (!k.f4) for (let j = 0; j < 4; j++) cols += `  let cc${j} = min(co + ${j}u, p.CO - 1u);\n`;
  // Stores in a loop over a private copy of the accumulators (short compiles, see convKernel).
  let store = `  let accs = array<vec4f, ${k.rows}>(${Array.from({ length: k.rows }, (_, r) => `acc${r}`).join(', ')});\n`;
  store += `  for (var r = 0u; r < min(p.C - ci0, ${k.rows}u); r++) {\n    let row = outBase + (ci0 + r) * p.CO + co;\n`;
  if (k.f4) store += '    o[row / 4u] = accs[r];\n';
  else
    for (let j = 0; j < 4; j++)
      store += `    if (co + ${j}u < p.CO) { o[row + ${j}u] = accs[r].${'xyzw'[j]}; }\n`;
  store += '  }\n';
  const ids = k.sg
    ? '@builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_id) sgi: u32'
    : '@builtin(local_invocation_index) li: u32';
  return `${k.sg ? 'enable subgroups;\n' : ''}${FG_PARAMS}
@group(0) @binding(0) var<storage, read> x: array<${xT}>;
@group(0) @binding(1) var<storage, read> dy: array<${fT}>;
@group(0) @binding(2) var<storage, read_write> o: array<${fT}>;
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(${L * k.groups})
fn main(@builtin(workgroup_id) wid: vec3u, ${ids}) {
${k.sg ? '' : `  let lane = li % ${L}u;\n  let sgi = li / ${L}u;\n`}  let t = wid.z % p.taps;
  let part = wid.z / p.taps;
  let ky = t / p.KW;
  let kx = t % p.KW;
  let ci0 = wid.y * ${k.rows}u;
  let co = (wid.x * ${k.groups}u + sgi) * ${4 * L}u + lane * 4u;
  let cq = min(co, p.CO - 4u);
${cols}  let ixOff = i32(kx) - p.padL;
${decl}  let r0 = part * p.rowsPerPart;
  let r1 = min(r0 + p.rowsPerPart, p.NOH);
  for (var r = r0; r < r1; r++) {
    let oy = r % p.OH;
    let iy = u32(i32(oy * p.sh + ky) - p.padT);
    if (iy >= p.H) { continue; }
    let rowBase = (r / p.OH * p.H + iy) * p.W;
    let dyRow = r * p.OW;
    for (var ox = 0u; ox < p.OW; ox += ${px}u) {
${body}    }
  }
  if (co >= p.CO) { return; }
  let outBase = (part * p.taps + t) * p.C * p.CO;
${store}}
`;
}

/** Sums `parts` slices of `n` elements: out[i] = sum_p part[p * n + i]. */
export function sumParts(partials: Tensor, parts: number, out: Tensor): void {
  const n = out.size;
  runKernel({
    key: 'conv_sum_parts',
    source: () => `struct P { n: u32, parts: u32 }
@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${linearIndex(64)};
  if (i >= p.n) { return; }
  var s = 0.0;
  for (var q = 0u; q < p.parts; q++) { s += part[q * p.n + i]; }
  o[i] = s;
}`,
    buffers: [whole(partials), whole(out)],
    params: intParams(n, parts),
    workgroups: grid(n, 64),
  });
}

function dispatchFilterGrad(x: Tensor, dy: Tensor, df: Tensor, g: Geometry, co: number): void {
  const sg = subgroupLanes();
  const L = sg || 8;
  const c = g.c;
  const x4 = c % 4 === 0;
  const k: FilterGradKernel = {
    // Input channels per tile: 4, 8 or 16 (no more than needed for small C).
    rows: Math.min(16, Math.max(4, 2 ** Math.ceil(Math.log2(c)))),
    groups: co > 4 * L ? 2 : 1,
    sg,
    x4,
    f4: co % 4 === 0,
  };
  const taps = g.kh * g.kw;
  const wx = Math.ceil(co / (4 * L * k.groups));
  const wy = Math.ceil(c / k.rows);
  const noh = g.n * g.oh;
  // Enough workgroups to keep every lavapipe thread busy, but long enough reductions per part.
  const rowsPerPart = Math.ceil(noh / Math.max(1, Math.min(noh, Math.ceil(64 / (wx * wy * taps)))));
  const parts = Math.ceil(noh / rowsPerPart);
  const out = parts > 1 ? emptyTensor([parts, taps, c, co], 'float32') : df;
  runKernel({
    key: `conv2d_filter_grad_${k.rows}_${k.groups}_${sg}_${+k.x4}${+k.f4}`,
    source: () => filterGradKernel(k),
    buffers: [whole(x), whole(dy), whole(out)],
    params: intParams(
      g.h,
      g.w,
      c,
      g.oh,
      g.ow,
      co,
      g.sh,
      g.sw,
      g.pad[0][0],
      g.pad[1][0],
      g.kw,
      taps,
      rowsPerPart,
      noh,
      wy,
    ),
    workgroups: [wx, wy, parts * taps],
  });
  if (parts > 1) {
    sumParts(out, parts, df);
    out.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Argument checks.

function checkBias(bias: unknown, cout: number, op: string): asserts bias is Tensor | undefined {
  if (bias === undefined) return;
  assertTensor(bias, op, 'bias');
  assertDTypeIn(bias, ['float32'], op, 'bias');
  if (bias.rank !== 1 || bias.shape[0] !== cout) {
    throw new ShapeError(
      `${op}: bias must have shape [${cout}] (the output channels), got ${fmtShape(bias.shape)}`,
    );
  }
}

function checkOptions(opts: unknown, op: string): ConvOptions {
  if (opts === null || typeof opts !== 'object') {
    throw new ArgumentError(`${op}: options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  }
  const o = opts as ConvOptions;
  assertActivation(o.activation ?? 'linear', op);
  return o;
}

const CONV2D: ConvFamily = { forward: 'conv2d', argError: ArgumentError, outChannels: (f) => f[3] };

// ---------------------------------------------------------------------------------------------
// Public ops.

/**
 * act(conv2d(x, filter) + bias): x [N,H,W,Cin], filter [kh,kw,Cin,Cout] -> [N,OH,OW,Cout].
 * Padding 'same' uses TensorFlow's arithmetic (stride 2 on even sizes pads 0 before, 1 after).
 */
export function conv2d(
  x: Tensor,
  filter: Tensor,
  strides: Strides,
  padding: Padding,
  opts: ConvOptions = {},
): Tensor {
  const op = 'conv2d';
  checkFloat4(x, op, 'x');
  checkFloat4(filter, op, 'filter');
  const { bias, activation = 'linear' } = checkOptions(opts, op);
  const [kh, kw, ci, co] = filter.shape;
  checkInChannels(op, 'filter', filter.shape, 'x', x.shape);
  if (kh < 1 || kw < 1 || ci < 1) {
    throw new ShapeError(
      `${op}: filter ${fmtShape(filter.shape)} needs a non-empty window and input channels`,
    );
  }
  checkBias(bias, co, op);
  const g = geometry(op, x.shape, kh, kw, strides, padding);
  assertOutputBindable([g.n, g.oh, g.ow, co], op);
  const y = emptyTensor([g.n, g.oh, g.ow, co], 'float32');
  const inputs = bias ? [x, filter, bias] : [x, filter];
  const attrs: ConvAttrs = { strides: [g.sh, g.sw], padding: padAttr(g), activation };
  if (y.size === 0) return recordOp(op, inputs, y, attrs);
  const f4 = co % 4 === 0 ? filter : prepareFilter(filter, false);
  dispatchConv({
    x,
    f: f4,
    y,
    bias,
    act: activation,
    h: g.h,
    w: g.w,
    c: ci,
    oh: g.oh,
    ow: g.ow,
    co,
    m: g.n * g.oh * g.ow,
    kh,
    kw,
    sh: g.sh,
    sw: g.sw,
    padT: g.pad[0][0],
    padL: g.pad[1][0],
    dh: 1,
    dw: 1,
  });
  if (f4 !== filter) f4.dispose();
  return recordOp(op, inputs, y, attrs);
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
  const op = 'conv2dBackpropInput';
  const g = checkBackprop(CONV2D, op, 'inputShape', dy, filter, inputShape, strides, padding);
  const [kh, kw, ci, co] = filter.shape;
  assertOutputBindable(inputShape, op);
  const attrs: ConvInputGradAttrs = {
    inputShape: [...inputShape],
    strides: [g.sh, g.sw],
    padding: padAttr(g),
  };
  if (dy.size === 0) return recordOp(op, [dy, filter], fillKernel(inputShape, 0, 'float32'), attrs);
  const dx = emptyTensor(inputShape, 'float32');
  const flipped = prepareFilter(filter, true);
  dispatchConv({
    x: dy,
    f: flipped,
    y: dx,
    act: 'linear',
    h: g.oh,
    w: g.ow,
    c: co,
    oh: g.h,
    ow: g.w,
    co: ci,
    m: g.n * g.h * g.w,
    kh,
    kw,
    sh: 1,
    sw: 1,
    padT: kh - 1 - g.pad[0][0],
    padL: kw - 1 - g.pad[1][0],
    dh: g.sh,
    dw: g.sw,
  });
  flipped.dispose();
  return recordOp(op, [dy, filter], dx, attrs);
}

/**
 * The gradient of conv2d w.r.t. its filter: x [N,H,W,Cin], dy [N,OH,OW,Cout] -> filterShape
 * [kh,kw,Cin,Cout].
 */
export function conv2dBackpropFilter(
  x: Tensor,
  dy: Tensor,
  filterShape: readonly number[],
  strides: Strides,
  padding: Padding,
): Tensor {
  const op = 'conv2dBackpropFilter';
  const g = checkBackprop(CONV2D, op, 'filterShape', x, dy, filterShape, strides, padding);
  const attrs: ConvFilterGradAttrs = {
    filterShape: [...filterShape],
    strides: [g.sh, g.sw],
    padding: padAttr(g),
  };
  if (dy.size === 0 || x.size === 0)
    return recordOp(op, [x, dy], fillKernel(filterShape, 0, 'float32'), attrs);
  const df = emptyTensor(filterShape, 'float32');
  dispatchFilterGrad(x, dy, df, g, filterShape[3]);
  return recordOp(op, [x, dy], df, attrs);
}
