/**
 * Plain TypeScript references for reductions, softmax and logSoftmax (float64 arithmetic on the
 * given values; int32 sums/products wrap like the kernels). Used only by tests.
 */

export type ReduceKind = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'any' | 'all' | 'logSumExp';

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** For each input element, the flat index of the output it reduces into, and its reduced index. */
function mapping(shape: readonly number[], axes: readonly number[]) {
  const n = shape.reduce((p, d) => p * d, 1);
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outSize = kept.reduce((p, i) => p * shape[i], 1);
  const strides = stridesOf(shape);
  const outIdx = new Int32Array(n);
  const redIdx = new Int32Array(n);
  for (let f = 0; f < n; f++) {
    let o = 0;
    let r = 0;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(f / strides[d]) % shape[d];
      if (axes.includes(d)) r = r * shape[d] + c;
      else o = o * shape[d] + c;
    }
    outIdx[f] = o;
    redIdx[f] = r;
  }
  return { outSize, outIdx, redIdx, R: axes.reduce((p, a) => p * shape[a], 1) };
}

/** `axes` are normalized (non-negative, sorted). `int` selects int32 wrapping for sum/prod. */
export function reduceRef(
  kind: ReduceKind,
  x: ArrayLike<number>,
  shape: readonly number[],
  axes: readonly number[],
  int = false,
): number[] {
  const { outSize, outIdx, R } = mapping(shape, axes);
  const groups: number[][] = Array.from({ length: outSize }, () => []);
  for (let f = 0; f < x.length; f++) groups[outIdx[f]].push(x[f]);
  return groups.map((g) => reduceGroup(kind, g, R, int));
}

// Loops rather than Math.max(...g): groups may hold a million values.
const gmax = (g: number[]) =>
  g.reduce((a, v) => (Number.isNaN(v) || v > a ? v : a), Number.NEGATIVE_INFINITY);
const gmin = (g: number[]) =>
  g.reduce((a, v) => (Number.isNaN(a) || (v >= a && !Number.isNaN(v)) ? a : v), Number.POSITIVE_INFINITY);

function reduceGroup(kind: ReduceKind, g: number[], R: number, int: boolean): number {
  switch (kind) {
    case 'sum':
      return int ? g.reduce((a, v) => (a + v) | 0, 0) : g.reduce((a, v) => a + v, 0);
    case 'mean':
      return g.reduce((a, v) => a + v, 0) / R;
    case 'prod':
      return int ? g.reduce((a, v) => Math.imul(a, v), 1) : g.reduce((a, v) => a * v, 1);
    case 'max':
      return gmax(g);
    case 'min':
      return gmin(g);
    case 'any':
      return g.some((v) => v !== 0) ? 1 : 0;
    case 'all':
      return g.every((v) => v !== 0) ? 1 : 0;
    case 'logSumExp': {
      const m = gmax(g);
      if (!Number.isFinite(m)) return m;
      return m + Math.log(g.reduce((a, v) => a + Math.exp(v - m), 0));
    }
  }
}

/** Index along `axis` of the max (min), first on ties, first NaN wins. */
export function argRef(
  kind: 'argMax' | 'argMin',
  x: ArrayLike<number>,
  shape: readonly number[],
  axis: number,
): number[] {
  const { outSize, outIdx, redIdx } = mapping(shape, [axis]);
  const best = new Array<number>(outSize).fill(Number.NaN);
  const bestI = new Array<number>(outSize).fill(-1);
  for (let f = 0; f < x.length; f++) {
    const o = outIdx[f];
    const v = x[f];
    if (bestI[o] >= 0 && Number.isNaN(best[o])) continue;
    const better = bestI[o] < 0 || Number.isNaN(v) || (kind === 'argMax' ? v > best[o] : v < best[o]);
    if (better) {
      best[o] = v;
      bestI[o] = redIdx[f];
    }
  }
  return bestI;
}

/** softmax / logSoftmax along `axis` in float64, subtracting the row max. */
export function softmaxRef(
  kind: 'softmax' | 'logSoftmax',
  x: ArrayLike<number>,
  shape: readonly number[],
  axis: number,
): number[] {
  const L = shape[axis];
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const out = new Array<number>(x.length);
  for (let o = 0; o < x.length / Math.max(L, 1); o++) {
    const base = Math.floor(o / inner) * L * inner + (o % inner);
    let m = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < L; k++) m = Math.max(m, x[base + k * inner]);
    let s = 0;
    for (let k = 0; k < L; k++) s += Math.exp(x[base + k * inner] - m);
    for (let k = 0; k < L; k++) {
      const v = x[base + k * inner] - m;
      out[base + k * inner] = kind === 'softmax' ? Math.exp(v) / s : v - Math.log(s);
    }
  }
  return out;
}

/** Output shape of a reduction over normalized `axes`. */
export function reducedShape(shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] {
  return keepDims
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}
