import { expect } from 'vitest';
import { valueAndGrads } from '../src/autograd/grad.js';
import { compareGradients, numericGradient } from '../src/autograd/gradcheck.js';
import { type Tensor, tensor, tidy } from '../src/index.js';
import { mul } from '../src/kernels/binary.js';
import { sum } from '../src/kernels/reduce.js';
import { rng } from './helpers.js';

export interface GradCase {
  /** The op(s) under test on the GPU. */
  f: (...xs: Tensor[]) => Tensor;
  /** The same function on the CPU oracle, in float64 (returns the flat output). */
  oracle: (xs: Float64Array[]) => ArrayLike<number>;
  /** Input values and shapes. */
  inputs: Array<{ shape: number[]; data: ArrayLike<number> }>;
  atol?: number;
  rtol?: number;
  eps?: number;
  label?: string;
}

/**
 * Checks the autograd gradient of sum(f(xs) * w), for a random weighting w, against central
 * finite differences of the float64 oracle.
 */
export async function checkGrad(c: GradCase): Promise<void> {
  const r = rng(1234);
  const xs = c.inputs.map((i) => tensor(Float32Array.from(i.data), i.shape));
  const probe = tidy(() => c.f(...xs));
  const w = Float64Array.from({ length: probe.size }, () => r() * 2 - 1);
  const wT = tensor(Float32Array.from(w), probe.shape);
  probe.dispose();
  const { value, grads } = valueAndGrads((...ys: Tensor[]) => sum(mul(c.f(...ys), wT)))(xs);
  const analytic = await Promise.all(grads.map((g) => g.data()));
  value.dispose();
  for (const t of [...grads, ...xs, wT]) t.dispose();
  const scalarOracle = (ins: Float64Array[]) => {
    const out = c.oracle(ins);
    let s = 0;
    for (let i = 0; i < w.length; i++) s += out[i] * w[i];
    return s;
  };
  const numeric = numericGradient(
    scalarOracle,
    c.inputs.map((i) => Float64Array.from(i.data)),
    c.eps ?? 1e-4,
  );
  const bad = compareGradients(analytic, numeric, c.atol ?? 2e-3, c.rtol ?? 2e-2);
  if (bad) {
    expect.fail(
      `${c.label ?? 'gradient'}: input ${bad.input} element ${bad.index}: autograd ${bad.analytic} vs finite differences ${bad.numeric}`,
    );
  }
}
