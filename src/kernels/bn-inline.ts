import type { Tensor } from '../tensor/tensor.js';
import type { BindingSpec } from './program.js';

/**
 * An inference-mode batch norm folded inside a conv kernel instead of by a separate fold dispatch
 * (fold.ts): each lane computes the scale `s = gamma / sqrt(variance + eps)` and the shift
 * `t = (bias - mean) * s + beta` of its own output channel quads, multiplies the filter quads it
 * loads by `s` and starts its sums from `t`. The arithmetic is fold.ts' quad kernel's, expression
 * for expression, so the outputs equal those of the folded path bit for bit. Taken by the
 * kernels that load each filter quad once per lane and keep it (the weight-stationary pointwise
 * conv and matmul, the depthwise strip kernel); it saves MobileNetV2's inference 47 of its 52
 * fold dispatches (lavapipe: ~0.1-0.6 ms each, about 3% of a batch-64 pass).
 */
export interface InlineBatchNorm {
  mean: Tensor;
  variance: Tensor;
  gamma?: Tensor;
  beta?: Tensor;
  epsilon: number;
}

/** The kernels' constant: [gamma present (0/1), beta present (0/1), epsilon as f32]. */
export type BnConstant = readonly [number, number, number];

/** The constant of `bn` (undefined without one). */
export function bnConstant(bn: InlineBatchNorm | undefined): BnConstant | undefined {
  return bn && [bn.gamma ? 1 : 0, bn.beta ? 1 : 0, Math.fround(bn.epsilon)];
}

/** The four bindings (gamma and beta only when present), vec4 per channel quad. */
export function bnBindings(k: BnConstant | undefined): Record<string, BindingSpec | null> {
  return {
    bnMean: k ? 'read vec4f' : null,
    bnVar: k ? 'read vec4f' : null,
    bnGamma: k?.[0] ? 'read vec4f' : null,
    bnBeta: k?.[1] ? 'read vec4f' : null,
  };
}

/** The tensors of those bindings. */
export function bnBuffers(bn: InlineBatchNorm | undefined): Record<string, Tensor | undefined> {
  return { bnMean: bn?.mean, bnVar: bn?.variance, bnGamma: bn?.gamma, bnBeta: bn?.beta };
}

/** WGSL: epsilon as an exact f32 (its bit pattern). */
function epsLiteral(eps: number): string {
  const bits = new Uint32Array(new Float32Array([eps]).buffer)[0];
  return `bitcast<f32>(0x${bits.toString(16)}u)`;
}

/**
 * WGSL: the scale `${name}s` and shift `${name}t` of channel quad `q` (an expression), with the
 * conv's bias quad `bias` (an expression, or null for none).
 */
export function bnScaleShift(
  k: BnConstant,
  name: string,
  q: string,
  bias: string | null,
  indent = '  ',
): string {
  const s = `${k[0] ? `bnGamma[${q}] * ` : ''}inverseSqrt(bnVar[${q}] + vec4f(${epsLiteral(k[2])}))`;
  const t = `(${bias ?? 'vec4f(0.0)'} - bnMean[${q}]) * ${name}s${k[1] ? ` + bnBeta[${q}]` : ''}`;
  return `${indent}let ${name}s = ${s};\n${indent}let ${name}t = ${t};\n`;
}
