import { div, equal, mul, sub } from '../../kernels/binary.js';
import { cast } from '../../kernels/cast.js';
import { sum } from '../../kernels/reduce.js';
import { exp } from '../../kernels/unary.js';
import { registerGradient, registerNonDifferentiable } from '../registry.js';
import { expandReduced, keptShape } from './util.js';

// Reductions: the gradient flows back to every reduced element (max/min: to the elements equal to
// the result, ties all receiving it, as TensorFlow does).

type Attrs = { axes: number[]; keepDims: boolean };

registerGradient('sum', (dy, r) => {
  const { axes } = r.attrs as Attrs;
  return [expandReduced(dy, r.inputs[0].shape, axes)];
});

registerGradient('mean', (dy, r) => {
  const { axes } = r.attrs as Attrs;
  const x = r.inputs[0];
  const n = axes.reduce((p, a) => p * x.shape[a], 1);
  return [expandReduced(mul(dy, 1 / n), x.shape, axes)];
});

for (const op of ['max', 'min']) {
  registerGradient(op, (dy, r) => {
    const { axes } = r.attrs as Attrs;
    const x = r.inputs[0];
    const mask = cast(equal(x, keptShape(r.output, x.shape, axes)), 'float32');
    return [mul(expandReduced(dy, x.shape, axes), mask)];
  });
}

registerGradient('prod', (dy, r) => {
  const { axes } = r.attrs as Attrs;
  const x = r.inputs[0];
  // d prod / d x_i = prod / x_i (inputs with zeros are not supported by this simple rule).
  return [mul(expandReduced(dy, x.shape, axes), div(keptShape(r.output, x.shape, axes), x))];
});

registerGradient('logSumExp', (dy, r) => {
  const { axes } = r.attrs as Attrs;
  const x = r.inputs[0];
  return [mul(expandReduced(dy, x.shape, axes), exp(sub(x, keptShape(r.output, x.shape, axes))))];
});

registerGradient('softmax', (dy, r) => {
  const { axis } = r.attrs as { axis: number };
  const y = r.output;
  return [mul(y, sub(dy, sum(mul(dy, y), axis, true)))];
});

registerGradient('logSoftmax', (dy, r) => {
  const { axis } = r.attrs as { axis: number };
  return [sub(dy, mul(exp(r.output), sum(dy, axis, true)))];
});

registerNonDifferentiable('argMax', 'argMin', 'any', 'all');
