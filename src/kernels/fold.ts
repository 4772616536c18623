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

const source = (bias: boolean, gamma: boolean, beta: boolean) => {
  const opt = [bias && 'b', gamma && 'gamma', beta && 'beta'].filter(Boolean) as string[];
  const binds = ['f', 'mean', 'variance', ...opt]
    .map((n, i) => `@group(0) @binding(${i}) var<storage, read> ${n}: array<f32>;`)
    .join('\n');
  const k = 3 + opt.length;
  return `
${binds}
@group(0) @binding(${k}) var<storage, read_write> outF: array<f32>;
@group(0) @binding(${k + 1}) var<storage, read_write> outB: array<f32>;
struct P { n: u32, c: u32, eps: f32 }
@group(0) @binding(${k + 2}) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = ${linearIndex()};
  if (i >= p.n) { return; }
  let c = i % p.c;
  let s = ${gamma ? 'gamma[c] * ' : ''}inverseSqrt(variance[c] + p.eps);
  outF[i] = f[i] * s;
  if (i < p.c) { outB[i] = (${bias ? 'b[i]' : '0.0'} - mean[i]) * s${beta ? ' + beta[i]' : ''}; }
}`;
};

export function foldBatchNorm(a: FoldInputs): FoldedConv | undefined {
  const c = a.mean.size;
  if (a.filter.size * 4 > maxBindingBytes() || a.filter.size % c !== 0) return undefined;
  const filter = emptyTensor(a.filter.shape, 'float32');
  const bias = emptyTensor([c], 'float32');
  const opt = [a.bias, a.gamma, a.beta].filter((t): t is Tensor => t !== undefined);
  runKernel({
    key: `fold_bn_${+!!a.bias}${+!!a.gamma}${+!!a.beta}`,
    source: () => source(!!a.bias, !!a.gamma, !!a.beta),
    buffers: [a.filter, a.mean, a.variance, ...opt, filter, bias].map(whole),
    params: new ParamWriter().u32(a.filter.size).u32(c).f32(a.epsilon).done(),
    workgroups: grid(a.filter.size),
  });
  return { filter, bias };
}
