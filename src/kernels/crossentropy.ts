import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { defineGpuCheck } from '../tensor/gpu-checks.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { elementwise } from './elementwise.js';
import { defineKernel } from './program.js';
import { assertBindable, assertDTypeIn, assertRank, assertTensor, grid } from './util.js';

/**
 * Fused, numerically stable sparse softmax cross-entropy: loss[r] = logsumexp(logits[r]) - logits[r, label[r]].
 * One lane per row. A label outside [0, C) makes that row's loss NaN and is recorded in the
 * `labels` GPU check (src/tensor/gpu-checks.ts: a 16-byte buffer written with atomics, no readback
 * per step): the next `data()` or `sync()` throws an ArgumentError naming the label and the class
 * count.
 */

/** The first out-of-range label since the last read: [count, label, row, classes]. */
const labelCheck = defineGpuCheck('sparse labels', (w) => {
  const [count, label, row, classes] = w;
  return new ArgumentError(
    `sparseCategoricalCrossentropy: label ${label} is out of range for ${classes} classes (labels must be integers in [0, ${classes})); ` +
      `found on the GPU at row ${row} of a batch${count > 1 ? `, ${count} out-of-range labels in all since the last read` : ''}`,
  );
});

/** WGSL: row r's max m and sum s of exp(logits - m), as vec2f(m, s). */
const rowStats = (c: number) => `fn rowStats(base: u32) -> vec2f {
  var m = logits[base];
  for (var j = 1u; j < ${c}u; j++) { m = max(m, logits[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < ${c}u; j++) { s += exp(logits[base + j] - m); }
  return vec2f(m, s);
}`;

const forward = defineKernel<{ c: number }, 'labels' | 'logits' | 'loss' | 'check', 'rows'>({
  name: 'sparse_softmax_cross_entropy',
  bindings: { labels: 'read i32', logits: 'read f32', loss: 'rw f32', check: 'rw atomic<i32>' },
  uniforms: { rows: 'u32' },
  workgroupSize: 64,
  index: { total: 'rows', name: 'r' },
  // A NaN that the WGSL compiler cannot fold (NaN constants are rejected).
  helpers: ({ c }) => `var<private> NAN_BITS: u32 = 0x7fc00000u;\n${rowStats(c)}`,
  body: ({ c }) => `
  let base = r * ${c}u;
  let label = labels[r];
  if (label < 0 || label >= ${c}) {
    loss[r] = bitcast<f32>(NAN_BITS);
    if (atomicAdd(&check[0], 1) == 0) {
      atomicStore(&check[1], label);
      atomicStore(&check[2], i32(r));
      atomicStore(&check[3], ${c});
    }
    return;
  }
  let ms = rowStats(base);
  loss[r] = log(ms.y) + ms.x - logits[base + u32(label)];`,
});

const backward = defineKernel<{ c: number }, 'labels' | 'logits' | 'dy' | 'dx', 'rows'>({
  name: 'sparse_softmax_cross_entropy_grad',
  bindings: { labels: 'read i32', logits: 'read f32', dy: 'read f32', dx: 'rw f32' },
  uniforms: { rows: 'u32' },
  workgroupSize: 64,
  index: { total: 'rows', name: 'r' },
  helpers: ({ c }) => rowStats(c),
  body: ({ c }) => `
  let base = r * ${c}u;
  let ms = rowStats(base);
  let label = labels[r];
  let g = dy[r];
  for (var j = 0u; j < ${c}u; j++) {
    let onehot = select(0.0, 1.0, i32(j) == label);
    dx[base + j] = (exp(logits[base + j] - ms.x) / ms.y - onehot) * g;
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
  if (rows > 0)
    forward.run({
      constants: { c },
      buffers: { labels, logits, loss: out, check: labelCheck.binding() },
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
  if (rows > 0)
    backward.run({
      constants: { c },
      buffers: { labels, logits, dy, dx: out },
      uniforms: { rows },
      workgroups: grid(rows, 64),
    });
  return recordOp(op, [labels, logits, dy], out);
}

/**
 * Fused sigmoid cross-entropy from logits, elementwise: with z = labels * (1 - s) + s / 2 (label
 * smoothing s), loss = max(x, 0) - x * z + log1p(exp(-|x|)), which neither overflows nor loses the
 * small losses of saturated logits (TensorFlow's `sigmoid_cross_entropy_with_logits`).
 */
const SIGMOID_CE_HELPERS = `
fn smooth_(z: f32, s: f32) -> f32 { return z * (1.0 - s) + 0.5 * s; }
// log(1 + e) accurate for small e (1 + e rounds; the ratio corrects it: Goldberg, 1991).
fn log1p_(e: f32) -> f32 {
  let u = 1.0 + e;
  return select(log(u) * (e / (u - 1.0)), e, u == 1.0);
}`;

function checkSigmoidCe(labels: Tensor, logits: Tensor, labelSmoothing: number, op: string): void {
  assertTensor(labels, op, 'labels');
  assertTensor(logits, op, 'logits');
  assertDTypeIn(labels, ['float32'], op, 'labels');
  assertDTypeIn(logits, ['float32'], op, 'logits');
  if (labels.shape.length !== logits.shape.length || labels.shape.some((d, i) => d !== logits.shape[i]))
    throw new ShapeError(
      `${op}: labels ${fmtShape(labels.shape)} and logits ${fmtShape(logits.shape)} must have the same shape`,
    );
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing <= 1))
    throw new ArgumentError(
      `${op}: labelSmoothing must be a number in [0, 1], got ${JSON.stringify(labelSmoothing)}`,
    );
}

/**
 * Elementwise sigmoid cross-entropy of `logits` against float32 `labels` of the same shape (Keras'
 * `binary_crossentropy(from_logits=True)` before the mean), with optional label smoothing.
 */
export function sigmoidCrossEntropyWithLogits(labels: Tensor, logits: Tensor, labelSmoothing = 0): Tensor {
  const op = 'sigmoidCrossEntropyWithLogits';
  checkSigmoidCe(labels, logits, labelSmoothing, op);
  const out = elementwise({
    op,
    body: 'let t = smooth_(z, s); return max(x, 0.0) - x * t + log1p_(exp(-abs(x)));',
    args: ['z', 'x', 's'],
    inputs: [labels, logits, labelSmoothing],
    types: ['f32', 'f32', 'f32'],
    outDtype: 'float32',
    outShape: logits.shape,
    helpers: SIGMOID_CE_HELPERS,
  });
  return recordOp('sigmoidCrossEntropy', [labels, logits], out, { labelSmoothing });
}

/** Gradient of `sigmoidCrossEntropyWithLogits` w.r.t. the logits: (sigmoid(x) - smoothed z) * dy. */
export function sigmoidCrossEntropyGrad(
  labels: Tensor,
  logits: Tensor,
  dy: Tensor,
  labelSmoothing = 0,
): Tensor {
  const op = 'sigmoidCrossEntropyGrad';
  checkSigmoidCe(labels, logits, labelSmoothing, op);
  assertTensor(dy, op, 'dy');
  if (dy.size !== logits.size)
    throw new ShapeError(
      `${op}: dy ${fmtShape(dy.shape)} must have the shape of logits ${fmtShape(logits.shape)}`,
    );
  const out = elementwise({
    op,
    // sigmoid(x) without overflow: exp of a non-positive number only.
    body: `let e = exp(-abs(x));
  let sg = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
  return (sg - smooth_(z, s)) * g;`,
    args: ['z', 'x', 'g', 's'],
    inputs: [labels, logits, dy, labelSmoothing],
    types: ['f32', 'f32', 'f32', 'f32'],
    outDtype: 'float32',
    outShape: logits.shape,
    helpers: SIGMOID_CE_HELPERS,
  });
  return recordOp('sigmoidCrossEntropyGrad', [labels, logits, dy], out, { labelSmoothing });
}
