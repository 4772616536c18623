import { assertDType, type DType, wgslType } from '../tensor/dtype.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { recordOp } from '../tensor/record.js';
import { normalizeAxis, sizeOf } from '../tensor/shape.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { defineKernel } from './program.js';
import {
  assertBindable,
  assertDTypeIn,
  assertTensor,
  chunks,
  grid,
  maxBindingBytes,
  range,
  whole,
} from './util.js';

/**
 * gather and oneHot: reads driven by int32 indices. gather bakes its four dims and oneHot its depth
 * into the WGSL (one pipeline per shape): constant divisors made them 2x faster on lavapipe.
 * Outputs of any size are written in chunks; an `x` over the binding limit is read through
 * windows, one pass each (a pass writes the elements whose source lies in its window).
 */

// x seen as [batch, outer, nsrc, inner], indices as [batch, m], out as [batch, outer, m, inner].
const gatherKernel = defineKernel<
  { inner: number; m: number; outer: number; nsrc: number },
  'x' | 'idx' | 'out',
  'start' | 'n' | 'sw' | 'slen' | 'first'
>({
  name: 'gather',
  bindings: { x: 'read u32', idx: 'read i32', out: 'rw u32' },
  uniforms: { start: 'u32', n: 'u32', sw: 'u32', slen: 'u32', first: 'u32' },
  index: { total: 'n', name: 'li' },
  body: ({ inner, m, outer, nsrc }) => `  let o = p.start + li;
  let i = o % ${inner}u;
  var r = o / ${inner}u;
  let m = r % ${m}u;
  r = r / ${m}u;
  let ob = r % ${outer}u;
  let b = r / ${outer}u;
  let k = idx[b * ${m}u + m];
  // Out-of-range indices give zeros (as TensorFlow on GPUs); the first pass writes them.
  if (k < 0 || u32(k) >= ${nsrc}u) {
    if (p.first != 0u) { out[li] = 0u; }
    return;
  }
  let s = ((b * ${outer}u + ob) * ${nsrc}u + u32(k)) * ${inner}u + i - p.sw;
  if (s < p.slen) { out[li] = x[s]; }`,
});

/**
 * Takes slices of `x` along `axis` at `indices` (int32): the output shape is
 * `x.shape[:axis] + indices.shape[batchDims:] + x.shape[axis+1:]`. With `batchDims` = b, the first
 * b axes of x and indices are batch axes that must match, and batch i of x is indexed by batch i
 * of indices. Indices outside [0, x.shape[axis]) (negative ones included) give zeros, as
 * TensorFlow.js does on GPU; no error is raised because the indices live on the GPU.
 */
export function gather(x: Tensor, indices: Tensor, axis = 0, batchDims = 0): Tensor {
  assertTensor(x, 'gather', 'x');
  assertTensor(indices, 'gather', 'indices');
  assertDTypeIn(indices, ['int32'], 'gather', 'indices');
  const ax = normalizeAxis(axis, x.rank, 'gather');
  const bd = Number.isInteger(batchDims) && batchDims < 0 ? batchDims + indices.rank : batchDims;
  if (!Number.isInteger(bd) || bd < 0 || bd > indices.rank || bd > ax) {
    throw new ArgumentError(
      `gather: batchDims ${String(batchDims)} must be an integer in [0, ${Math.min(indices.rank, ax)}] (at most indices rank ${indices.rank} and axis ${ax})`,
    );
  }
  for (let i = 0; i < bd; i++) {
    if (x.shape[i] !== indices.shape[i]) {
      throw new ShapeError(
        `gather: the ${bd} batch dims of x ${fmtShape(x.shape)} and indices ${fmtShape(indices.shape)} must match (axis ${i}: ${x.shape[i]} vs ${indices.shape[i]})`,
      );
    }
  }
  const shape = [...x.shape.slice(0, ax), ...indices.shape.slice(bd), ...x.shape.slice(ax + 1)];
  // Indices are read at data-dependent positions of the output: they must fit one binding.
  if (sizeOf(shape) > 0) assertBindable(indices, 'gather', 'indices');
  const out = emptyTensor(shape, x.dtype);
  if (out.size > 0) {
    const nsrc = x.shape[ax];
    const [inner, m, outer] = [
      sizeOf(x.shape.slice(ax + 1)),
      sizeOf(indices.shape.slice(bd)),
      sizeOf(x.shape.slice(bd, ax)),
    ];
    const xWins = x.byteSize <= maxBindingBytes() ? [[0, Math.max(x.size, 1)]] : chunks(x.size);
    for (const [start, n] of chunks(out.size)) {
      xWins.forEach(([sw, sl], w) => {
        gatherKernel.run({
          constants: { inner, m, outer, nsrc },
          buffers: { x: x.size > 0 ? range(x, sw, sl) : whole(x), idx: indices, out: range(out, start, n) },
          uniforms: { start, n, sw, slen: x.size > 0 ? sl : 0, first: w === 0 ? 1 : 0 },
          workgroups: grid(n),
        });
      });
    }
  }
  return recordOp('gather', [x, indices], out, { axis: ax, batchDims: bd });
}

const oneHotKernel = defineKernel<
  { t: 'f32' | 'i32'; depth: number },
  'idx' | 'out',
  'start' | 'n' | 'on' | 'off'
>({
  name: 'one_hot',
  bindings: ({ t }) => ({ idx: 'read i32', out: `rw ${t}` }),
  uniforms: ({ t }) => ({ start: 'u32', n: 'u32', on: t, off: t }),
  index: { total: 'n', name: 'li' },
  body: ({ depth }) => `  let o = p.start + li;
  out[li] = select(p.off, p.on, idx[o / ${depth}u] == i32(o % ${depth}u));`,
});

/**
 * One-hot encoding: output shape `indices.shape + [depth]`, `onValue` where the last coordinate
 * equals the index, `offValue` elsewhere (an index outside [0, depth) gives a row of offValue).
 * float32 by default (TensorFlow.js defaults to int32).
 */
export function oneHot(
  indices: Tensor,
  depth: number,
  onValue = 1,
  offValue = 0,
  dtype: DType = 'float32',
): Tensor {
  assertTensor(indices, 'oneHot', 'indices');
  assertDTypeIn(indices, ['int32'], 'oneHot', 'indices');
  if (!Number.isInteger(depth) || depth < 0) {
    throw new ArgumentError(`oneHot: depth must be a non-negative integer, got ${String(depth)}`);
  }
  if (typeof onValue !== 'number' || typeof offValue !== 'number') {
    throw new ArgumentError(
      `oneHot: onValue and offValue must be numbers, got ${String(onValue)} and ${String(offValue)}`,
    );
  }
  assertDType(dtype, 'oneHot: dtype');
  if (depth > 0) assertBindable(indices, 'oneHot', 'indices');
  const out = emptyTensor([...indices.shape, depth], dtype);
  if (out.size > 0) {
    const t = wgslType(dtype);
    const cast = (v: number) => (dtype === 'bool' ? (v !== 0 ? 1 : 0) : v);
    for (const [start, n] of chunks(out.size)) {
      const [on, off] = t === 'f32' ? [onValue, offValue] : [cast(onValue), cast(offValue)];
      oneHotKernel.run({
        constants: { t, depth },
        buffers: { idx: indices, out: range(out, start, n) },
        uniforms: { start, n, on, off },
        workgroups: grid(n),
      });
    }
  }
  return recordOp('oneHot', [indices], out, { depth, onValue, offValue });
}
