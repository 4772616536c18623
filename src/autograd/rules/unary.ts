import { add, div, greater, greaterEqual, lessEqual, logicalAnd, mul, sub } from '../../kernels/binary.js';
import { cast } from '../../kernels/cast.js';
import { where } from '../../kernels/select.js';
import { cos, neg, reluGrad, sigmoid, sign, sin } from '../../kernels/unary.js';
import { fill, zeros } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { registerGradient, registerNonDifferentiable } from '../registry.js';

// Unary ops: dx = dy * f'(x), written with the forward output y where that is cheaper.

type Unary = (dy: Tensor, x: Tensor, y: Tensor, attrs: Readonly<Record<string, unknown>>) => Tensor;

function unary(op: string, rule: Unary): void {
  registerGradient(op, (dy, r) => [rule(dy, r.inputs[0], r.output, r.attrs ?? {})]);
}

const f32 = (m: Tensor) => cast(m, 'float32');

unary('neg', (dy) => neg(dy));
unary('abs', (dy, x) => mul(dy, sign(x)));
unary('exp', (dy, _x, y) => mul(dy, y));
unary('log', (dy, x) => div(dy, x));
unary('sqrt', (dy, _x, y) => div(dy, mul(y, 2)));
unary('rsqrt', (dy, x, y) => mul(dy, div(mul(y, -0.5), x)));
unary('square', (dy, x) => mul(dy, mul(x, 2)));
unary('reciprocal', (dy, _x, y) => neg(mul(dy, mul(y, y))));
unary('relu', (dy, x) => reluGrad(dy, x, 'relu'));
unary('relu6', (dy, x) => reluGrad(dy, x, 'relu6'));
// Linear in dy (the mask is constant almost everywhere): d/d(dy) is the same mask, d/dv is zero.
registerGradient('reluGrad', (ddx, r) => [
  reluGrad(ddx, r.inputs[1], (r.attrs as { act: 'relu' | 'relu6' }).act),
  null,
]);
unary('sigmoid', (dy, _x, y) => mul(dy, mul(y, sub(1, y))));
unary('tanh', (dy, _x, y) => mul(dy, sub(1, mul(y, y))));
unary('softplus', (dy, x) => mul(dy, sigmoid(x)));
unary('elu', (dy, x, y) => mul(dy, where(greater(x, 0), fill(x.shape, 1), add(y, 1))));
unary('leakyRelu', (dy, x, _y, a) =>
  mul(dy, where(greater(x, 0), fill(x.shape, 1), fill(x.shape, Number(a.alpha ?? 0.2)))),
);
unary('sin', (dy, x) => mul(dy, cos(x)));
unary('cos', (dy, x) => neg(mul(dy, sin(x))));
// Piecewise-constant functions: zero gradient almost everywhere (as TensorFlow).
for (const op of ['sign', 'floor', 'ceil', 'round', 'step']) unary(op, (_dy, x) => zeros(x.shape));

registerGradient('cast', (dy, r) => [r.inputs[0].dtype === 'float32' ? dy : null]);
registerGradient('clipByValue', (dy, r) => {
  const x = r.inputs[0];
  const { min, max } = (r.attrs ?? {}) as { min: number; max: number };
  return [mul(dy, f32(logicalAnd(greaterEqual(x, min), lessEqual(x, max))))];
});
registerNonDifferentiable('logicalNot');
