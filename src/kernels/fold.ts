import { ParamWriter, runKernel } from '../tensor/queue.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { grid, linearIndex, maxBindingBytes, whole } from './util.js';

/**
 * Folds an inference-mode batch norm into the conv before it, in one dispatch:
 * `filter * s` and `(bias - mean) * s + beta` with `s = gamma / sqrt(variance + eps)`, per output
 * channel, which is the filter's fastest-varying index (HWIO conv: cout; depthwise: cin * mult).
 * Not differentiable: graph fusion uses it only when no gradient tape is recording (and composes
 * the same arithmetic from differentiable ops otherwise). Undefined when a tensor would not fit a
 * storage binding; the caller then composes ops too.
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

/**
 * Bindings of both kernels: the inputs (f, mean, variance, then the optional b, gamma, beta), the
 * folded filter and bias, and the uniform block `p` of type P, as arrays of `T`.
 */
function bindings(bias: boolean, gamma: boolean, beta: boolean, T: 'f32' | 'vec4f'): string {
  const opt = [bias && 'b', gamma && 'gamma', beta && 'beta'].filter(Boolean) as string[];
  const binds = ['f', 'mean', 'variance', ...opt]
    .map((n, i) => `@group(0) @binding(${i}) var<storage, read> ${n}: array<${T}>;`)
    .join('\n');
  const k = 3 + opt.length;
  return `${binds}
@group(0) @binding(${k}) var<storage, read_write> outF: array<${T}>;
@group(0) @binding(${k + 1}) var<storage, read_write> outB: array<${T}>;
@group(0) @binding(${k + 2}) var<uniform> p: P;`;
}

const source = (bias: boolean, gamma: boolean, beta: boolean) => `
struct P { n: u32, c: u32, eps: f32 }
${bindings(bias, gamma, beta, 'f32')}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${linearIndex()};
  if (i >= p.n) { return; }
  let c = i % p.c;
  let s = ${gamma ? 'gamma[c] * ' : ''}inverseSqrt(variance[c] + p.eps);
  outF[i] = f[i] * s;
  if (i < p.c) { outB[i] = (${bias ? 'b[i]' : '0.0'} - mean[i]) * s${beta ? ' + beta[i]' : ''}; }
}`;

/**
 * The quad kernel (channels a multiple of 4): lane x owns channel quad x and computes its scale
 * once, then walks rows y, y + rowSteps, ... of the filter ([rows, c] with rows = taps * cin):
 * one vec4 load and store per 4 elements and no index division. The element kernel above spends
 * most of its time on per-element divisions and scalar loads (lavapipe: 36 ms per MobileNetV2
 * pass for 52 folds).
 */
const quadSource = (bias: boolean, gamma: boolean, beta: boolean) => `
struct P { rows: u32, c4: u32, eps: f32, rowSteps: u32 }
${bindings(bias, gamma, beta, 'vec4f')}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let q = gid.x;
  if (q >= p.c4) { return; }
  let s = ${gamma ? 'gamma[q] * ' : ''}inverseSqrt(variance[q] + vec4f(p.eps));
  if (gid.y == 0u) { outB[q] = (${bias ? 'b[q]' : 'vec4f(0.0)'} - mean[q]) * s${beta ? ' + beta[q]' : ''}; }
  for (var r = gid.y; r < p.rows; r += p.rowSteps) {
    outF[r * p.c4 + q] = f[r * p.c4 + q] * s;
  }
}`;

export function foldBatchNorm(a: FoldInputs): FoldedConv | undefined {
  const c = a.mean.size;
  if (a.filter.size * 4 > maxBindingBytes() || a.filter.size % c !== 0) return undefined;
  const filter = emptyTensor(a.filter.shape, 'float32');
  const bias = emptyTensor([c], 'float32');
  const opt = [a.bias, a.gamma, a.beta].filter((t): t is Tensor => t !== undefined);
  if (c % 4 === 0) {
    const c4 = c / 4;
    const rows = a.filter.size / c;
    // Enough lanes to fill the threads (~8k), at most one per row.
    const rowSteps = Math.max(1, Math.min(rows, Math.ceil(8192 / c4), 65535));
    runKernel({
      key: `fold_bn_quad_${+!!a.bias}${+!!a.gamma}${+!!a.beta}`,
      source: () => quadSource(!!a.bias, !!a.gamma, !!a.beta),
      buffers: [a.filter, a.mean, a.variance, ...opt, filter, bias].map(whole),
      params: new ParamWriter().u32(rows).u32(c4).f32(a.epsilon).u32(rowSteps).done(),
      workgroups: [Math.ceil(c4 / 64), rowSteps],
    });
    return { filter, bias };
  }
  runKernel({
    key: `fold_bn_${+!!a.bias}${+!!a.gamma}${+!!a.beta}`,
    source: () => source(!!a.bias, !!a.gamma, !!a.beta),
    buffers: [a.filter, a.mean, a.variance, ...opt, filter, bias].map(whole),
    params: new ParamWriter().u32(a.filter.size).u32(c).f32(a.epsilon).done(),
    workgroups: grid(a.filter.size),
  });
  return { filter, bias };
}
