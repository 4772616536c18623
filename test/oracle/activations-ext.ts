/**
 * Float64 references of the activations of src/kernels/activations-ext.ts (Keras 3 definitions),
 * written independently of the WGSL: erf by its Taylor series (|x| <= 4, float64) and the
 * continued fraction of erfc beyond.
 */

export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  const a = Math.abs(x);
  if (a > 4) {
    // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + 1/2/(a + 1/(a + 3/2/(a + ...)))) (Lentz, 60 terms).
    let f = a;
    for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
    const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
    return Math.sign(x) * (1 - erfc);
  }
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const t = term / (2 * n + 1);
    sum += t;
    if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

export const ACTIVATION_REFS: Record<string, (x: number) => number> = {
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  geluTanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  silu: (x) => x * sigmoid(x),
  selu: (x) => SELU_SCALE * (x > 0 ? x : SELU_ALPHA * Math.expm1(x)),
  softsign: (x) => x / (1 + Math.abs(x)),
  hardSigmoid: (x) => Math.min(Math.max(x + 3, 0), 6) / 6,
  hardSwish: (x) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6,
  mish: (x) => x * Math.tanh(softplus(x)),
  elu: (x) => (x > 0 ? x : Math.expm1(x)),
  softplus,
  leakyRelu: (x) => (x >= 0 ? x : 0.2 * x),
};
