import { scalar } from '../tensor/creation.js';
import { type DType, wgslType } from '../tensor/dtype.js';
import { ArgumentError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import type { BinaryName } from '../tensor/op-table.js';
import type { BufferBinding } from '../tensor/queue.js';
import { isRecording as recording, recordOp } from '../tensor/record.js';
import { broadcastShapes, sizeOf } from '../tensor/shape.js';
import { emptyTensor, Tensor } from '../tensor/tensor.js';
import { type BindingSpec, defineKernel } from './program.js';
import { assertBindable, assertTensor, chunks, grid, linearIndex, range, WG, whole } from './util.js';

/**
 * The elementwise engine with NumPy broadcasting, shared by the unary, binary, select and cast
 * families: it collapses the broadcast pattern to as few dims as possible, bakes the collapsed
 * shape and strides into the WGSL, processes 4 elements per vec4 when the innermost dim allows
 * it, and splits outputs over the binding limit into chunks.
 */

/** A tensor, or a number passed to the kernel as a uniform. */
export type Operand = Tensor | number;
type WType = 'f32' | 'i32';

export interface ElementwiseSpec {
  /** Op name, for errors. */
  op: string;
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

/**
 * Everything the WGSL of one elementwise kernel depends on. `inputs` has one token per input,
 * comma-separated: `<kind> <type> <spans>` with spans one digit per collapsed dim (1: spanned).
 */
type EwC = {
  /** `fn f`: its parameter list, body and return type, and the helpers placed before it. */
  params: string;
  body: string;
  helpers: string;
  outT: WType;
  vec: number;
  inputs: string;
  /** The collapsed shape when some input is broadcast (its coordinates are computed), else []. */
  shape: readonly number[];
};

interface Input {
  k: number;
  kind: Kind;
  t: WType;
  spans: boolean[];
  /** Loaded as vec4: the input spans the innermost dim (its offset is then a multiple of 4). */
  v: boolean;
}

function inputsOf(c: EwC): Input[] {
  return c.inputs.split(',').map((tok, k) => {
    const [kind, t, bits] = tok.split(' ') as [Kind, WType, string];
    const spans = [...bits].map((b) => b === '1');
    return { k, kind, t, spans, v: c.vec === 4 && kind !== 'splat' && spans[spans.length - 1] };
  });
}

const kernel = defineKernel<EwC, string, string>({
  name: 'elementwise',
  bindings: (c) => {
    const b: Record<string, BindingSpec> = {};
    for (const x of inputsOf(c)) {
      if (x.kind !== 'uniform') b[`in${x.k}`] = `read ${x.v ? `vec4<${x.t}>` : x.t}`;
    }
    b.out = `rw ${c.vec === 4 ? `vec4<${c.outT}>` : c.outT}`;
    return b;
  },
  uniforms: (c) => {
    const u: Record<string, WType | 'u32'> = { n: 'u32', start: 'u32' };
    for (const x of inputsOf(c)) if (x.kind === 'uniform') u[`s${x.k}`] = x.t;
    return u;
  },
  workgroupSize: WG,
  helpers: (c) => `${c.helpers}
fn f(${c.params}) -> ${c.outT} {
  ${c.body}
}`,
  body: (c) => {
    const { shape, vec } = c;
    const loads: string[] = [];
    const callArgs: Array<(s: string) => string> = [];
    let needCoords = false;
    for (const { k, kind, spans, v } of inputsOf(c)) {
      if (kind === 'uniform') {
        callArgs.push(() => `p.s${k}`);
        continue;
      }
      if (kind === 'full') loads.push(`let a${k} = in${k}[u${v ? '' : ` * ${vec}u`}];`);
      else if (kind === 'splat') loads.push(`let a${k} = in${k}[0];`);
      else {
        needCoords = true;
        const terms: string[] = [];
        let stride = 1;
        for (let d = shape.length - 1; d >= 0; d--) {
          if (!spans[d]) continue;
          terms.push(stride === 1 ? `c${d}` : `c${d} * ${stride}u`);
          stride *= shape[d];
        }
        loads.push(`let a${k} = in${k}[(${terms.join(' + ')})${v ? ' / 4u' : ''}];`);
      }
      callArgs.push(v ? (s) => `a${k}.${s}` : () => `a${k}`);
    }
    const coords: string[] = [];
    if (needCoords) {
      coords.push(`var g = p.start + u * ${vec}u;`);
      for (let d = shape.length - 1; d > 0; d--)
        coords.push(`let c${d} = g % ${shape[d]}u; g = g / ${shape[d]}u;`);
      coords.push('let c0 = g;');
    }
    const call = (s: string) => `f(${callArgs.map((g) => g(s)).join(', ')})`;
    const store =
      vec === 4
        ? `out[u] = vec4<${c.outT}>(${['x', 'y', 'z', 'w'].map(call).join(', ')});`
        : `out[u] = ${call('')};`;
    return `  let lane = ${linearIndex()};
  for (var j = 0u; j < ${UNITS}u; j++) {
    let u = lane * ${UNITS}u + j;
    if (u >= p.n) { return; }
    ${coords.join('\n    ')}
    ${loads.join('\n    ')}
    ${store}
  }`;
  },
});

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
  const constants: EwC = {
    params: spec.args.map((a, k) => `${a}: ${spec.types[k]}`).join(', '),
    body: spec.body,
    helpers: spec.helpers ?? '',
    outT: wgslType(spec.outDtype) as WType,
    vec,
    inputs: kinds
      .map((kind, k) => `${kind} ${spec.types[k]} ${layout.spans[k].map(Number).join('')}`)
      .join(','),
    shape: kinds.includes('bcast') ? layout.shape : [],
  };
  for (const [start, count] of chunks(out.size)) {
    const units = Math.ceil(count / vec);
    const buffers: Record<string, BufferBinding> = {};
    const uniforms: Record<string, number> = { n: units, start };
    spec.inputs.forEach((x, k) => {
      if (x instanceof Tensor) buffers[`in${k}`] = kinds[k] === 'full' ? range(x, start, count) : whole(x);
      else uniforms[`s${k}`] = x;
    });
    buffers.out = range(out, start, count);
    kernel.run({ constants, buffers, uniforms, workgroups: grid(Math.ceil(units / UNITS)) });
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
