import * as lib from '../src/node.js';

/** One check of scripts/gpu-check.ts: a GPU result and its float64 oracle, with a tolerance. */
export interface Check {
  family: string;
  name: string;
  /** Runs the op (inside a tidy) and returns the values to compare. */
  run: () => lib.Tensor;
  want: () => ArrayLike<number>;
  /** |got - want| <= atol + rtol * |want| (per element). */
  atol: number;
  rtol: number;
  /** Compare bit for bit (movement ops, integer results). */
  exact?: boolean;
}

export interface CheckResult {
  family: string;
  name: string;
  variant: string;
  ok: boolean;
  /** The largest error as a multiple of its tolerance (<= 1: pass). */
  worst: number;
  maxAbsErr: number;
  n: number;
  ms: number;
  error?: string;
}

export async function runCheck(c: Check, variant: string): Promise<CheckResult> {
  const t0 = performance.now();
  const base = { family: c.family, name: c.name, variant };
  try {
    const y = lib.tidy(c.run);
    const got = await y.data();
    y.dispose();
    const want = c.want();
    if (got.length !== want.length) {
      return {
        ...base,
        ok: false,
        worst: Infinity,
        maxAbsErr: Infinity,
        n: got.length,
        ms: 0,
        error: `got ${got.length} values, want ${want.length}`,
      };
    }
    let worst = 0;
    let maxAbsErr = 0;
    for (let i = 0; i < got.length; i++) {
      const w = want[i];
      const g = got[i];
      if (Number.isNaN(w) && Number.isNaN(g)) continue;
      const err = Math.abs(g - w);
      if (c.exact) {
        if (g !== w && !(Number.isNaN(g) && Number.isNaN(w))) worst = Math.max(worst, Infinity);
      } else {
        const e = Number.isNaN(err) ? Infinity : err / (c.atol + c.rtol * Math.abs(w));
        worst = Math.max(worst, e);
      }
      if (!Number.isNaN(err)) maxAbsErr = Math.max(maxAbsErr, err);
    }
    return { ...base, ok: worst <= 1, worst, maxAbsErr, n: got.length, ms: performance.now() - t0 };
  } catch (e) {
    return {
      ...base,
      ok: false,
      worst: Infinity,
      maxAbsErr: Infinity,
      n: 0,
      ms: performance.now() - t0,
      error: String((e as Error).message ?? e),
    };
  }
}

/** Deterministic uniform values in [lo, hi) (a small LCG: the script has no test helpers). */
export function values(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed * 2654435761 + 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

export const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** The conv and depthwise padding modes the cases use. */
export type Pad = 'same' | 'valid';
