import { pad } from '../../kernels/pad.js';
import { sum } from '../../kernels/reduce.js';
import { reshape } from '../../kernels/reshape.js';
import { unsortedSegmentSum } from '../../kernels/scatter.js';
import { slice, stridedGather, stridedSliceGrad } from '../../kernels/slice.js';
import { transpose } from '../../kernels/transpose.js';
import type { GradTable } from '../registry.js';

// Movement ops only move values, so their gradients move dy back.

export const movementGrads = {
  pad: (dy, r) => {
    const x = r.inputs[0];
    const { paddings } = r.attrs;
    return [
      slice(
        dy,
        paddings.map((p) => p[0]),
        x.shape,
      ),
    ];
  },

  // dy scattered back to the positions the slice read; the scatter's gradient gathers them again.
  stridedSlice: (dy, r) => [stridedSliceGrad(dy, r.inputs[0].shape, r.attrs)],
  stridedSliceGrad: (ddx, r) => [stridedGather(ddx, r.attrs, r.inputs[0].shape)],

  reshape: (dy, r) => [reshape(dy, r.inputs[0].shape)],

  transpose: (dy, r) => {
    const perm = r.attrs.perm;
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => {
      inv[p] = i;
    });
    return [transpose(dy, inv)];
  },

  // The gradient of a slice is dy padded with zeros back to the input's shape.
  slice: (dy, r) => {
    const { begin } = r.attrs;
    const x = r.inputs[0];
    return [
      pad(
        dy,
        x.shape.map((d, i) => [begin[i], d - begin[i] - dy.shape[i]] as [number, number]),
      ),
    ];
  },

  concat: (dy, r, need) => {
    const axis = r.attrs.axis;
    let offset = 0;
    return r.inputs.map((t, i) => {
      const begin = t.shape.map((_, k) => (k === axis ? offset : 0));
      offset += t.shape[axis];
      return need[i] ? slice(dy, begin, t.shape) : null;
    });
  },

  stack: (dy, r, need) => {
    const axis = r.attrs.axis;
    return r.inputs.map((t, i) => {
      if (!need[i]) return null;
      const begin = dy.shape.map((_, k) => (k === axis ? i : 0));
      const size = dy.shape.map((d, k) => (k === axis ? 1 : d));
      return reshape(slice(dy, begin, size), t.shape);
    });
  },

  tile: (dy, r) => {
    const x = r.inputs[0];
    const reps = r.attrs.reps;
    // dy seen as [reps0, d0, reps1, d1, ...]: sum over the reps axes.
    const split = x.shape.flatMap((d, i) => [reps[i], d]);
    const axes = x.shape.map((_, i) => 2 * i);
    return [reshape(sum(reshape(dy, split), axes), x.shape)];
  },

  gather: (dy, r, need) => {
    if (!need[0]) return [null, null];
    const [x, indices] = r.inputs;
    const { axis, batchDims } = r.attrs;
    if (batchDims !== 0) throw new Error('gather: the gradient with batchDims > 0 is not supported');
    // dy has shape [outer..., indices..., inner...]; bring the index dims to the front.
    const ni = indices.rank;
    const outerDims = Array.from({ length: axis }, (_, i) => i);
    const idxDims = Array.from({ length: ni }, (_, i) => axis + i);
    const innerDims = Array.from({ length: dy.rank - axis - ni }, (_, i) => axis + ni + i);
    const moved = transpose(dy, [...idxDims, ...outerDims, ...innerDims]);
    const rest = [...x.shape.slice(0, axis), ...x.shape.slice(axis + 1)];
    const flat = reshape(moved, [indices.size, ...rest]);
    const summed = unsortedSegmentSum(flat, reshape(indices, [indices.size]), x.shape[axis]);
    // summed: [A, outer..., inner...] -> move A back to `axis`.
    const back = [
      ...Array.from({ length: axis }, (_, i) => i + 1),
      0,
      ...Array.from({ length: x.rank - axis - 1 }, (_, i) => axis + 1 + i),
    ];
    return [transpose(summed, back), null];
  },

  oneHot: 'nondiff',
  unsortedSegmentSum: 'nondiff',
} satisfies Partial<GradTable>;
