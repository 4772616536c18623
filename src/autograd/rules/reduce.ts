import { div, equal, mul, sub } from '../../kernels/binary.js';
import { cast } from '../../kernels/cast.js';
import { sum } from '../../kernels/reduce.js';
import { exp } from '../../kernels/unary.js';
import type { GradRule, GradTable } from '../registry.js';
import { expandReduced, keptShape } from './util.js';

// Reductions: the gradient flows back to every reduced element (max/min: to the elements equal to
// the result, ties all receiving it, as TensorFlow does).

/** max / min: the gradient goes to every element equal to the result. */
function extremumRule<K extends 'max' | 'min'>(): GradRule<K> {
  return (dy, r) => {
    const { axes } = r.attrs;
    const x = r.inputs[0];
    const mask = cast(equal(x, keptShape(r.output, x.shape, axes)), 'float32');
    return [mul(expandReduced(dy, x.shape, axes), mask)];
  };
}

export const reduceGrads = {
  sum: (dy, r) => {
    const { axes } = r.attrs;
    return [expandReduced(dy, r.inputs[0].shape, axes)];
  },

  mean: (dy, r) => {
    const { axes } = r.attrs;
    const x = r.inputs[0];
    const n = axes.reduce((p, a) => p * x.shape[a], 1);
    return [expandReduced(mul(dy, 1 / n), x.shape, axes)];
  },

  max: extremumRule(),
  min: extremumRule(),

  prod: (dy, r) => {
    const { axes } = r.attrs;
    const x = r.inputs[0];
    // d prod / d x_i = prod / x_i (inputs with zeros are not supported by this simple rule).
    return [mul(expandReduced(dy, x.shape, axes), div(keptShape(r.output, x.shape, axes), x))];
  },

  logSumExp: (dy, r) => {
    const { axes } = r.attrs;
    const x = r.inputs[0];
    return [mul(expandReduced(dy, x.shape, axes), exp(sub(x, keptShape(r.output, x.shape, axes))))];
  },

  softmax: (dy, r) => {
    const { axis } = r.attrs;
    const y = r.output;
    return [mul(y, sub(dy, sum(mul(dy, y), axis, true)))];
  },

  logSoftmax: (dy, r) => {
    const { axis } = r.attrs;
    return [sub(dy, mul(exp(r.output), sum(dy, axis, true)))];
  },

  argMax: 'nondiff',
  argMin: 'nondiff',
  any: 'nondiff',
  all: 'nondiff',
} satisfies Partial<GradTable>;
