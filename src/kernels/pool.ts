import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { fillKernel } from '../tensor/fill-kernel.js';
import type { PoolAttrs } from '../tensor/op-table.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { checkShapeArg, forwardWindow, type Geometry, geometry, windowAttrs } from './conv-args.js';
import { defineKernel } from './program.js';
import { assertBindable, assertDTypeIn, assertRank, assertTensor, grid } from './util.js';

/**
 * Pooling over NHWC windows (TensorFlow semantics: 'same' padding cells are ignored by max and
 * excluded from the average's count), global average pooling, and the gradients of max and
 * average pooling. One lane per output element, 4 channels at a time when C % 4 == 0. The
 * gradients gather (each input element visits the windows that hold it) instead of scattering,
 * so no atomics are needed; max pooling's gradient first records each window's argmax (the first
 * maximum in row-major order, as TensorFlow), so ties and repeated values route exactly once.
 */

export type PoolPadding = 'same' | 'valid';
/** The window: `[height, width]` or one number for both. */
export type PoolSize = number | [number, number];

/** The uniforms of the window kernels. */
const POOL_UNIFORMS = {
  H: 'u32',
  W: 'u32',
  C: 'u32',
  OH: 'u32',
  OW: 'u32',
  KH: 'u32',
  KW: 'u32',
  sh: 'u32',
  sw: 'u32',
  padT: 'u32',
  padL: 'u32',
  n: 'u32',
  ninf: 'f32',
} as const;

/** What the window kernels share: the uniforms, 64 lanes per workgroup, one output per lane. */
const WINDOW = { uniforms: POOL_UNIFORMS, workgroupSize: 64, index: { total: 'n' } } as const;

/** Element types: f32 and i32, or vec4f and vec4i for channels a multiple of 4. */
const types = (vec: boolean) => (vec ? { T: 'vec4f', I: 'vec4i' } : { T: 'f32', I: 'i32' });

function poolUniforms(g: Geometry, cq: number, n: number) {
  const { h: H, w: W, oh: OH, ow: OW, kh: KH, kw: KW, sh, sw, padT, padL } = forwardWindow(g);
  return { H, W, C: cq, OH, OW, KH, KW, sh, sw, padT, padL, n, ninf: Number.NEGATIVE_INFINITY };
}

/** Forward pooling; `argmax` writes the tap of each window's first maximum (max pooling's grad). */
const poolKernel = defineKernel({
  name: 'pool',
  bindings: (k: { mode: 'max' | 'avg' | 'argmax'; vec: boolean }) => ({
    x: k.vec ? 'read vec4f' : 'read f32',
    y: k.mode === 'argmax' ? (k.vec ? 'rw vec4i' : 'rw i32') : k.vec ? 'rw vec4f' : 'rw f32',
  }),
  ...WINDOW,
  body: ({ mode, vec }) => {
    const { T, I } = types(vec);
    const init = mode === 'avg' ? `${T}(0.0)` : `${T}(p.ninf)`;
    let update: string;
    if (mode === 'avg') update = 'acc += v;\n        cnt += 1.0;';
    else if (mode === 'max') update = 'acc = max(acc, v);';
    else
      update = `let better = ${vec ? '(v > acc) | vec4<bool>(first)' : 'v > acc || first'};\n        acc = select(acc, v, better);\n        arg = select(arg, ${I}(i32(t)), better);\n        first = false;`;
    // Output element i = (pixel, channel group) and its window origin in input coordinates.
    return `  let c = i % p.C;
  let pix = i / p.C;
  let ox = pix % p.OW;
  let r = pix / p.OW;
  let b = r / p.OH;
  let iy0 = i32((r % p.OH) * p.sh) - i32(p.padT);
  let ix0 = i32(ox * p.sw) - i32(p.padL);
  var acc = ${init};
  var cnt = 0.0;
  var arg = ${I}(0);
  var first = true;
  for (var ky = 0u; ky < p.KH; ky++) {
    let yy = u32(iy0 + i32(ky));
    if (yy >= p.H) { continue; }
    for (var kx = 0u; kx < p.KW; kx++) {
      let xx = u32(ix0 + i32(kx));
      if (xx < p.W) {
        let t = ky * p.KW + kx;
        let v = x[((b * p.H + yy) * p.W + xx) * p.C + c];
        ${update}
      }
    }
  }
  y[i] = ${mode === 'avg' ? 'acc / cnt' : mode === 'max' ? 'acc' : 'arg'};`;
  },
});

/**
 * Gradients by gathering: input element (b, iy, ix, c) sums dy over the outputs whose window
 * holds it; for max only where that output's argmax tap (in `a`) is this element's tap.
 */
const poolGradKernel = defineKernel({
  name: 'pool_grad',
  bindings: (k: { mode: 'max' | 'avg'; vec: boolean }) => ({
    dy: k.vec ? 'read vec4f' : 'read f32',
    a: k.mode === 'max' ? (k.vec ? 'read vec4i' : 'read i32') : null,
    dx: k.vec ? 'rw vec4f' : 'rw f32',
  }),
  ...WINDOW,
  body: ({ mode, vec }) => {
    const { T, I } = types(vec);
    const add =
      mode === 'max'
        ? `acc += select(${T}(0.0), g, a[o] == ${I}(i32(t)));`
        : `let ch = min(oy * p.sh + p.KH, p.H + p.padT) - max(oy * p.sh, p.padT);
        let cw = min(ox * p.sw + p.KW, p.W + p.padL) - max(ox * p.sw, p.padL);
        acc += g / f32(ch * cw);`;
    return `  let c = i % p.C;
  let pix = i / p.C;
  let ix = pix % p.W;
  let r = pix / p.W;
  let b = r / p.H;
  // Padded coordinates of this element; output o covers [o*s, o*s + k).
  let py = r % p.H + p.padT;
  let px = ix + p.padL;
  let oy0 = select(0u, (py + p.sh - p.KH) / p.sh, py + 1u > p.KH);
  let ox0 = select(0u, (px + p.sw - p.KW) / p.sw, px + 1u > p.KW);
  let oy1 = min(py / p.sh + 1u, p.OH);
  let ox1 = min(px / p.sw + 1u, p.OW);
  var acc = ${T}(0.0);
  for (var oy = oy0; oy < oy1; oy++) {
    for (var ox = ox0; ox < ox1; ox++) {
      let o = ((b * p.OH + oy) * p.OW + ox) * p.C + c;
      let t = (py - oy * p.sh) * p.KW + (px - ox * p.sw);
      let g = dy[o];
      ${add}
    }
  }
  dx[i] = acc;`;
  },
});

const globalAvgKernel = defineKernel({
  name: 'pool_global_avg',
  bindings: ({ vec }: { vec: boolean }) => ({
    x: vec ? 'read vec4f' : 'read f32',
    y: vec ? 'rw vec4f' : 'rw f32',
  }),
  uniforms: { hw: 'u32', C: 'u32', n: 'u32', scale: 'f32' },
  workgroupSize: 64,
  index: { total: 'n' },
  body: ({ vec }) => `  let c = i % p.C;
  let base = (i / p.C) * p.hw * p.C + c;
  var acc = ${vec ? 'vec4f' : 'f32'}(0.0);
  for (var q = 0u; q < p.hw; q++) { acc += x[base + q * p.C]; }
  y[i] = acc * p.scale;`,
});

function checkX(x: unknown, op: string, arg = 'x'): asserts x is Tensor {
  assertTensor(x, op, arg);
  assertDTypeIn(x, ['float32'], op, arg);
  assertRank(x, 4, op, arg);
  assertBindable(x, op, arg);
}

function poolGeometry(
  op: string,
  xShape: readonly number[],
  poolSize: unknown,
  strides: unknown,
  padding: unknown,
): Geometry {
  const k = typeof poolSize === 'number' ? [poolSize, poolSize] : poolSize;
  if (!Array.isArray(k) || k.length !== 2 || !k.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new ArgumentError(
      `${op}: poolSize must be a positive integer or a pair of them, got ${JSON.stringify(poolSize)}`,
    );
  }
  if (padding !== 'same' && padding !== 'valid') {
    throw new ArgumentError(`${op}: padding must be 'same' or 'valid', got ${JSON.stringify(padding)}`);
  }
  return geometry(op, xShape, k[0], k[1], strides, padding);
}

function attrsOf(g: Geometry): PoolAttrs {
  return { poolSize: [g.kh, g.kw], ...windowAttrs(g) };
}

function runPool(mode: 'max' | 'avg' | 'argmax', x: Tensor, g: Geometry, dtype: 'float32' | 'int32'): Tensor {
  const y = emptyTensor([g.n, g.oh, g.ow, g.c], dtype);
  if (y.size === 0) return y;
  const vec = g.c % 4 === 0;
  const cq = vec ? g.c / 4 : g.c;
  const n = g.n * g.oh * g.ow * cq;
  poolKernel.run({
    constants: { mode, vec },
    buffers: { x, y },
    uniforms: poolUniforms(g, cq, n),
    workgroups: grid(n, 64),
  });
  return y;
}

/** Max over each window: x [N,H,W,C] -> [N,OH,OW,C]. */
export function maxPool(x: Tensor, poolSize: PoolSize, strides: PoolSize, padding: PoolPadding): Tensor {
  const op = 'maxPool';
  checkX(x, op);
  const g = poolGeometry(op, x.shape, poolSize, strides, padding);
  return recordOp(op, [x], runPool('max', x, g, 'float32'), attrsOf(g));
}

/** Mean over each window's in-bounds cells: x [N,H,W,C] -> [N,OH,OW,C]. */
export function avgPool(x: Tensor, poolSize: PoolSize, strides: PoolSize, padding: PoolPadding): Tensor {
  const op = 'avgPool';
  checkX(x, op);
  const g = poolGeometry(op, x.shape, poolSize, strides, padding);
  return recordOp(op, [x], runPool('avg', x, g, 'float32'), attrsOf(g));
}

function checkDy(op: string, dy: Tensor, g: Geometry): void {
  const expect = [g.n, g.oh, g.ow, g.c];
  if (dy.shape.some((d, i) => d !== expect[i])) {
    throw new ShapeError(
      `${op}: dy must have shape ${fmtShape(expect)} (the pooling output), got ${fmtShape(dy.shape)}`,
    );
  }
}

function runGrad(mode: 'max' | 'avg', dy: Tensor, arg: Tensor | undefined, g: Geometry): Tensor {
  const dx = emptyTensor([g.n, g.h, g.w, g.c], 'float32');
  const vec = g.c % 4 === 0;
  const cq = vec ? g.c / 4 : g.c;
  const n = g.n * g.h * g.w * cq;
  poolGradKernel.run({
    constants: { mode, vec },
    buffers: { dy, a: arg, dx },
    uniforms: poolUniforms(g, cq, n),
    workgroups: grid(n, 64),
  });
  return dx;
}

/** The gradient of maxPool: dy [N,OH,OW,C] goes to the first maximum of each window of x. */
export function maxPoolGrad(
  dy: Tensor,
  x: Tensor,
  poolSize: PoolSize,
  strides: PoolSize,
  padding: PoolPadding,
): Tensor {
  const op = 'maxPoolGrad';
  checkX(dy, op, 'dy');
  checkX(x, op);
  const g = poolGeometry(op, x.shape, poolSize, strides, padding);
  checkDy(op, dy, g);
  if (x.size === 0) return recordOp(op, [dy, x], emptyTensor(x.shape, 'float32'), attrsOf(g));
  if (dy.size === 0) return recordOp(op, [dy, x], fillKernel(x.shape, 0, 'float32'), attrsOf(g));
  const arg = runPool('argmax', x, g, 'int32');
  const dx = runGrad('max', dy, arg, g);
  arg.dispose();
  return recordOp(op, [dy, x], dx, attrsOf(g));
}

/** The gradient of avgPool: each dy is shared equally by the in-bounds cells of its window. */
export function avgPoolGrad(
  dy: Tensor,
  inputShape: readonly number[],
  poolSize: PoolSize,
  strides: PoolSize,
  padding: PoolPadding,
): Tensor {
  const op = 'avgPoolGrad';
  checkX(dy, op, 'dy');
  checkShapeArg(inputShape, op, 'inputShape');
  const g = poolGeometry(op, inputShape, poolSize, strides, padding);
  checkDy(op, dy, g);
  const attrs = { inputShape: [...inputShape], ...attrsOf(g) };
  if (dy.size === 0) return recordOp(op, [dy], fillKernel(inputShape, 0, 'float32'), attrs);
  return recordOp(op, [dy], runGrad('avg', dy, undefined, g), attrs);
}

/** Mean over height and width: x [N,H,W,C] -> [N,C]. */
export function globalAvgPool(x: Tensor): Tensor {
  const op = 'globalAvgPool';
  checkX(x, op);
  const [n, h, w, c] = x.shape;
  if (h * w === 0 && n * c > 0) {
    throw new ShapeError(`${op}: x ${fmtShape(x.shape)} has no pixels to average`);
  }
  const y = emptyTensor([n, c], 'float32');
  if (y.size === 0) return recordOp(op, [x], y, {});
  const vec = c % 4 === 0;
  const cq = vec ? c / 4 : c;
  globalAvgKernel.run({
    constants: { vec },
    buffers: { x, y },
    uniforms: { hw: h * w, C: cq, n: n * cq, scale: 1 / (h * w) },
    workgroups: grid(n * cq, 64),
  });
  return recordOp(op, [x], y, {});
}
