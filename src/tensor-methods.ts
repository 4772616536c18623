// Installs the op methods declared on `Tensor` (src/tensor/tensor.ts, by declaration merging) on
// Tensor.prototype. src/ops.ts imports this module, so every entry point that exports the ops also
// has the methods; src/tensor itself never imports the kernels. Each method is the function of the
// same name with `this` as its first argument: same checks, same autograd recording, same errors.
import {
  add,
  div,
  equal,
  greater,
  greaterEqual,
  less,
  lessEqual,
  maximum,
  minimum,
  mul,
  notEqual,
  pow,
  squaredDifference,
  sub,
} from './kernels/binary.js';
import { cast } from './kernels/cast.js';
import { matmul } from './kernels/matmul.js';
import { argMax, argMin, max, mean, min, prod, sum } from './kernels/reduce.js';
import { expandDims, reshape, squeeze } from './kernels/reshape.js';
import { clipByValue } from './kernels/select.js';
import { logSoftmax, softmax } from './kernels/softmax.js';
import { transpose } from './kernels/transpose.js';
import { abs, exp, log, neg, relu, rsqrt, sigmoid, sqrt, square, tanh } from './kernels/unary.js';
import { type NestedArray, Tensor } from './tensor/tensor.js';

/** The names of the op methods declared on the merged `Tensor` interface. */
type MethodName =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'squaredDifference'
  | 'equal'
  | 'notEqual'
  | 'greater'
  | 'greaterEqual'
  | 'less'
  | 'lessEqual'
  | 'matmul'
  | 'reshape'
  | 'flatten'
  | 'expandDims'
  | 'squeeze'
  | 'transpose'
  | 'sum'
  | 'mean'
  | 'max'
  | 'min'
  | 'prod'
  | 'argMax'
  | 'argMin'
  | 'softmax'
  | 'logSoftmax'
  | 'exp'
  | 'log'
  | 'square'
  | 'sqrt'
  | 'rsqrt'
  | 'abs'
  | 'neg'
  | 'relu'
  | 'sigmoid'
  | 'tanh'
  | 'clipByValue'
  | 'cast'
  | 'print';

function formatValues(v: NestedArray): string {
  return Array.isArray(v) ? `[${v.map(formatValues).join(', ')}]` : String(v);
}

/** The method table: each entry forwards to the function form with `this` first. */
const METHODS: {
  [K in MethodName]: (this: Tensor, ...args: Parameters<Tensor[K]>) => ReturnType<Tensor[K]>;
} = {
  add(b) {
    return add(this, b);
  },
  sub(b) {
    return sub(this, b);
  },
  mul(b) {
    return mul(this, b);
  },
  div(b) {
    return div(this, b);
  },
  pow(b) {
    return pow(this, b);
  },
  maximum(b) {
    return maximum(this, b);
  },
  minimum(b) {
    return minimum(this, b);
  },
  squaredDifference(b) {
    return squaredDifference(this, b);
  },
  equal(b) {
    return equal(this, b);
  },
  notEqual(b) {
    return notEqual(this, b);
  },
  greater(b) {
    return greater(this, b);
  },
  greaterEqual(b) {
    return greaterEqual(this, b);
  },
  less(b) {
    return less(this, b);
  },
  lessEqual(b) {
    return lessEqual(this, b);
  },
  matmul(b, opts) {
    return matmul(this, b, opts);
  },
  reshape(shape) {
    return reshape(this, shape);
  },
  flatten() {
    return reshape(this, [-1]);
  },
  expandDims(axis) {
    return expandDims(this, axis);
  },
  squeeze(axis) {
    return squeeze(this, axis);
  },
  transpose(perm) {
    return transpose(this, perm);
  },
  sum(axis, keepDims) {
    return sum(this, axis, keepDims);
  },
  mean(axis, keepDims) {
    return mean(this, axis, keepDims);
  },
  max(axis, keepDims) {
    return max(this, axis, keepDims);
  },
  min(axis, keepDims) {
    return min(this, axis, keepDims);
  },
  prod(axis, keepDims) {
    return prod(this, axis, keepDims);
  },
  argMax(axis) {
    return argMax(this, axis);
  },
  argMin(axis) {
    return argMin(this, axis);
  },
  softmax(axis) {
    return softmax(this, axis);
  },
  logSoftmax(axis) {
    return logSoftmax(this, axis);
  },
  exp() {
    return exp(this);
  },
  log() {
    return log(this);
  },
  square() {
    return square(this);
  },
  sqrt() {
    return sqrt(this);
  },
  rsqrt() {
    return rsqrt(this);
  },
  abs() {
    return abs(this);
  },
  neg() {
    return neg(this);
  },
  relu() {
    return relu(this);
  },
  sigmoid() {
    return sigmoid(this);
  },
  tanh() {
    return tanh(this);
  },
  clipByValue(lo, hi) {
    return clipByValue(this, lo, hi);
  },
  cast(dtype) {
    return cast(this, dtype);
  },
  async print() {
    const values = await this.array();
    console.log(`${this.toString()}\n${formatValues(values)}`);
  },
};

for (const [name, fn] of Object.entries(METHODS)) {
  Object.defineProperty(Tensor.prototype, name, { value: fn, writable: true, configurable: true });
}
