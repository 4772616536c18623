import { expect } from 'vitest';

/** Seeded PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randArray(n: number, r: () => number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

export function randInts(n: number, r: () => number, lo: number, hi: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + Math.floor((hi - lo) * r());
  return a;
}

/** A random shape of the given rank with dims in [1, maxDim]. */
export function randShape(rank: number, r: () => number, maxDim = 7): number[] {
  return Array.from({ length: rank }, () => 1 + Math.floor(r() * maxDim));
}

export interface Tol {
  atol?: number;
  rtol?: number;
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise (NaN matches NaN, equal
 * infinities match) and reports the worst element.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol = {},
  label = '',
): void {
  const atol = tol.atol ?? 1e-5;
  const rtol = tol.rtol ?? 1e-5;
  expect(actual.length, `${label} length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    const err = Math.abs(a - e);
    const excess = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err - (atol + rtol * Math.abs(e));
    if (excess > worstExcess || (Number.isNaN(err) && worst < 0)) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `${label} element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`,
    );
  }
}
