import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { type BindingSpec, defineKernel } from './program.js';
import { grid, maxBindingBytes } from './util.js';

/**
 * Folds an inference-mode batch norm into the conv before it, in one dispatch:
 * `filter * s` and `(bias - mean) * s + beta` with `s = gamma / sqrt(variance + eps)`, per output
 * channel, which is the filter's fastest-varying index (HWIO conv: cout; depthwise: cin * mult).
 * Not differentiable: graph fusion uses it only when no gradient tape is recording (and composes
 * the same arithmetic from differentiable ops otherwise). Undefined when a tensor would not fit a
 * storage binding; the caller then composes ops too. Where a conv kernel folds the batch norm
 * itself (bn-inline.ts: the weight-stationary pointwise kernels and the depthwise strip kernel,
 * with this quad kernel's arithmetic), graph fusion skips this dispatch.
 */
export interface FoldedConv {
  filter: Tensor;
  bias: Tensor;
}

export interface FoldInputs {
  filter: Tensor;
  bias?: Tensor;
  mean: Tensor;
  variance: Tensor;
  gamma?: Tensor;
  beta?: Tensor;
  epsilon: number;
}

/** Which optional inputs a fold has (each present input is bound, in this order). */
type FoldKernel = { bias: boolean; gamma: boolean; beta: boolean };

/**
 * Bindings of both kernels: the inputs (f, mean, variance, then the optional b, gamma, beta) and
 * the folded filter and bias, as arrays of `T`.
 */
function bindings(k: FoldKernel, T: 'f32' | 'vec4f') {
  const read: BindingSpec = `read ${T}`;
  const rw: BindingSpec = `rw ${T}`;
  return {
    f: read,
    mean: read,
    variance: read,
    b: k.bias ? read : null,
    gamma: k.gamma ? read : null,
    beta: k.beta ? read : null,
    outF: rw,
    outB: rw,
  };
}

/** The element kernel (any channel count): one lane per filter element. */
const foldKernel = defineKernel({
  name: 'fold_bn',
  bindings: (k: FoldKernel) => bindings(k, 'f32'),
  uniforms: { n: 'u32', c: 'u32', eps: 'f32' },
  index: { total: 'n' },
  body: ({ bias, gamma, beta }) => `  let c = i % p.c;
  let s = ${gamma ? 'gamma[c] * ' : ''}inverseSqrt(variance[c] + p.eps);
  outF[i] = f[i] * s;
  if (i < p.c) { outB[i] = (${bias ? 'b[i]' : '0.0'} - mean[i]) * s${beta ? ' + beta[i]' : ''}; }`,
});

/**
 * The quad kernel (channels a multiple of 4): lane x owns channel quad x and computes its scale
 * once, then walks rows y, y + rowSteps, ... of the filter ([rows, c] with rows = taps * cin):
 * one vec4 load and store per 4 elements and no index division. The element kernel above spends
 * most of its time on per-element divisions and scalar loads (lavapipe: 36 ms per MobileNetV2
 * pass for 52 folds).
 */
const foldQuadKernel = defineKernel({
  name: 'fold_bn_quad',
  bindings: (k: FoldKernel) => bindings(k, 'vec4f'),
  uniforms: { rows: 'u32', c4: 'u32', eps: 'f32', rowSteps: 'u32' },
  workgroupSize: 64,
  builtins: ['gid'],
  body: ({ bias, gamma, beta }) => `  let q = gid.x;
  if (q >= p.c4) { return; }
  let s = ${gamma ? 'gamma[q] * ' : ''}inverseSqrt(variance[q] + vec4f(p.eps));
  if (gid.y == 0u) { outB[q] = (${bias ? 'b[q]' : 'vec4f(0.0)'} - mean[q]) * s${beta ? ' + beta[q]' : ''}; }
  for (var r = gid.y; r < p.rows; r += p.rowSteps) {
    outF[r * p.c4 + q] = f[r * p.c4 + q] * s;
  }`,
});

export function foldBatchNorm(a: FoldInputs): FoldedConv | undefined {
  const c = a.mean.size;
  if (a.filter.size * 4 > maxBindingBytes() || a.filter.size % c !== 0) return undefined;
  const filter = emptyTensor(a.filter.shape, 'float32');
  const bias = emptyTensor([c], 'float32');
  const constants = { bias: !!a.bias, gamma: !!a.gamma, beta: !!a.beta };
  const buffers = {
    f: a.filter,
    mean: a.mean,
    variance: a.variance,
    b: a.bias,
    gamma: a.gamma,
    beta: a.beta,
    outF: filter,
    outB: bias,
  };
  if (c % 4 === 0) {
    const c4 = c / 4;
    const rows = a.filter.size / c;
    // Enough lanes to fill the threads (~8k), at most one per row.
    const rowSteps = Math.max(1, Math.min(rows, Math.ceil(8192 / c4), 65535));
    foldQuadKernel.run({
      constants,
      buffers,
      uniforms: { rows, c4, eps: a.epsilon, rowSteps },
      workgroups: [Math.ceil(c4 / 64), rowSteps],
    });
    return { filter, bias };
  }
  foldKernel.run({
    constants,
    buffers,
    uniforms: { n: a.filter.size, c, eps: a.epsilon },
    workgroups: grid(a.filter.size),
  });
  return { filter, bias };
}
