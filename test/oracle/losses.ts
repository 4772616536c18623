/**
 * CPU float64 references of the Keras 3 losses and metrics (src/nn/losses*.ts, src/nn/metrics*.ts),
 * used only by tests. Arrays are flat, row-major; `c` is the size of the last axis.
 */

const EPS = Math.fround(1e-7);
const ONE_MINUS_EPS = Math.fround(1 - 1e-7);
const clip = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Rows of length c. */
function rows(a: ArrayLike<number>, c: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.length; i += c) out.push(Array.from(a).slice(i, i + c));
  return out;
}

/** Keras 'sum_over_batch_size': sum(l_i * w_i) / count. */
export function reduce(perSample: number[], sw?: ArrayLike<number>): number {
  let s = 0;
  perSample.forEach((l, i) => {
    s += l * (sw ? sw[i] : 1);
  });
  return s / perSample.length;
}

/** Elementwise sigmoid cross-entropy from logits (smoothed targets). */
export function sigmoidCe(z: number, x: number, s = 0): number {
  const t = z * (1 - s) + 0.5 * s;
  return Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
}

/** Per-sample losses of the elementwise losses: the mean over the last axis of `term`. */
function lastMean(
  t: ArrayLike<number>,
  p: ArrayLike<number>,
  c: number,
  term: (t: number, p: number) => number,
) {
  const rt = rows(t, c);
  return rows(p, c).map((r, i) => r.reduce((s, v, j) => s + term(rt[i][j], v), 0) / c);
}

export interface LossOpts {
  fromLogits?: boolean;
  labelSmoothing?: number;
  delta?: number;
}

/** The loss `name` of flat yTrue / yPred with last axis c (sparse: yTrue one label per row). */
export function lossOracle(
  name: string,
  t: ArrayLike<number>,
  p: ArrayLike<number>,
  c: number,
  opts: LossOpts = {},
  sw?: ArrayLike<number>,
): number {
  const s = opts.labelSmoothing ?? 0;
  switch (name) {
    case 'binaryCrossentropy':
      return reduce(
        lastMean(t, p, c, (z, v) => {
          if (opts.fromLogits) return sigmoidCe(z, v, s);
          const zz = z * (1 - s) + 0.5 * s;
          const q = clip(v, EPS, ONE_MINUS_EPS);
          return -(zz * Math.log(q) + (1 - zz) * Math.log(1 - q));
        }),
        sw,
      );
    case 'categoricalCrossentropy': {
      const rt = rows(t, c);
      return reduce(
        rows(p, c).map((r, i) => {
          let logp: number[];
          if (opts.fromLogits) {
            const m = Math.max(...r);
            const lse = Math.log(r.reduce((a, v) => a + Math.exp(v - m), 0)) + m;
            logp = r.map((v) => v - lse);
          } else {
            const tot = r.reduce((a, v) => a + v, 0);
            logp = r.map((v) => Math.log(clip(v / tot, EPS, ONE_MINUS_EPS)));
          }
          return -rt[i].reduce((a, z, j) => a + (z * (1 - s) + s / c) * logp[j], 0);
        }),
        sw,
      );
    }
    case 'sparseCategoricalCrossentropy':
      return reduce(
        rows(p, c).map((r, i) => {
          const l = opts.fromLogits ? r : r.map((v) => Math.log(clip(v, EPS, ONE_MINUS_EPS)));
          const m = Math.max(...l);
          const lse = Math.log(l.reduce((a, v) => a + Math.exp(v - m), 0)) + m;
          return lse - l[t[i]];
        }),
        sw,
      );
    case 'meanSquaredError':
      return reduce(
        lastMean(t, p, c, (a, b) => (b - a) ** 2),
        sw,
      );
    case 'meanAbsoluteError':
      return reduce(
        lastMean(t, p, c, (a, b) => Math.abs(b - a)),
        sw,
      );
    case 'huber': {
      const d = opts.delta ?? 1;
      return reduce(
        lastMean(t, p, c, (a, b) => {
          const e = Math.abs(b - a);
          return e <= d ? 0.5 * e * e : d * e - 0.5 * d * d;
        }),
        sw,
      );
    }
    case 'kullbackLeiblerDivergence':
      return reduce(
        lastMean(t, p, c, (a, b) => {
          const x = clip(a, EPS, 1);
          return x * Math.log(x / clip(b, EPS, 1));
        }).map((v) => v * c),
        sw,
      );
    case 'hinge': {
      const binary = Array.from(t).every((v) => v === 0 || v === 1);
      return reduce(
        lastMean(t, p, c, (a, b) => Math.max(1 - (binary ? 2 * a - 1 : a) * b, 0)),
        sw,
      );
    }
    case 'categoricalHinge': {
      const rt = rows(t, c);
      return reduce(
        rows(p, c).map((r, i) => {
          const pos = r.reduce((a, v, j) => a + rt[i][j] * v, 0);
          const neg = Math.max(...r.map((v, j) => (1 - rt[i][j]) * v));
          return Math.max(neg - pos + 1, 0);
        }),
        sw,
      );
    }
  }
  throw new Error(`lossOracle: unknown loss ${name}`);
}
