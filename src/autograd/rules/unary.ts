import { add, div, greater, greaterEqual, lessEqual, logicalAnd, mul, sub } from '../../kernels/binary.js';
import { cast } from '../../kernels/cast.js';
import { where } from '../../kernels/select.js';
import { cos, neg, reluGrad, sigmoid, sign, sin } from '../../kernels/unary.js';
import { fill, zeros } from '../../tensor/creation.js';
import type { OpName } from '../../tensor/op-table.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GradRule, GradTable } from '../registry.js';

// Unary ops: dx = dy * f'(x), written with the forward output y where that is cheaper.

/** A rule of one input from (dy, x, y). */
function unary<K extends OpName>(rule: (dy: Tensor, x: Tensor, y: Tensor) => Tensor): GradRule<K> {
  return (dy, r) => [rule(dy, r.inputs[0], r.output)];
}

const f32 = (m: Tensor) => cast(m, 'float32');
// Piecewise-constant functions: zero gradient almost everywhere (as TensorFlow).
const flat = <K extends OpName>() => unary<K>((_dy, x) => zeros(x.shape));

export const unaryGrads = {
  neg: unary((dy) => neg(dy)),
  abs: unary((dy, x) => mul(dy, sign(x))),
  exp: unary((dy, _x, y) => mul(dy, y)),
  log: unary((dy, x) => div(dy, x)),
  sqrt: unary((dy, _x, y) => div(dy, mul(y, 2))),
  rsqrt: unary((dy, x, y) => mul(dy, div(mul(y, -0.5), x))),
  square: unary((dy, x) => mul(dy, mul(x, 2))),
  reciprocal: unary((dy, _x, y) => neg(mul(dy, mul(y, y)))),
  relu: unary((dy, x) => reluGrad(dy, x, 'relu')),
  relu6: unary((dy, x) => reluGrad(dy, x, 'relu6')),
  // Linear in dy (the mask is constant almost everywhere): d/d(dy) is the same mask, d/dv is zero.
  reluGrad: (ddx, r) => [reluGrad(ddx, r.inputs[1], r.attrs.act), null],
  sigmoid: unary((dy, _x, y) => mul(dy, mul(y, sub(1, y)))),
  tanh: unary((dy, _x, y) => mul(dy, sub(1, mul(y, y)))),
  softplus: unary((dy, x) => mul(dy, sigmoid(x))),
  elu: unary((dy, x, y) => mul(dy, where(greater(x, 0), fill(x.shape, 1), add(y, 1)))),
  leakyRelu: (dy, r) => {
    const x = r.inputs[0];
    return [mul(dy, where(greater(x, 0), fill(x.shape, 1), fill(x.shape, r.attrs.alpha)))];
  },
  sin: unary((dy, x) => mul(dy, cos(x))),
  cos: unary((dy, x) => neg(mul(dy, sin(x)))),
  sign: flat(),
  floor: flat(),
  ceil: flat(),
  round: flat(),
  step: flat(),
  cast: (dy, r) => [r.inputs[0].dtype === 'float32' ? dy : null],
  clipByValue: (dy, r) => {
    const x = r.inputs[0];
    const { min, max } = r.attrs;
    return [mul(dy, f32(logicalAnd(greaterEqual(x, min), lessEqual(x, max))))];
  },
  logicalNot: 'nondiff',
} satisfies Partial<GradTable>;
