import { div, greater, greaterEqual, lessEqual, mul, pow, sub } from '../../kernels/binary.js';
import { cast } from '../../kernels/cast.js';
import { where } from '../../kernels/select.js';
import { floor, log, neg } from '../../kernels/unary.js';
import { zeros } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GradTable } from '../registry.js';
import { unbroadcast } from './util.js';

// Binary ops: each input's gradient is summed back over the axes it was broadcast along.

const f32 = (m: Tensor) => cast(m, 'float32');

export const binaryGrads = {
  add: (dy, r, need) => [
    need[0] ? unbroadcast(dy, r.inputs[0].shape) : null,
    need[1] ? unbroadcast(dy, r.inputs[1].shape) : null,
  ],

  sub: (dy, r, need) => [
    need[0] ? unbroadcast(dy, r.inputs[0].shape) : null,
    need[1] ? unbroadcast(neg(dy), r.inputs[1].shape) : null,
  ],

  mul: (dy, r, need) => {
    const [a, b] = r.inputs;
    return [
      need[0] ? unbroadcast(mul(dy, b), a.shape) : null,
      need[1] ? unbroadcast(mul(dy, a), b.shape) : null,
    ];
  },

  div: (dy, r, need) => {
    const [a, b] = r.inputs;
    return [
      need[0] ? unbroadcast(div(dy, b), a.shape) : null,
      need[1] ? unbroadcast(neg(div(mul(dy, a), mul(b, b))), b.shape) : null,
    ];
  },

  // Ties send the gradient to a, as TensorFlow does.
  maximum: (dy, r, need) => {
    const [a, b] = r.inputs;
    const m = f32(greaterEqual(a, b));
    return [
      need[0] ? unbroadcast(mul(dy, m), a.shape) : null,
      need[1] ? unbroadcast(mul(dy, sub(1, m)), b.shape) : null,
    ];
  },

  minimum: (dy, r, need) => {
    const [a, b] = r.inputs;
    const m = f32(lessEqual(a, b));
    return [
      need[0] ? unbroadcast(mul(dy, m), a.shape) : null,
      need[1] ? unbroadcast(mul(dy, sub(1, m)), b.shape) : null,
    ];
  },

  pow: (dy, r, need) => {
    const [a, b] = r.inputs;
    const y = r.output;
    const da = need[0] ? unbroadcast(mul(dy, mul(b, pow(a, sub(b, 1)))), a.shape) : null;
    // d/db a^b = a^b log(a), defined for a > 0 (0 elsewhere, as TensorFlow).
    const db = need[1]
      ? unbroadcast(mul(dy, where(greater(a, 0), mul(y, log(a)), zeros(y.shape))), b.shape)
      : null;
    return [da, db];
  },

  squaredDifference: (dy, r, need) => {
    const [a, b] = r.inputs;
    const g = mul(mul(dy, sub(a, b)), 2);
    return [need[0] ? unbroadcast(g, a.shape) : null, need[1] ? unbroadcast(neg(g), b.shape) : null];
  },

  mod: (dy, r, need) => {
    const [a, b] = r.inputs;
    // a mod b = a - floor(a / b) * b
    return [
      need[0] ? unbroadcast(dy, a.shape) : null,
      need[1] ? unbroadcast(neg(mul(dy, floor(div(a, b)))), b.shape) : null,
    ];
  },

  where: (dy, r, need) => {
    const [c, a, b] = r.inputs;
    const z = zeros(dy.shape);
    return [
      null,
      need[1] ? unbroadcast(where(c, dy, z), a.shape) : null,
      need[2] ? unbroadcast(where(c, z, dy), b.shape) : null,
    ];
  },

  floorDiv: 'nondiff',
  equal: 'nondiff',
  notEqual: 'nondiff',
  less: 'nondiff',
  lessEqual: 'nondiff',
  greater: 'nondiff',
  greaterEqual: 'nondiff',
  logicalAnd: 'nondiff',
  logicalOr: 'nondiff',
  logicalNot: 'nondiff',
} satisfies Partial<GradTable>;
