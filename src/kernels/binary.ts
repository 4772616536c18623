import { scalar } from '../tensor/creation.js';
import { type DType, wgslType } from '../tensor/dtype.js';
import { ArgumentError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import type { BinaryName } from '../tensor/op-table.js';
import { type BufferBinding, ParamWriter, runKernel } from '../tensor/queue.js';
import { isRecording as recording, recordOp } from '../tensor/record.js';
import { broadcastShapes, sizeOf } from '../tensor/shape.js';
import { emptyTensor, Tensor } from '../tensor/tensor.js';
import {
  assertBindable,
  assertDTypeIn,
  assertTensor,
  chunks,
  grid,
  linearIndex,
  range,
  WG,
  whole,
} from './util.js';

/**
 * Elementwise kernels with NumPy broadcasting. The engine below (`elementwise`) is shared by the
 * unary, binary, select and cast families: it collapses the broadcast pattern to as few dims as
 * possible, bakes the collapsed shape and strides into the WGSL, processes 4 elements per vec4
 * when the innermost dim allows it, and splits outputs over the binding limit into chunks.
 */

/** A tensor, or a number passed to the kernel as a uniform. */
export type Operand = Tensor | number;
type WType = 'f32' | 'i32';

export interface ElementwiseSpec {
  /** Op name, for errors. */
  op: string;
  /** Identifies `body` (op and dtypes): part of the pipeline key. */
  key: string;
  /** WGSL body of `fn f(x0: T0, x1: T1, ...) -> R`; argument names come from `args`. */
  body: string;
  args: readonly string[];
  inputs: readonly Operand[];
  /** WGSL type of each input (a number input is passed as this type). */
  types: readonly WType[];
  outDtype: DType;
  outShape: readonly number[];
  /** Extra WGSL (helper functions) placed before `f`. */
  helpers?: string;
}

// vec4 units per invocation: 4 measured ~1.3-1.5x faster than 1 on lavapipe (16M add); 8 is slower.
const UNITS = 4;

/** WGSL helpers: a NaN test immune to folding of `x != x`; NaN and Infinity as runtime values
 * (constant ones are shader-creation errors). */
export const NAN_WGSL = `
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
fn isnan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn nan_() -> f32 { return bitcast<f32>(NAN_BITS); }
fn inf_() -> f32 { return bitcast<f32>(INF_BITS); }`;

type Kind = 'full' | 'splat' | 'bcast' | 'uniform';
interface Layout {
  shape: number[];
  /** Per input: per collapsed dim, whether the input spans it (false: broadcast). */
  spans: boolean[][];
}

/** Drops size-1 output dims and merges neighbours that every input spans (or not) alike. */
function collapse(outShape: readonly number[], shapes: (readonly number[] | undefined)[]): Layout {
  const r = outShape.length;
  const shape: number[] = [];
  const spans: boolean[][] = shapes.map(() => []);
  for (let d = 0; d < r; d++) {
    if (outShape[d] === 1) continue;
    const pat = shapes.map((s) => (s ? (s[s.length - r + d] ?? 1) === outShape[d] : false));
    const last = shape.length - 1;
    if (last >= 0 && pat.every((p, k) => p === spans[k][last])) shape[last] *= outShape[d];
    else {
      shape.push(outShape[d]);
      pat.forEach((p, k) => {
        spans[k].push(p);
      });
    }
  }
  if (shape.length === 0) {
    shape.push(1);
    shapes.forEach((s, k) => {
      spans[k].push(s !== undefined);
    });
  }
  return { shape, spans };
}

function source(spec: ElementwiseSpec, layout: Layout, kinds: Kind[], vec: number): string {
  const { shape, spans } = layout;
  const outT = wgslType(spec.outDtype);
  const rank = shape.length;
  const fields = ['n: u32', 'start: u32'];
  const decls: string[] = [];
  const loads: string[] = [];
  const callArgs: Array<(c: string) => string> = [];
  let binding = 0;
  let needCoords = false;
  spec.inputs.forEach((_, k) => {
    const t = spec.types[k];
    const kind = kinds[k];
    if (kind === 'uniform') {
      fields.push(`s${k}: ${t}`);
      callArgs.push(() => `p.s${k}`);
      return;
    }
    // A vec4 load is possible when the input spans the innermost dim (its offset is then a multiple of 4).
    const v = vec === 4 && kind !== 'splat' && spans[k][rank - 1];
    decls.push(`@group(0) @binding(${binding++}) var<storage, read> in${k}: array<${v ? `vec4<${t}>` : t}>;`);
    if (kind === 'full') loads.push(`let a${k} = in${k}[u${v ? '' : ` * ${vec}u`}];`);
    else if (kind === 'splat') loads.push(`let a${k} = in${k}[0];`);
    else {
      needCoords = true;
      const terms: string[] = [];
      let stride = 1;
      for (let d = rank - 1; d >= 0; d--) {
        if (!spans[k][d]) continue;
        terms.push(stride === 1 ? `c${d}` : `c${d} * ${stride}u`);
        stride *= shape[d];
      }
      loads.push(`let a${k} = in${k}[(${terms.join(' + ')})${v ? ' / 4u' : ''}];`);
    }
    callArgs.push(v ? (c) => `a${k}.${c}` : () => `a${k}`);
  });
  const coords: string[] = [];
  if (needCoords) {
    coords.push(`var g = p.start + u * ${vec}u;`);
    for (let d = rank - 1; d > 0; d--) coords.push(`let c${d} = g % ${shape[d]}u; g = g / ${shape[d]}u;`);
    coords.push('let c0 = g;');
  }
  const params = spec.args.map((a, k) => `${a}: ${spec.types[k]}`).join(', ');
  const call = (c: string) => `f(${callArgs.map((g) => g(c)).join(', ')})`;
  const store =
    vec === 4
      ? `out[u] = vec4<${outT}>(${['x', 'y', 'z', 'w'].map(call).join(', ')});`
      : `out[u] = ${call('')};`;
  return `
struct P { ${fields.join(', ')} }
${decls.join('\n')}
@group(0) @binding(${binding}) var<storage, read_write> out: array<${vec === 4 ? `vec4<${outT}>` : outT}>;
@group(0) @binding(${binding + 1}) var<uniform> p: P;
${spec.helpers ?? ''}
fn f(${params}) -> ${outT} {
  ${spec.body}
}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let lane = ${linearIndex()};
  for (var j = 0u; j < ${UNITS}u; j++) {
    let u = lane * ${UNITS}u + j;
    if (u >= p.n) { return; }
    ${coords.join('\n    ')}
    ${loads.join('\n    ')}
    ${store}
  }
}`;
}

/** Runs an elementwise kernel; inputs must already be validated and broadcast-compatible. */
export function elementwise(spec: ElementwiseSpec): Tensor {
  if (sizeOf(spec.outShape) === 0) return emptyTensor(spec.outShape, spec.outDtype);
  const shapes = spec.inputs.map((x) => (x instanceof Tensor ? x.shape : undefined));
  const layout = collapse(spec.outShape, shapes);
  const kinds: Kind[] = spec.inputs.map((x, k) => {
    if (!(x instanceof Tensor)) return 'uniform';
    if (layout.spans[k].every(Boolean)) return 'full';
    if (x.size === 1) return 'splat';
    return 'bcast';
  });
  spec.inputs.forEach((x, k) => {
    if (kinds[k] === 'bcast' || kinds[k] === 'splat') assertBindable(x as Tensor, spec.op, spec.args[k]);
  });
  const out = emptyTensor(spec.outShape, spec.outDtype);
  // vec4 when the innermost dim is a multiple of 4, or when everything is contiguous (one dim): then
  // the last vec4 may run past the end into the buffer's padding (buffers are 16-byte multiples).
  const vec = layout.shape.length === 1 || layout.shape[layout.shape.length - 1] % 4 === 0 ? 4 : 1;
  const baked = kinds.includes('bcast') ? layout.shape.join('x') : '';
  const key = [
    'ew',
    spec.key,
    spec.types.join(''),
    wgslType(spec.outDtype),
    vec,
    baked,
    kinds.map((k, i) => `${k[0]}${layout.spans[i].map(Number).join('')}`).join('.'),
  ].join('|');
  for (const [start, count] of chunks(out.size)) {
    const buffers: BufferBinding[] = [];
    const units = Math.ceil(count / vec);
    const w = new ParamWriter().u32(units).u32(start);
    spec.inputs.forEach((x, k) => {
      if (x instanceof Tensor) buffers.push(kinds[k] === 'full' ? range(x, start, count) : whole(x));
      else if (spec.types[k] === 'f32') w.f32(x);
      else w.i32(x);
    });
    buffers.push(range(out, start, count));
    runKernel({
      key,
      source: () => source(spec, layout, kinds, vec),
      buffers,
      params: w.done(),
      workgroups: grid(Math.ceil(units / UNITS)),
    });
  }
  return out;
}

// ---- Operand checks shared by the elementwise families ----

/** Converts a number operand to the dtype of the tensors it meets. */
export function coerce(v: number, dtype: DType): number {
  if (dtype === 'float32') return v;
  if (dtype === 'bool') return v !== 0 ? 1 : 0;
  return Number.isFinite(v) ? Math.trunc(v) | 0 : 0;
}

/**
 * Validates operands that must share one dtype (numbers take it); returns that dtype and the
 * number operands coerced to it. At least one operand must be a tensor.
 */
export function checkOperands(
  op: string,
  names: readonly string[],
  xs: readonly unknown[],
): { dtype: DType; inputs: Operand[] } {
  let first: { t: Tensor; name: string } | undefined;
  xs.forEach((x, k) => {
    if (typeof x === 'number') return;
    if (!(x instanceof Tensor)) {
      throw new DTypeError(
        `${op}: ${names[k]} must be a Tensor or a number, got ${x === null ? 'null' : typeof x}`,
      );
    }
    assertTensor(x, op, names[k]);
    if (!first) first = { t: x, name: names[k] };
    else if (x.dtype !== first.t.dtype) {
      throw new DTypeError(
        `${op}: ${first.name} has dtype ${first.t.dtype} but ${names[k]} has dtype ${x.dtype}; they must have the same dtype`,
      );
    }
  });
  if (!first) {
    throw new ArgumentError(`${op}: at least one of ${names.join(', ')} must be a Tensor, got only numbers`);
  }
  const dtype = first.t.dtype;
  return { dtype, inputs: xs.map((x) => (typeof x === 'number' ? coerce(x, dtype) : (x as Tensor))) };
}

/** The broadcast shape of the tensor operands, naming every argument when they do not agree. */
export function broadcastAll(op: string, names: readonly string[], inputs: readonly Operand[]): number[] {
  const ts = inputs.filter((x) => x instanceof Tensor);
  // Two tensors: broadcastShapes' message names both shapes and the offending dimension.
  if (ts.length === 2 && inputs.length === 2) return broadcastShapes(ts[0].shape, ts[1].shape, op);
  let shape: number[] = [];
  for (const x of inputs) {
    if (!(x instanceof Tensor)) continue;
    try {
      shape = broadcastShapes(shape, x.shape, op);
    } catch {
      const list = inputs
        .map((y, k) => (y instanceof Tensor ? `${names[k]} ${fmtShape(y.shape)}` : undefined))
        .filter((s) => s !== undefined);
      throw new ShapeError(`${op}: shapes ${list.join(', ')} cannot be broadcast together`);
    }
  }
  return shape;
}

/** Records the op, turning number operands into scalar tensors only when a tape is recording. */
export function recordElementwise(
  op: BinaryName,
  inputs: readonly Operand[],
  dtype: DType,
  out: Tensor,
): Tensor {
  const rec = recording();
  const ts = inputs.map((x) => (x instanceof Tensor ? x : rec ? scalar(x, dtype) : undefined));
  return recordOp(
    op,
    ts.filter((t) => t !== undefined),
    out,
  );
}

// ---- Binary ops ----

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
    key: op,
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
    key: 'logicalNot',
    body: 'return i32(x == 0);',
    args: ['x'],
    inputs: [x],
    types: ['i32'],
    outDtype: 'bool',
    outShape: x.shape,
  });
  return recordOp('logicalNot', [x], out);
}
