import { fmtShape, ShapeError } from '../tensor/errors.js';
import { ParamWriter, runKernel } from '../tensor/queue.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { assertBindable, assertDTypeIn, assertRank, assertTensor, grid, linearIndex, whole } from './util.js';

/**
 * Fused, numerically stable sparse softmax cross-entropy: loss[r] = logsumexp(logits[r]) - logits[r, label[r]].
 * One lane per row. A label outside [0, C) gives NaN (the GPU cannot throw), as the loss then says.
 */

/** WGSL: row r's base offset, its max m and sum s of exp(logits - m) (both kernels start so). */
function rowMaxSumExp(c: number): string {
  return `fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = ${linearIndex(64)};
  if (r >= p.rows) { return; }
  let base = r * ${c}u;
  var m = logits[base];
  for (var j = 1u; j < ${c}u; j++) { m = max(m, logits[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < ${c}u; j++) { s += exp(logits[base + j] - m); }
`;
}

const forwardSrc = (c: number) => `
struct P { rows: u32 }
@group(0) @binding(0) var<storage, read> labels: array<i32>;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
// A NaN that the WGSL compiler cannot fold (NaN constants are rejected).
var<private> NAN_BITS: u32 = 0x7fc00000u;
@compute @workgroup_size(64)
${rowMaxSumExp(c)}  let label = labels[r];
  if (label < 0 || label >= ${c}) { loss[r] = bitcast<f32>(NAN_BITS); return; }
  loss[r] = log(s) + m - logits[base + u32(label)];
}`;

const backwardSrc = (c: number) => `
struct P { rows: u32 }
@group(0) @binding(0) var<storage, read> labels: array<i32>;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> p: P;
@compute @workgroup_size(64)
${rowMaxSumExp(c)}  let label = labels[r];
  let g = dy[r];
  for (var j = 0u; j < ${c}u; j++) {
    let onehot = select(0.0, 1.0, i32(j) == label);
    dx[base + j] = (exp(logits[base + j] - m) / s - onehot) * g;
  }
}`;

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
  runKernel({
    key: `sce_fwd_${c}`,
    source: () => forwardSrc(c),
    buffers: [whole(labels), whole(logits), whole(out)],
    params: new ParamWriter().u32(rows).done(),
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
  runKernel({
    key: `sce_bwd_${c}`,
    source: () => backwardSrc(c),
    buffers: [whole(labels), whole(logits), whole(dy), whole(out)],
    params: new ParamWriter().u32(rows).done(),
    workgroups: grid(rows, 64),
  });
  return recordOp(op, [labels, logits, dy], out);
}
