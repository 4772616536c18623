import { wgslType } from '../tensor/dtype.js';
import { ArgumentError, fmtShape } from '../tensor/errors.js';
import { fillKernel } from '../tensor/fill-kernel.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { assertOutputBindable } from './conv.js';
import { defineKernel } from './program.js';
import { assertBindable, assertDTypeIn, assertTensor, grid } from './util.js';

/**
 * Constant padding of any rank (TensorFlow `pad` / Keras ZeroPadding2D). Adjacent unpadded dims
 * are merged first, so NHWC padding of H and W is a rank-4 (or smaller) problem whatever the
 * input rank; each lane writes one output element, or 4 when the innermost dim is unpadded and a
 * multiple of 4 (the channels of an NHWC tensor).
 */

const MAX_RANK = 8;

function collapse(shape: readonly number[], paddings: ReadonlyArray<readonly [number, number]>) {
  const dims: number[] = [];
  const pads: Array<[number, number]> = [];
  for (let i = 0; i < shape.length; i++) {
    const [b, a] = paddings[i];
    const last = pads.length - 1;
    if (b === 0 && a === 0 && shape[i] === 1) continue;
    if (last >= 0 && b === 0 && a === 0 && pads[last][0] === 0 && pads[last][1] === 0) {
      dims[last] *= shape[i];
      continue;
    }
    dims.push(shape[i]);
    pads.push([b, a]);
  }
  if (dims.length === 0) {
    dims.push(1);
    pads.push([0, 0]);
  }
  return { dims, pads };
}

/** `o`, `b`, `d`: output dims, before-paddings and input dims, 8 per field (two vec4u). */
const padKernel = defineKernel<
  { rank: number; t: 'f32' | 'i32'; vec: boolean },
  'x' | 'y',
  'o' | 'b' | 'd' | 'n' | 'value'
>({
  name: 'pad',
  bindings: ({ t, vec }) => {
    const T = vec ? `vec4<${t}>` : t;
    return { x: `read ${T}`, y: `rw ${T}` };
  },
  uniforms: ({ t }) => ({
    o: 'array<vec4u, 2>',
    b: 'array<vec4u, 2>',
    d: 'array<vec4u, 2>',
    n: 'u32',
    value: t,
  }),
  index: { total: 'n' },
  body: ({ rank, t, vec }) => {
    const T = vec ? `vec4<${t}>` : t;
    let body = '  var rem = i;\n  var src = 0u;\n  var stride = 1u;\n  var inside = true;\n';
    for (let d = rank - 1; d >= 0; d--) {
      const at = (a: string) => `p.${a}[${d >> 2}][${d & 3}]`;
      body += `  {
    let c = rem % ${at('o')};
    rem = rem / ${at('o')};
    let s = c - ${at('b')};
    inside = inside && c >= ${at('b')} && s < ${at('d')};
    src += s * stride;
    stride *= ${at('d')};
  }
`;
    }
    return `${body}  y[i] = select(${T}(p.value), x[select(0u, src, inside)], inside);`;
  },
});

/**
 * Pads `x` with `constantValue`: `paddings[d] = [before, after]` for every dim d. E.g. Keras
 * ZeroPadding2D((0,1),(0,1)) on NHWC is `pad(x, [[0,0],[0,1],[0,1],[0,0]])`.
 */
export function pad(
  x: Tensor,
  paddings: ReadonlyArray<readonly [number, number]>,
  constantValue = 0,
): Tensor {
  const op = 'pad';
  assertTensor(x, op, 'x');
  assertDTypeIn(x, ['float32', 'int32', 'bool'], op, 'x');
  const ok =
    Array.isArray(paddings) &&
    paddings.length === x.rank &&
    paddings.every(
      (p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0),
    );
  if (!ok) {
    throw new ArgumentError(
      `${op}: paddings must be ${x.rank} pairs [before, after] of non-negative integers for x ${fmtShape(x.shape)}, got ${JSON.stringify(paddings)}`,
    );
  }
  if (typeof constantValue !== 'number' || (!Number.isFinite(constantValue) && x.dtype === 'int32')) {
    throw new ArgumentError(
      `${op}: constantValue must be a number${x.dtype === 'int32' ? ' (finite for int32)' : ''}, got ${String(constantValue)}`,
    );
  }
  if (Number.isNaN(constantValue) && x.dtype === 'bool') {
    throw new ArgumentError(`${op}: constantValue must be a number, got NaN for a bool x`);
  }
  assertBindable(x, op, 'x');
  const outShape = x.shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  assertOutputBindable(outShape, op);
  const attrs = { paddings: paddings.map((p): [number, number] => [p[0], p[1]]), constantValue };
  if (x.size === 0) return recordOp(op, [x], fillKernel(outShape, constantValue, x.dtype), attrs);
  const y = emptyTensor(outShape, x.dtype);
  const { dims, pads } = collapse(x.shape, paddings);
  if (dims.length > MAX_RANK) {
    throw new ArgumentError(
      `${op}: at most ${MAX_RANK} padded dims are supported, x ${fmtShape(x.shape)} has ${dims.length}`,
    );
  }
  const r = dims.length;
  const vec = pads[r - 1][0] === 0 && pads[r - 1][1] === 0 && dims[r - 1] % 4 === 0;
  if (vec) dims[r - 1] /= 4;
  const fill8 = (v: number[]) => [...v, ...new Array(MAX_RANK - v.length).fill(1)];
  const n = vec ? y.size / 4 : y.size;
  const t = wgslType(x.dtype) as 'f32' | 'i32';
  padKernel.run({
    constants: { rank: r, t, vec },
    buffers: { x, y },
    uniforms: {
      o: fill8(dims.map((d, i) => d + pads[i][0] + pads[i][1])),
      b: [...pads.map((p) => p[0]), ...new Array(MAX_RANK - r).fill(0)],
      d: fill8(dims),
      n,
      value:
        t === 'f32' ? constantValue : x.dtype === 'bool' ? +(constantValue !== 0) : Math.trunc(constantValue),
    },
    workgroups: grid(n),
  });
  return recordOp(op, [x], y, attrs);
}
