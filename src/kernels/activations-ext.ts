import { ArgumentError, fmtShape } from '../tensor/errors.js';
import type { ExtActivation } from '../tensor/op-table.js';
import { recordOp } from '../tensor/record.js';
import { shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { elementwise, NAN_WGSL } from './elementwise.js';
import { assertDTypeIn, assertTensor } from './util.js';

/**
 * The activations of modern models (Keras 3 definitions), each one elementwise pass forward and
 * one fused pass for the gradient (`activationGrad`: dy * f'(x)), on the shared elementwise engine.
 */

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** Shared WGSL: erf (Taylor series below 0.5, for relative precision near 0; above, Numerical
 * Recipes' erfcc, fractional error < 1.2e-7), expm1 and sigmoid. */
const HELPERS = `${NAN_WGSL}
fn erf_(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.5) {
    let s = x * x;
    // 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320)
    return 1.1283791670955126 * x * (1.0 + s * (-1.0 / 3.0 + s * (0.1 + s * (-1.0 / 42.0 + s * (1.0 / 216.0 + s * (-1.0 / 1320.0))))));
  }
  // Numerical Recipes erfcc (fractional error < 1.2e-7).
  let t = 1.0 / (1.0 + 0.5 * a);
  let y = t * exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return sign(x) * (1.0 - y);
}
fn sigm_(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
// exp(x) - 1 with relative precision near 0 (Taylor series for |x| < 0.1).
fn expm1_(x: f32) -> f32 {
  let p = x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0)))));
  return select(exp(x) - 1.0, p, abs(x) < 0.1);
}
const GELU_C: f32 = 0.7978845608028654;
const SELU_A: f32 = ${SELU_ALPHA};
const SELU_S: f32 = ${SELU_SCALE};`;

interface Def {
  /** f(x). */
  f: string;
  /** f'(x), as an expression of x. */
  df: string;
}

const DEFS: Record<ExtActivation, Def> = {
  gelu: {
    f: 'return 0.5 * x * (1.0 + erf_(x * 0.7071067811865476));',
    df: 'return 0.5 * (1.0 + erf_(x * 0.7071067811865476)) + x * 0.3989422804014327 * exp(-0.5 * x * x);',
  },
  // 0.5 (1 + tanh(z)) = sigmoid(2z): no cancellation where tanh(z) is near -1.
  geluTanh: {
    f: 'return x * sigm_(2.0 * GELU_C * (x + 0.044715 * x * x * x));',
    df: `let s = sigm_(2.0 * GELU_C * (x + 0.044715 * x * x * x));
  return s + x * 2.0 * s * (1.0 - s) * GELU_C * (1.0 + 0.134145 * x * x);`,
  },
  silu: {
    f: 'return x * sigm_(x);',
    df: 'let s = sigm_(x); return s * (1.0 + x * (1.0 - s));',
  },
  selu: {
    f: 'if (isnan_(x)) { return x; } return SELU_S * select(SELU_A * expm1_(min(x, 0.0)), x, x > 0.0);',
    df: 'return SELU_S * select(SELU_A * exp(min(x, 0.0)), 1.0, x > 0.0);',
  },
  softsign: {
    f: 'return x / (1.0 + abs(x));',
    df: 'let d = 1.0 + abs(x); return 1.0 / (d * d);',
  },
  hardSigmoid: {
    f: 'if (isnan_(x)) { return x; } return clamp(x + 3.0, 0.0, 6.0) / 6.0;',
    df: 'return select(0.0, 1.0 / 6.0, x > -3.0 && x < 3.0);',
  },
  hardSwish: {
    f: 'if (isnan_(x)) { return x; } return x * clamp(x + 3.0, 0.0, 6.0) / 6.0;',
    df: 'if (x <= -3.0) { return 0.0; } if (x >= 3.0) { return 1.0; } return (2.0 * x + 3.0) / 6.0;',
  },
  // tanh(softplus(x)) = n / (n + 2) with n = e^x (e^x + 2): no log, no cancellation for x < 0.
  mish: {
    f: 'if (x > 20.0) { return x; } let e = exp(x); let n = e * (e + 2.0); return x * n / (n + 2.0);',
    df: `if (x > 20.0) { return 1.0; }
  let e = exp(x);
  let n = e * (e + 2.0);
  let t = n / (n + 2.0);
  return t + x * (1.0 - t * t) * sigm_(x);`,
  },
};

function activation(op: ExtActivation, x: Tensor): Tensor {
  const name = op === 'geluTanh' ? 'gelu' : op;
  assertTensor(x, name, 'x');
  assertDTypeIn(x, ['float32'], name, 'x');
  const out = elementwise({
    op: name,
    body: DEFS[op].f,
    args: ['x'],
    inputs: [x],
    types: ['f32'],
    outDtype: 'float32',
    outShape: x.shape,
    helpers: HELPERS,
  });
  return recordOp('activation', [x], out, { kind: op });
}

/**
 * dy * f'(x) for an activation of this family, in one pass (the gradient rule of `activation`).
 * Recorded as 'activationGrad', which is not differentiable again (second derivatives of these
 * activations are not supported).
 */
export function activationGrad(dy: Tensor, x: Tensor, kind: ExtActivation): Tensor {
  const op = 'activationGrad';
  assertTensor(dy, op, 'dy');
  assertTensor(x, op, 'x');
  assertDTypeIn(dy, ['float32'], op, 'dy');
  assertDTypeIn(x, ['float32'], op, 'x');
  if (!(kind in DEFS)) throw new ArgumentError(`${op}: unknown kind ${JSON.stringify(kind)}`);
  if (!shapesEqual(dy.shape, x.shape)) {
    throw new ArgumentError(
      `${op}: dy and x must have the same shape, got ${fmtShape(dy.shape)} and ${fmtShape(x.shape)}`,
    );
  }
  const out = elementwise({
    op,
    body: `return d * df(x);`,
    args: ['d', 'x'],
    inputs: [dy, x],
    types: ['f32', 'f32'],
    outDtype: 'float32',
    outShape: x.shape,
    helpers: `${HELPERS}\nfn df(x: f32) -> f32 {\n  ${DEFS[kind].df}\n}`,
  });
  return recordOp(op, [dy, x], out, { kind });
}

/**
 * Gaussian error linear unit: `x * Φ(x)` with the normal CDF Φ (exact, with erf), or with
 * `approximate: true` the tanh form `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))` (Keras `gelu`).
 */
export function gelu(x: Tensor, approximate = false): Tensor {
  if (typeof approximate !== 'boolean') {
    throw new ArgumentError(`gelu: approximate must be a boolean, got ${JSON.stringify(approximate)}`);
  }
  return activation(approximate ? 'geluTanh' : 'gelu', x);
}
/** `x * sigmoid(x)` (Keras `silu`, alias `swish`). */
export function silu(x: Tensor): Tensor {
  return activation('silu', x);
}
/** Scaled ELU: `scale * (x > 0 ? x : alpha * (exp(x) - 1))` with Keras' alpha 1.6733 and scale 1.0507. */
export function selu(x: Tensor): Tensor {
  return activation('selu', x);
}
/** `x / (1 + |x|)`. */
export function softsign(x: Tensor): Tensor {
  return activation('softsign', x);
}
/** Keras 3 `hard_sigmoid`: `relu6(x + 3) / 6`. */
export function hardSigmoid(x: Tensor): Tensor {
  return activation('hardSigmoid', x);
}
/** Keras 3 `hard_swish` (`hard_silu`): `x * relu6(x + 3) / 6`. */
export function hardSwish(x: Tensor): Tensor {
  return activation('hardSwish', x);
}
/** `x * tanh(softplus(x))`. */
export function mish(x: Tensor): Tensor {
  return activation('mish', x);
}
