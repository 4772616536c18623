import { ArgumentError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { defineKernel } from './program.js';
import { assertBindable, assertTensor, grid } from './util.js';

/**
 * unsortedSegmentSum: out[s, j] = sum of data[i, j] over the rows i with segmentIds[i] == s
 * (ids out of range are dropped). The backward of gather. One lane per output element scans
 * the ids, which avoids float atomics (WGSL has none) and keeps the sum order deterministic.
 */

const segmentSum = defineKernel({
  name: 'unsorted_segment_sum',
  bindings: { data: 'read f32', ids: 'read i32', out: 'rw f32' },
  uniforms: { n: 'u32', inner: 'u32', segments: 'u32', total: 'u32' },
  index: { total: 'total', name: 'o' },
  body: () => `
  let s = i32(o / p.inner);
  let j = o % p.inner;
  var acc = 0.0;
  for (var i = 0u; i < p.n; i++) {
    if (ids[i] == s) { acc += data[i * p.inner + j]; }
  }
  out[o] = acc;`,
});

/** Sums the rows of `data` that share a segment id: `out[s] = sum of data[i] where segmentIds[i] == s`, for s in [0, numSegments) (like `tf.unsortedSegmentSum`). */
export function unsortedSegmentSum(data: Tensor, segmentIds: Tensor, numSegments: number): Tensor {
  const op = 'unsortedSegmentSum';
  assertTensor(data, op, 'data');
  assertTensor(segmentIds, op, 'segmentIds');
  if (data.dtype !== 'float32') throw new DTypeError(`${op}: data must be float32, got ${data.dtype}`);
  if (segmentIds.dtype !== 'int32')
    throw new DTypeError(`${op}: segmentIds must be int32, got ${segmentIds.dtype}`);
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new ArgumentError(`${op}: numSegments must be a non-negative integer, got ${numSegments}`);
  }
  if (segmentIds.rank !== 1 || data.rank < 1 || data.shape[0] !== segmentIds.shape[0]) {
    throw new ShapeError(
      `${op}: segmentIds must be 1-D with one id per row of data, got data ${fmtShape(data.shape)} and segmentIds ${fmtShape(segmentIds.shape)}`,
    );
  }
  assertBindable(data, op, 'data');
  const inner = data.shape.slice(1).reduce((a, b) => a * b, 1);
  const outShape = [numSegments, ...data.shape.slice(1)];
  const out = emptyTensor(outShape, 'float32');
  const total = numSegments * inner;
  assertBindable(out, op, 'output');
  segmentSum.run({
    buffers: { data, ids: segmentIds, out },
    uniforms: { n: data.shape[0], inner, segments: numSegments, total },
    workgroups: grid(total),
  });
  return recordOp(op, [data, segmentIds], out, { numSegments });
}
