import { ArgumentError, fmtShape } from '../tensor/errors.js';
import type { UnaryName } from '../tensor/op-table.js';
import { recordOp } from '../tensor/record.js';
import { shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { activationWgsl } from './activation.js';
import { elementwise, NAN_WGSL } from './elementwise.js';
import { assertDTypeIn, assertTensor } from './util.js';

/** Unary elementwise ops (math and activations), on the shared elementwise engine. */

type Bodies = { f32: string; i32?: string };

const SMOOTH_WGSL = `
// log(1 + e) for e in [0, 1] as 2 atanh(e / (2 + e)): full relative precision for tiny e, where
// lavapipe's log(1 + e) has only absolute precision.
fn log1p01_(e: f32) -> f32 {
  let z = e / (2.0 + e);
  let s = z * z;
  let q = 1.0 / 11.0 + s * (1.0 / 13.0 + s * (1.0 / 15.0));
  return 2.0 * z * (1.0 + s * (1.0 / 3.0 + s * (0.2 + s * (1.0 / 7.0 + s * (1.0 / 9.0 + s * q)))));
}
// tanh with relative precision near 0 (Cephes tanhf polynomial for |x| < 0.625).
fn tanh_(x: f32) -> f32 {
  if (isnan_(x)) { return x; }
  let s = x * x;
  let p = (((-5.70498872745e-3 * s + 2.06390887954e-2) * s - 5.37397155531e-2) * s
    + 1.33314422036e-1) * s - 3.33332819422e-1;
  return select(${activationWgsl('tanh', 'x')}, x + x * s * p, abs(x) < 0.625);
}
// exp(x) - 1 with relative precision near 0 (Taylor series for |x| < 0.1).
fn expm1_(x: f32) -> f32 {
  let p = x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0)))));
  return select(exp(x) - 1.0, p, abs(x) < 0.1);
}`;

const UNARY: Record<UnaryName, Bodies> = {
  neg: { f32: 'return -x;', i32: 'return -x;' },
  abs: { f32: 'return abs(x);', i32: 'return abs(x);' },
  exp: { f32: 'return exp(x);' },
  log: { f32: 'return log(x);' },
  sqrt: { f32: 'return sqrt(x);' },
  rsqrt: { f32: 'return inverseSqrt(x);' },
  square: { f32: 'return x * x;', i32: 'return x * x;' },
  reciprocal: { f32: 'return 1.0 / x;' },
  // select() keeps NaN where max(x, 0) may drop it.
  relu: { f32: 'return select(x, 0.0, x < 0.0);', i32: 'return max(x, 0);' },
  relu6: { f32: 'return select(clamp(x, 0.0, 6.0), x, isnan_(x));', i32: 'return clamp(x, 0, 6);' },
  sigmoid: { f32: `return ${activationWgsl('sigmoid', 'x')};` },
  tanh: { f32: 'return tanh_(x);' },
  sign: { f32: 'return select(sign(x), x, isnan_(x));', i32: 'return sign(x);' },
  floor: { f32: 'return floor(x);' },
  ceil: { f32: 'return ceil(x);' },
  // WGSL round() rounds half to even, like TF.js.
  round: { f32: 'return round(x);' },
  sin: { f32: 'return sin(x);' },
  cos: { f32: 'return cos(x);' },
  // max(x, 0) + log(1 + exp(-|x|)): no overflow for large x, full precision for very negative x.
  softplus: { f32: 'if (isnan_(x)) { return x; } return max(x, 0.0) + log1p01_(exp(-abs(x)));' },
  elu: { f32: 'return select(expm1_(x), x, x > 0.0);' },
};

function unary(op: UnaryName, x: Tensor): Tensor {
  assertTensor(x, op, 'x');
  const bodies = UNARY[op];
  assertDTypeIn(x, bodies.i32 ? ['float32', 'int32'] : ['float32'], op, 'x');
  const t = x.dtype === 'float32' ? 'f32' : 'i32';
  const out = elementwise({
    op,
    body: t === 'f32' ? bodies.f32 : bodies.i32!,
    args: ['x'],
    inputs: [x],
    types: [t],
    outDtype: x.dtype,
    outShape: x.shape,
    helpers: t === 'f32' ? NAN_WGSL + SMOOTH_WGSL : undefined,
  });
  return recordOp(op, [x], out);
}

/** -x (float32 or int32). */
export function neg(x: Tensor): Tensor {
  return unary('neg', x);
}
/** |x| (float32 or int32). */
export function abs(x: Tensor): Tensor {
  return unary('abs', x);
}
/** e^x elementwise. */
export function exp(x: Tensor): Tensor {
  return unary('exp', x);
}
/** Natural log: -Infinity at 0, NaN below. */
export function log(x: Tensor): Tensor {
  return unary('log', x);
}
/** The square root elementwise (NaN below 0). */
export function sqrt(x: Tensor): Tensor {
  return unary('sqrt', x);
}
/** 1 / sqrt(x). */
export function rsqrt(x: Tensor): Tensor {
  return unary('rsqrt', x);
}
/** x * x (float32 or int32). */
export function square(x: Tensor): Tensor {
  return unary('square', x);
}
/** 1 / x. */
export function reciprocal(x: Tensor): Tensor {
  return unary('reciprocal', x);
}
/** max(x, 0) (float32 or int32; NaN stays NaN). */
export function relu(x: Tensor): Tensor {
  return unary('relu', x);
}
/** min(max(x, 0), 6) (float32 or int32). */
export function relu6(x: Tensor): Tensor {
  return unary('relu6', x);
}
/** 1 / (1 + exp(-x)). */
export function sigmoid(x: Tensor): Tensor {
  return unary('sigmoid', x);
}
/** The hyperbolic tangent elementwise. */
export function tanh(x: Tensor): Tensor {
  return unary('tanh', x);
}
/** -1, 0 or 1 (float32 or int32; NaN stays NaN). */
export function sign(x: Tensor): Tensor {
  return unary('sign', x);
}
/** Rounds down elementwise. */
export function floor(x: Tensor): Tensor {
  return unary('floor', x);
}
/** Rounds up elementwise. */
export function ceil(x: Tensor): Tensor {
  return unary('ceil', x);
}
/** Rounds half to even (2.5 -> 2, 3.5 -> 4), as TF.js does. */
export function round(x: Tensor): Tensor {
  return unary('round', x);
}
/** The sine elementwise (radians). */
export function sin(x: Tensor): Tensor {
  return unary('sin', x);
}
/** The cosine elementwise (radians). */
export function cos(x: Tensor): Tensor {
  return unary('cos', x);
}
/** log(1 + exp(x)), computed stably. */
export function softplus(x: Tensor): Tensor {
  return unary('softplus', x);
}
/** x for x > 0, exp(x) - 1 otherwise. */
export function elu(x: Tensor): Tensor {
  return unary('elu', x);
}

function assertAlpha(op: string, alpha: unknown): asserts alpha is number {
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) {
    throw new ArgumentError(`${op}: alpha must be a finite number, got ${String(alpha)}`);
  }
}

/** x for x >= 0, alpha * x otherwise. */
export function leakyRelu(x: Tensor, alpha = 0.2): Tensor {
  assertTensor(x, 'leakyRelu', 'x');
  assertDTypeIn(x, ['float32'], 'leakyRelu', 'x');
  assertAlpha('leakyRelu', alpha);
  const out = elementwise({
    op: 'leakyRelu',
    body: 'return select(alpha * x, x, x >= 0.0);',
    args: ['x', 'alpha'],
    inputs: [x, alpha],
    types: ['f32', 'f32'],
    outDtype: 'float32',
    outShape: x.shape,
  });
  return recordOp('leakyRelu', [x], out, { alpha });
}

/** 1 where x > 0, alpha elsewhere (NaN stays NaN), as float32 (x may be float32 or int32). */
export function step(x: Tensor, alpha = 0): Tensor {
  assertTensor(x, 'step', 'x');
  assertDTypeIn(x, ['float32', 'int32'], 'step', 'x');
  assertAlpha('step', alpha);
  const t = x.dtype === 'float32' ? 'f32' : 'i32';
  const out = elementwise({
    op: 'step',
    body:
      t === 'f32'
        ? 'if (isnan_(x)) { return x; } return select(alpha, 1.0, x > 0.0);'
        : 'return select(alpha, 1.0, x > 0);',
    args: ['x', 'alpha'],
    inputs: [x, alpha],
    types: [t, 'f32'],
    outDtype: 'float32',
    outShape: x.shape,
    helpers: NAN_WGSL,
  });
  return recordOp('step', [x], out, { alpha });
}

/**
 * The gradient of relu / relu6 in one pass: dy * act'(v), with v the activation's input or output
 * (both give the same mask). Same values as composing it: relu `dy * step(v)` (NaN in v gives
 * NaN), relu6 `dy * float(v > 0 && v < 6)`; composed, relu6 took five passes over the tensor.
 */
export function reluGrad(dy: Tensor, v: Tensor, act: 'relu' | 'relu6'): Tensor {
  assertTensor(dy, 'reluGrad', 'dy');
  assertTensor(v, 'reluGrad', 'v');
  assertDTypeIn(dy, ['float32'], 'reluGrad', 'dy');
  assertDTypeIn(v, ['float32'], 'reluGrad', 'v');
  if (!shapesEqual(dy.shape, v.shape)) {
    throw new ArgumentError(
      `reluGrad: dy and v must have the same shape, got ${fmtShape(dy.shape)} and ${fmtShape(v.shape)}`,
    );
  }
  const out = elementwise({
    op: 'reluGrad',
    body:
      act === 'relu'
        ? 'if (isnan_(v)) { return v; } return d * select(0.0, 1.0, v > 0.0);'
        : 'return d * select(0.0, 1.0, v > 0.0 && v < 6.0);',
    args: ['d', 'v'],
    inputs: [dy, v],
    types: ['f32', 'f32'],
    outDtype: 'float32',
    outShape: dy.shape,
    helpers: NAN_WGSL,
  });
  return recordOp('reluGrad', [dy, v], out, { act });
}
