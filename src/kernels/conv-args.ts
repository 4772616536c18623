import { ArgumentError, DeviceError, fmtShape, ShapeError } from '../tensor/errors.js';
import type { Pads2D } from '../tensor/op-table.js';
import type { Tensor } from '../tensor/tensor.js';
import { type Activation, assertActivation } from './activation.js';
import { checkPrecision, type Precision } from './matmul-f16.js';
import type { UniformType } from './program.js';
import { assertBindable, assertDTypeIn, assertRank, assertTensor, maxBindingBytes } from './util.js';

/**
 * Geometry and argument checks shared by the 2-D window ops (conv2d, depthwiseConv2d, pooling),
 * so conv and depthwise check their arguments, and word their errors, one way.
 */

export type Padding = 'same' | 'valid' | [[number, number], [number, number]];
/** The step of the window: `[height, width]` or one number for both. */
export type Strides = number | [number, number];

/** Options of `conv2d` and `depthwiseConv2d`. */
export interface ConvOptions {
  /** Added per output channel: shape [Cout]. */
  bias?: Tensor;
  /** Applied last (fused epilogue). */
  activation?: Activation;
  /**
   * 'f16': x and the filter are read as half-precision copies (rounded once, relative error
   * 2^-11 each; values past 65504 become infinite), products and sums in f32, bias, activation
   * and output f32, where the adapter has shader-f16; the f32 kernels elsewhere. Forward only: the
   * recorded op is the plain one, so gradients are the f32 rules run in f32 (the rounding is
   * treated as the identity). See conv-f16.ts. Default 'f32'.
   */
  precision?: Precision;
}

/** Spatial geometry of a 2-D window op (conv, depthwise conv, pooling), TensorFlow arithmetic. */
export interface Geometry {
  n: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  oh: number;
  ow: number;
  /** Explicit padding [[top, bottom], [left, right]] (for 'same' as TensorFlow computes it). */
  pad: [[number, number], [number, number]];
}

export function resolveStrides(op: string, strides: unknown): [number, number] {
  const s = typeof strides === 'number' ? [strides, strides] : strides;
  if (!Array.isArray(s) || s.length !== 2 || !s.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new ArgumentError(
      `${op}: strides must be a positive integer or a pair of them, got ${JSON.stringify(strides)}`,
    );
  }
  return [s[0], s[1]];
}

function padOf(
  op: string,
  padding: unknown,
  size: number,
  k: number,
  s: number,
  axis: 0 | 1,
): [number, number, number] {
  if (padding === 'valid') {
    if (size < k)
      throw new ShapeError(`${op}: ${k}-wide window with padding 'valid' does not fit input size ${size}`);
    return [Math.floor((size - k) / s) + 1, 0, 0];
  }
  if (padding === 'same') {
    const out = Math.ceil(size / s);
    const total = Math.max((out - 1) * s + k - size, 0);
    return [out, Math.floor(total / 2), total - Math.floor(total / 2)];
  }
  const p = (padding as [[number, number], [number, number]])[axis];
  const padded = size + p[0] + p[1];
  if (padded < k) {
    throw new ShapeError(
      `${op}: ${k}-wide window does not fit input size ${size} padded by [${p[0]},${p[1]}]`,
    );
  }
  return [Math.floor((padded - k) / s) + 1, p[0], p[1]];
}

function checkPadding(op: string, padding: unknown): void {
  if (padding === 'same' || padding === 'valid') return;
  const ok =
    Array.isArray(padding) &&
    padding.length === 2 &&
    padding.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0));
  if (!ok) {
    throw new ArgumentError(
      `${op}: padding must be 'same', 'valid' or [[top, bottom], [left, right]] of non-negative integers, got ${JSON.stringify(padding)}`,
    );
  }
}

/** Output size and padding of a window op on NHWC `xShape`. */
export function geometry(
  op: string,
  xShape: readonly number[],
  kh: number,
  kw: number,
  strides: unknown,
  padding: unknown,
): Geometry {
  const [sh, sw] = resolveStrides(op, strides);
  checkPadding(op, padding);
  const [n, h, w, c] = xShape;
  const [oh, pt, pb] = padOf(op, padding, h, kh, sh, 0);
  const [ow, pl, pr] = padOf(op, padding, w, kw, sw, 1);
  return {
    n,
    h,
    w,
    c,
    kh,
    kw,
    sh,
    sw,
    oh,
    ow,
    pad: [
      [pt, pb],
      [pl, pr],
    ],
  };
}

/**
 * The window geometry of one conv or depthwise dispatch: the source it reads (x, or dy for the
 * input gradient, then dilated by (dh, dw)) and the output it writes, both NHWC with n images.
 */
export interface WindowDispatch {
  n: number;
  /** Source height and width (before dilation). */
  h: number;
  w: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  padT: number;
  padL: number;
  dh: number;
  dw: number;
}

/** One conv dispatch: the window, tensors, epilogue and channel counts (conv.ts' kernels). */
export interface ConvCall extends WindowDispatch {
  x: Tensor;
  /** [taps, C, CO4] (see convKernel in conv.ts). */
  f: Tensor;
  y: Tensor;
  bias?: Tensor;
  act: Activation;
  /** Source and output channels. */
  c: number;
  co: number;
  /** x [.., c] and f are f16 copies, c a multiple of 4 (conv-f16.ts). */
  half?: boolean;
}

/** The forward op's dispatch: x to the output. */
export function forwardWindow(g: Geometry): WindowDispatch {
  return {
    n: g.n,
    h: g.h,
    w: g.w,
    oh: g.oh,
    ow: g.ow,
    kh: g.kh,
    kw: g.kw,
    sh: g.sh,
    sw: g.sw,
    padT: g.pad[0][0],
    padL: g.pad[1][0],
    dh: 1,
    dw: 1,
  };
}

/**
 * The input gradient's dispatch: dy dilated by the strides to the input, with the window flipped
 * (the kernels read the flipped filter), stride 1 and the complementary padding.
 */
export function inputGradWindow(g: Geometry): WindowDispatch {
  return {
    n: g.n,
    h: g.oh,
    w: g.ow,
    oh: g.h,
    ow: g.w,
    kh: g.kh,
    kw: g.kw,
    sh: 1,
    sw: 1,
    padT: g.kh - 1 - g.pad[0][0],
    padL: g.kw - 1 - g.pad[1][0],
    dh: g.sh,
    dw: g.sw,
  };
}

/** Strides and explicit padding as the ops record them in their attrs. */
export function windowAttrs(g: Geometry): { strides: [number, number]; padding: Pads2D } {
  return {
    strides: [g.sh, g.sw],
    padding: [
      [g.pad[0][0], g.pad[0][1]],
      [g.pad[1][0], g.pad[1][1]],
    ],
  };
}

/** The uniforms that the conv2d kernels (forward, input and filter gradients) begin with. */
export const CONV_HEAD = {
  H: 'u32',
  W: 'u32',
  C: 'u32',
  OH: 'u32',
  OW: 'u32',
  CO: 'u32',
  sh: 'u32',
  sw: 'u32',
  padT: 'i32',
  padL: 'i32',
} as const satisfies Record<string, UniformType>;

/** The values of CONV_HEAD for dispatch `w` with `c` source and `co` output channels. */
export function convHead(w: WindowDispatch, c: number, co: number) {
  const { h: H, w: W, oh: OH, ow: OW, sh, sw, padT, padL } = w;
  return { H, W, C: c, OH, OW, CO: co, sh, sw, padT, padL };
}

/** The uniforms that the depthwise kernels begin with: CS source channels, M the multiplier. */
export const DW_HEAD = {
  H: 'u32',
  W: 'u32',
  CS: 'u32',
  OH: 'u32',
  OW: 'u32',
  CO: 'u32',
  M: 'u32',
  sh: 'u32',
  sw: 'u32',
  padT: 'i32',
  padL: 'i32',
} as const satisfies Record<string, UniformType>;

/** The values of DW_HEAD for dispatch `w`. */
export function dwHead(w: WindowDispatch, cs: number, co: number, mult: number) {
  const { H, W, C, OH, OW, CO, sh, sw, padT, padL } = convHead(w, cs, co);
  return { H, W, CS: C, OH, OW, CO, M: mult, sh, sw, padT, padL };
}

/** A float32 rank-4 tensor that can be bound whole. */
export function checkFloat4(t: unknown, op: string, arg: string): asserts t is Tensor {
  assertTensor(t, op, arg);
  assertDTypeIn(t, ['float32'], op, arg);
  assertRank(t, 4, op, arg);
  assertBindable(t, op, arg);
}

/** What differs between the conv2d and the depthwiseConv2d argument checks. */
export interface ConvFamily {
  /** The forward op (named in the dy message), its input and its filter gradient. */
  ops:
    | ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter']
    | ['depthwiseConv2d', 'depthwiseConv2dBackpropInput', 'depthwiseConv2dBackpropFilter'];
  /** Channels of the forward output for filter dims [kh, kw, C, last]. */
  outChannels(f: readonly number[]): number;
  /** What the output channels are, for the bias message. */
  outChannelsAre: string;
  /** The filter dim besides the window that must not be 0, and its name. */
  nonEmpty: [2 | 3, string];
}

export const CONV2D: ConvFamily = {
  ops: ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter'],
  outChannels: (f) => f[3],
  outChannelsAre: 'the output channels',
  nonEmpty: [2, 'input channels'],
};

export const DEPTHWISE: ConvFamily = {
  ops: ['depthwiseConv2d', 'depthwiseConv2dBackpropInput', 'depthwiseConv2dBackpropFilter'],
  outChannels: (f) => f[2] * f[3],
  outChannelsAre: 'channels x multiplier',
  nonEmpty: [3, 'multiplier'],
};

/**
 * A shape argument (inputShape, filterShape) of conv, depthwise and pooling gradients: 4
 * non-negative integers, else an ArgumentError (a bad value of an argument; ShapeError is for tensors
 * whose shapes disagree).
 */
export function checkShapeArg(
  shape: unknown,
  op: string,
  arg: string,
): asserts shape is [number, number, number, number] {
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new ArgumentError(`${op}: ${arg} must be 4 non-negative integers, got ${JSON.stringify(shape)}`);
  }
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

/**
 * The options of a forward op: an object (else an ArgumentError), a known activation, and a bias
 * of shape [outChannels] when given (else a ShapeError).
 */
function checkConvOptions(fam: ConvFamily, opts: unknown, op: string, co: number): ConvOptions {
  if (opts === null || typeof opts !== 'object') {
    throw new ArgumentError(`${op}: options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  }
  const o = opts as ConvOptions;
  assertActivation(o.activation ?? 'linear', op);
  checkPrecision(o.precision, op);
  if (o.bias !== undefined) {
    assertTensor(o.bias, op, 'bias');
    assertDTypeIn(o.bias, ['float32'], op, 'bias');
    if (o.bias.rank !== 1 || o.bias.shape[0] !== co) {
      throw new ShapeError(
        `${op}: bias must have shape [${co}] (${fam.outChannelsAre}), got ${fmtShape(o.bias.shape)}`,
      );
    }
  }
  return o;
}

/**
 * The checks of a forward op (x and filter, the window, the options); its geometry, output
 * channels, bias and activation. Throws before allocating when the output could not be bound.
 */
export function checkForward(
  fam: ConvFamily,
  op: string,
  x: unknown,
  filter: unknown,
  strides: unknown,
  padding: unknown,
  opts: unknown,
): { g: Geometry; co: number; bias?: Tensor; activation: Activation; precision: Precision } {
  checkFloat4(x, op, 'x');
  checkFloat4(filter, op, 'filter');
  const f = filter.shape;
  checkInChannels(op, 'filter', f, 'x', x.shape);
  const [dim, name] = fam.nonEmpty;
  if (f[0] < 1 || f[1] < 1 || f[dim] < 1) {
    throw new ShapeError(`${op}: filter ${fmtShape(f)} needs a non-empty window and ${name}`);
  }
  const co = fam.outChannels(f);
  const { bias, activation = 'linear', precision = 'f32' } = checkConvOptions(fam, opts, op, co);
  const g = geometry(op, x.shape, f[0], f[1], strides, padding);
  assertOutputBindable([g.n, g.oh, g.ow, co], op);
  return { g, co, bias, activation, precision };
}

/** Throws unless the filter's input channels (dim 2) are the channels (dim 3) of the input. */
export function checkInChannels(
  op: string,
  fArg: string,
  f: readonly number[],
  xArg: string,
  x: readonly number[],
): void {
  if (x[3] !== f[2]) {
    throw new ShapeError(
      `${op}: ${fArg} ${fmtShape(f)} expects ${f[2]} input channels, ${xArg} ${fmtShape(x)} has ${x[3]}`,
    );
  }
}

function checkDy(
  fam: ConvFamily,
  op: string,
  dy: Tensor,
  g: Geometry,
  f: readonly number[],
  what: string,
): void {
  const expect = [g.n, g.oh, g.ow, fam.outChannels(f)];
  if (dy.shape.some((d, i) => d !== expect[i])) {
    throw new ShapeError(
      `${op}: dy must have shape ${fmtShape(expect)} (the ${fam.ops[0]} output for ${what}), got ${fmtShape(dy.shape)}`,
    );
  }
}

/**
 * The checks of a gradient op, the input gradient (a = dy, b = filter, shape = inputShape) or the
 * filter gradient (a = x, b = dy, shape = filterShape) as `shapeArg` says; the forward geometry.
 */
export function checkBackprop(
  fam: ConvFamily,
  op: string,
  shapeArg: 'inputShape' | 'filterShape',
  a: Tensor,
  b: Tensor,
  shape: readonly number[],
  strides: unknown,
  padding: unknown,
): Geometry {
  const input = shapeArg === 'inputShape';
  checkFloat4(a, op, input ? 'dy' : 'x');
  checkFloat4(b, op, input ? 'filter' : 'dy');
  checkShapeArg(shape, op, shapeArg);
  const [dy, xArg, xShape, fArg, f] = input
    ? [a, 'inputShape', shape, 'filter', b.shape]
    : [b, 'x', a.shape, 'filterShape', shape];
  if (!input && (f[0] < 1 || f[1] < 1)) {
    throw new ArgumentError(`${op}: filterShape ${fmtShape(f)} has an empty window`);
  }
  checkInChannels(op, fArg, f, xArg, xShape);
  const g = geometry(op, xShape, f[0], f[1], strides, padding);
  checkDy(fam, op, dy, g, f, `${xArg} ${fmtShape(xShape)} and ${fArg} ${fmtShape(f)}`);
  return g;
}
