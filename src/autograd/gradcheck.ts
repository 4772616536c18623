import { ArgumentError } from '../tensor/errors.js';

/**
 * Central finite differences in float64, for checking backward rules against a reference
 * implementation of the forward function (e.g. the CPU oracle):
 *   d f / d x_j  ~=  (f(x + eps e_j) - f(x - eps e_j)) / (2 eps).
 */
export function numericGradient(
  f: (xs: Float64Array[]) => number,
  xs: readonly Float64Array[],
  eps = 1e-4,
): Float64Array[] {
  if (typeof f !== 'function')
    throw new ArgumentError(`numericGradient: f must be a function, got ${typeof f}`);
  if (!Array.isArray(xs) || !xs.every((x) => x instanceof Float64Array)) {
    throw new ArgumentError('numericGradient: xs must be an array of Float64Arrays');
  }
  if (!(eps > 0) || !Number.isFinite(eps))
    throw new ArgumentError(`numericGradient: eps must be a finite number > 0, got ${eps}`);
  const work = xs.map((x) => Float64Array.from(x));
  return work.map((x) => {
    const g = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const orig = x[j];
      x[j] = orig + eps;
      const fp = f(work);
      x[j] = orig - eps;
      const fm = f(work);
      x[j] = orig;
      g[j] = (fp - fm) / (2 * eps);
    }
    return g;
  });
}

/** Where an analytic gradient and its finite-difference estimate disagree most. */
export interface GradientMismatch {
  /** Which input (0-based). */
  input: number;
  /** The flat element index in that input. */
  index: number;
  /** The gradient from autograd. */
  analytic: number;
  /** The finite-difference estimate. */
  numeric: number;
}

/** The worst element where |analytic - numeric| > atol + rtol * |numeric|, or undefined. */
export function compareGradients(
  analytic: readonly ArrayLike<number>[],
  numeric: readonly ArrayLike<number>[],
  atol = 1e-3,
  rtol = 1e-2,
): GradientMismatch | undefined {
  if (!Array.isArray(analytic) || !Array.isArray(numeric) || analytic.length !== numeric.length) {
    throw new ArgumentError(
      `compareGradients: analytic and numeric must be arrays of the same length, got ${Array.isArray(analytic) ? analytic.length : typeof analytic} and ${Array.isArray(numeric) ? numeric.length : typeof numeric}`,
    );
  }
  if (!(atol >= 0) || !(rtol >= 0))
    throw new ArgumentError(`compareGradients: atol and rtol must be >= 0, got ${atol} and ${rtol}`);
  let worst: GradientMismatch | undefined;
  let worstExcess = 0;
  analytic.forEach((a, i) => {
    const n = numeric[i];
    if (a.length !== n.length)
      throw new ArgumentError(`compareGradients: input ${i} has ${a.length} vs ${n.length} elements`);
    for (let j = 0; j < a.length; j++) {
      const excess = Math.abs(a[j] - n[j]) - (atol + rtol * Math.abs(n[j]));
      if (excess > worstExcess || Number.isNaN(excess)) {
        worstExcess = Number.isNaN(excess) ? Number.POSITIVE_INFINITY : excess;
        worst = { input: i, index: j, analytic: a[j], numeric: n[j] };
      }
    }
  });
  return worst;
}
