import { fmtShape, ShapeError } from '../tensor/errors.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { defineKernel } from './program.js';
import { assertBindable, assertDTypeIn, assertRank, assertTensor, grid } from './util.js';

/**
 * Fused, numerically stable sparse softmax cross-entropy: loss[r] = logsumexp(logits[r]) - logits[r, label[r]].
 * One lane per row. A label outside [0, C) gives NaN (the GPU cannot throw), as the loss then says.
 */

/** WGSL: row r's base offset, its max m and sum s of exp(logits - m) (both kernels start so). */
function rowMaxSumExp(c: number): string {
  return `  let base = r * ${c}u;
  var m = logits[base];
  for (var j = 1u; j < ${c}u; j++) { m = max(m, logits[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < ${c}u; j++) { s += exp(logits[base + j] - m); }
`;
}

const forwardKernel = defineKernel<{ c: number }, 'labels' | 'logits' | 'loss', 'rows'>({
  name: 'sce_fwd',
  bindings: { labels: 'read i32', logits: 'read f32', loss: 'rw f32' },
  uniforms: { rows: 'u32' },
  workgroupSize: 64,
  index: { total: 'rows', name: 'r' },
  // A NaN that the WGSL compiler cannot fold (NaN constants are rejected).
  helpers: () => 'var<private> NAN_BITS: u32 = 0x7fc00000u;',
  body: ({ c }) => `${rowMaxSumExp(c)}  let label = labels[r];
  if (label < 0 || label >= ${c}) { loss[r] = bitcast<f32>(NAN_BITS); return; }
  loss[r] = log(s) + m - logits[base + u32(label)];`,
});

const backwardKernel = defineKernel<{ c: number }, 'labels' | 'logits' | 'dy' | 'dx', 'rows'>({
  name: 'sce_bwd',
  bindings: { labels: 'read i32', logits: 'read f32', dy: 'read f32', dx: 'rw f32' },
  uniforms: { rows: 'u32' },
  workgroupSize: 64,
  index: { total: 'rows', name: 'r' },
  body: ({ c }) => `${rowMaxSumExp(c)}  let label = labels[r];
  let g = dy[r];
  for (var j = 0u; j < ${c}u; j++) {
    let onehot = select(0.0, 1.0, i32(j) == label);
    dx[base + j] = (exp(logits[base + j] - m) / s - onehot) * g;
  }`,
});

function check(labels: Tensor, logits: Tensor, op: string): void {
  assertTensor(labels, op, 'labels');
  assertTensor(logits, op, 'logits');
  assertDTypeIn(labels, ['int32'], op, 'labels');
  assertDTypeIn(logits, ['float32'], op, 'logits');
  assertRank(logits, 2, op, 'logits');
  assertRank(labels, 1, op, 'labels');
  if (labels.shape[0] !== logits.shape[0]) {
    throw new ShapeError(
      `${op}: labels ${fmtShape(labels.shape)} and logits ${fmtShape(logits.shape)} must have the same number of rows`,
    );
  }
  if (logits.shape[1] < 1)
    throw new ShapeError(`${op}: logits ${fmtShape(logits.shape)} need at least one class`);
  assertBindable(logits, op, 'logits');
}

/** Per-row loss [B] from int32 labels [B] and logits [B, C]. */
export function sparseSoftmaxCrossEntropy(labels: Tensor, logits: Tensor): Tensor {
  const op = 'sparseSoftmaxCrossEntropy';
  check(labels, logits, op);
  const [rows, c] = logits.shape;
  const out = emptyTensor([rows], 'float32');
  forwardKernel.run({
    constants: { c },
    buffers: { labels, logits, loss: out },
    uniforms: { rows },
    workgroups: grid(rows, 64),
  });
  return recordOp(op, [labels, logits], out);
}

/** Gradient w.r.t. logits: (softmax(logits) - onehot(labels)) * dy[:, None]. */
export function sparseSoftmaxCrossEntropyGrad(labels: Tensor, logits: Tensor, dy: Tensor): Tensor {
  const op = 'sparseSoftmaxCrossEntropyGrad';
  check(labels, logits, op);
  const [rows, c] = logits.shape;
  if (dy.rank !== 1 || dy.shape[0] !== rows) {
    throw new ShapeError(`${op}: dy must have shape [${rows}], got ${fmtShape(dy.shape)}`);
  }
  const out = emptyTensor(logits.shape, 'float32');
  backwardKernel.run({
    constants: { c },
    buffers: { labels, logits, dy, dx: out },
    uniforms: { rows },
    workgroups: grid(rows, 64),
  });
  return recordOp(op, [labels, logits, dy], out);
}
