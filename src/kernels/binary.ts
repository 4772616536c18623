import { type DType, wgslType } from '../tensor/dtype.js';
import { DTypeError } from '../tensor/errors.js';
import type { BinaryName } from '../tensor/op-table.js';
import { recordOp } from '../tensor/record.js';
import { Tensor } from '../tensor/tensor.js';
import {
  broadcastAll,
  checkOperands,
  elementwise,
  NAN_WGSL,
  type Operand,
  recordElementwise,
} from './elementwise.js';
import { assertDTypeIn, assertTensor } from './util.js';

/** Binary elementwise ops with NumPy broadcasting (and logicalNot), on the shared elementwise engine. */

export type { Operand } from './elementwise.js';

type Bodies = { f32?: string; i32?: string };

const INT_FLOOR_DIV = `
  if (b == 0) { return 0; }
  let q = a / b;
  let r = a - q * b;
  return select(q, q - 1, r != 0 && ((r < 0) != (b < 0)));`;

const ARITH: Partial<Record<BinaryName, Bodies>> = {
  add: { f32: 'return a + b;', i32: 'return a + b;' },
  sub: { f32: 'return a - b;', i32: 'return a - b;' },
  mul: { f32: 'return a * b;', i32: 'return a * b;' },
  div: { f32: 'return a / b;', i32: INT_FLOOR_DIV },
  floorDiv: { f32: 'return floor(a / b);', i32: INT_FLOOR_DIV },
  // Floor modulo: the result takes the sign of the divisor (as in TF and Python).
  mod: {
    f32: 'let r = a % b; return select(r, r + b, r != 0.0 && ((r < 0.0) != (b < 0.0)));',
    i32: `
  if (b == 0) { return 0; }
  let r = a - (a / b) * b;
  return select(r, r + b, r != 0 && ((r < 0) != (b < 0)));`,
  },
  // max/min of NaN is undefined in WGSL; propagate NaN as TF does.
  maximum: {
    f32: 'return select(select(max(a, b), b, isnan_(b)), a, isnan_(a));',
    i32: 'return max(a, b);',
  },
  minimum: {
    f32: 'return select(select(min(a, b), b, isnan_(b)), a, isnan_(a));',
    i32: 'return min(a, b);',
  },
  squaredDifference: { f32: 'let d = a - b; return d * d;', i32: 'let d = a - b; return d * d;' },
  // WGSL pow is undefined for a < 0; handle the sign for integer exponents like Math.pow.
  pow: {
    f32: `
  let r = pow(abs(a), b);
  let isInt = round(b) == b;
  let odd = isInt && abs(b - 2.0 * floor(b * 0.5)) == 1.0;
  var s = select(r, -r, a < 0.0 && odd);
  s = select(s, nan_(), a < 0.0 && !isInt);
  s = select(s, inf_(), a == 0.0 && b < 0.0);
  return select(s, 1.0, b == 0.0);`,
    // Integer powers by squaring (wrapping like int32 mul); a negative exponent truncates 1/a^|b|.
    i32: `
  if (b < 0) { return select(select(0, select(1, -1, (b & 1) != 0), a == -1), 1, a == 1); }
  var r = 1;
  var base = a;
  var e = b;
  while (e > 0) {
    if ((e & 1) != 0) { r = r * base; }
    base = base * base;
    e = e >> 1;
  }
  return r;`,
  },
};

const COMPARE: Record<string, string> = {
  equal: '==',
  notEqual: '!=',
  less: '<',
  lessEqual: '<=',
  greater: '>',
  greaterEqual: '>=',
};

function binary(op: BinaryName, a: Operand, b: Operand, kind: 'arith' | 'compare' | 'logical'): Tensor {
  const names = ['a', 'b'];
  const { dtype, inputs } = checkOperands(op, names, [a, b]);
  const allowed: DType[] =
    kind === 'arith' ? ['float32', 'int32'] : kind === 'logical' ? ['bool'] : ['float32', 'int32', 'bool'];
  if (!allowed.includes(dtype)) {
    const which = inputs[0] instanceof Tensor ? 'a' : 'b';
    throw new DTypeError(`${op}: ${which} must have dtype ${allowed.join(' or ')}, got ${dtype}`);
  }
  const t = wgslType(dtype);
  let body: string;
  if (kind === 'arith') body = ARITH[op]![t]!;
  // lavapipe compiles `!=` on floats as an ordered compare (false for NaN); negate `==` instead.
  else if (kind === 'compare')
    body = op === 'notEqual' ? 'return i32(!(a == b));' : `return i32(a ${COMPARE[op]} b);`;
  else body = `return i32((a != 0) ${op === 'logicalAnd' ? '&&' : '||'} (b != 0));`;
  const outShape = broadcastAll(op, names, inputs);
  const out = elementwise({
    op,
    body,
    args: names,
    inputs,
    types: [t, t],
    outDtype: kind === 'arith' ? dtype : 'bool',
    outShape,
    helpers: t === 'f32' ? NAN_WGSL : undefined,
  });
  return recordElementwise(op, inputs, dtype, out);
}

/** a + b with broadcasting. */
export function add(a: Operand, b: Operand): Tensor {
  return binary('add', a, b, 'arith');
}
/** a - b with broadcasting. */
export function sub(a: Operand, b: Operand): Tensor {
  return binary('sub', a, b, 'arith');
}
/** a * b with broadcasting. */
export function mul(a: Operand, b: Operand): Tensor {
  return binary('mul', a, b, 'arith');
}
/** a / b with broadcasting; int32 division floors (like TF.js), and x / 0 is 0 for int32. */
export function div(a: Operand, b: Operand): Tensor {
  return binary('div', a, b, 'arith');
}
/** floor(a / b); for int32, x / 0 is 0. */
export function floorDiv(a: Operand, b: Operand): Tensor {
  return binary('floorDiv', a, b, 'arith');
}
/** Floor modulo: the result has the sign of b; for int32, x mod 0 is 0. */
export function mod(a: Operand, b: Operand): Tensor {
  return binary('mod', a, b, 'arith');
}
/** Elementwise maximum (NaN if either is NaN). */
export function maximum(a: Operand, b: Operand): Tensor {
  return binary('maximum', a, b, 'arith');
}
/** Elementwise minimum (NaN if either is NaN). */
export function minimum(a: Operand, b: Operand): Tensor {
  return binary('minimum', a, b, 'arith');
}
/** a ** b, with Math.pow's sign rules for negative bases; int32 uses integer powers. */
export function pow(a: Operand, b: Operand): Tensor {
  return binary('pow', a, b, 'arith');
}
/** (a - b)^2. */
export function squaredDifference(a: Operand, b: Operand): Tensor {
  return binary('squaredDifference', a, b, 'arith');
}
/** a == b, as a bool tensor. */
export function equal(a: Operand, b: Operand): Tensor {
  return binary('equal', a, b, 'compare');
}
/** a != b, as a bool tensor. */
export function notEqual(a: Operand, b: Operand): Tensor {
  return binary('notEqual', a, b, 'compare');
}
/** a < b, as a bool tensor. */
export function less(a: Operand, b: Operand): Tensor {
  return binary('less', a, b, 'compare');
}
/** a <= b, as a bool tensor. */
export function lessEqual(a: Operand, b: Operand): Tensor {
  return binary('lessEqual', a, b, 'compare');
}
/** a > b, as a bool tensor. */
export function greater(a: Operand, b: Operand): Tensor {
  return binary('greater', a, b, 'compare');
}
/** a >= b, as a bool tensor. */
export function greaterEqual(a: Operand, b: Operand): Tensor {
  return binary('greaterEqual', a, b, 'compare');
}
/** a AND b for bool tensors. */
export function logicalAnd(a: Operand, b: Operand): Tensor {
  return binary('logicalAnd', a, b, 'logical');
}
/** a OR b for bool tensors. */
export function logicalOr(a: Operand, b: Operand): Tensor {
  return binary('logicalOr', a, b, 'logical');
}
/** NOT x for a bool tensor. */
export function logicalNot(x: Tensor): Tensor {
  assertTensor(x, 'logicalNot', 'x');
  assertDTypeIn(x, ['bool'], 'logicalNot', 'x');
  const out = elementwise({
    op: 'logicalNot',
    body: 'return i32(x == 0);',
    args: ['x'],
    inputs: [x],
    types: ['i32'],
    outDtype: 'bool',
    outShape: x.shape,
  });
  return recordOp('logicalNot', [x], out);
}
