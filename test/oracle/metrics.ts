/**
 * CPU float64 references of the stateful metrics over a whole data set (src/nn/metrics*.ts), used
 * only by tests: the value over all samples at once, which the metrics must reach by accumulating
 * batch after batch. Arrays are flat, row-major; `c` is the size of the last axis.
 */

function weightedMean(v: number[], sw?: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  v.forEach((x, i) => {
    const w = sw ? sw[i] : 1;
    s += x * w;
    n += w;
  });
  return n === 0 ? 0 : s / n;
}

function rows(a: ArrayLike<number>, c: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.length; i += c) out.push(Array.from(a).slice(i, i + c));
  return out;
}

const argmax = (r: number[]) => r.indexOf(Math.max(...r));

/** The Keras metric `cls` with `opts` over all of t (targets), p (predictions), sw (per sample). */
export function metricOracle(
  cls: string,
  opts: Record<string, number | string>,
  t: ArrayLike<number>,
  p: ArrayLike<number>,
  c: number,
  sw?: ArrayLike<number>,
): number {
  const pr = rows(p, c);
  switch (cls) {
    case 'BinaryAccuracy': {
      const th = (opts.threshold as number) ?? 0.5;
      const tr = rows(t, c);
      return weightedMean(
        pr.map((r, i) => r.reduce((s, v, j) => s + ((v > th ? 1 : 0) === tr[i][j] ? 1 : 0), 0) / c),
        sw,
      );
    }
    case 'CategoricalAccuracy': {
      const tr = rows(t, c);
      return weightedMean(
        pr.map((r, i) => (argmax(r) === argmax(tr[i]) ? 1 : 0)),
        sw,
      );
    }
    case 'SparseCategoricalAccuracy':
      return weightedMean(
        pr.map((r, i) => (argmax(r) === t[i] ? 1 : 0)),
        sw,
      );
    case 'TopKCategoricalAccuracy':
    case 'SparseTopKCategoricalAccuracy': {
      const k = (opts.k as number) ?? 5;
      const labels = cls === 'TopKCategoricalAccuracy' ? rows(t, c).map(argmax) : Array.from(t);
      return weightedMean(
        pr.map((r, i) => (r.filter((v) => v > r[labels[i]]).length < k ? 1 : 0)),
        sw,
      );
    }
    case 'MeanSquaredError':
    case 'MeanAbsoluteError': {
      const tr = rows(t, c);
      const f = cls === 'MeanSquaredError' ? (d: number) => d * d : Math.abs;
      return weightedMean(
        pr.map((r, i) => r.reduce((s, v, j) => s + f(v - tr[i][j]), 0) / c),
        sw,
      );
    }
    case 'Precision':
    case 'Recall':
    case 'AUC':
      return confusionOracle(cls, opts, t, p, c, sw);
  }
  throw new Error(`metricOracle: unknown metric ${cls}`);
}

function confusionOracle(
  cls: string,
  opts: Record<string, number | string>,
  t: ArrayLike<number>,
  p: ArrayLike<number>,
  c: number,
  sw?: ArrayLike<number>,
): number {
  // Flatten to (prediction, label, weight) triples after top-k and class selection.
  const items: Array<[number, boolean, number]> = [];
  rows(p, c).forEach((r, i) => {
    const kept =
      opts.topK !== undefined
        ? r.map((v) => (r.filter((u) => u > v).length < (opts.topK as number) ? v : -1e10))
        : r;
    kept.forEach((v, j) => {
      if (opts.classId === undefined || opts.classId === j)
        items.push([v, t[i * c + j] !== 0, sw ? sw[i] : 1]);
    });
  });
  if (cls !== 'AUC') {
    const th = (opts.thresholds as number) ?? (opts.topK !== undefined ? -1e10 : 0.5);
    let tp = 0;
    let fp = 0;
    let pos = 0;
    for (const [v, l, w] of items) {
      if (v > th && l) tp += w;
      if (v > th && !l) fp += w;
      if (l) pos += w;
    }
    return cls === 'Precision' ? (tp + fp > 0 ? tp / (tp + fp) : 0) : pos > 0 ? tp / pos : 0;
  }
  const n = (opts.numThresholds as number) ?? 200;
  const thr = [-1e-7, ...Array.from({ length: n - 2 }, (_, i) => (i + 1) / (n - 1)), 1 + 1e-7].map(
    Math.fround,
  );
  const tp = thr.map((th) => items.reduce((s, [v, l, w]) => s + (v > th && l ? w : 0), 0));
  const fp = thr.map((th) => items.reduce((s, [v, l, w]) => s + (v > th && !l ? w : 0), 0));
  const pos = items.reduce((s, [, l, w]) => s + (l ? w : 0), 0);
  const neg = items.reduce((s, [, l, w]) => s + (l ? 0 : w), 0);
  const div = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const curve = (opts.curve as string) ?? 'ROC';
  const sm = (opts.summationMethod as string) ?? 'interpolation';
  let auc = 0;
  if (curve === 'PR' && sm === 'interpolation') {
    for (let i = 0; i < n - 1; i++) {
      const dtp = tp[i] - tp[i + 1];
      const [p0, p1] = [tp[i] + fp[i], tp[i + 1] + fp[i + 1]];
      const slope = div(dtp, Math.max(p0 - p1, 0));
      const intercept = tp[i + 1] - slope * p1;
      const ratio = p0 > 0 && p1 > 0 ? p0 / p1 : 1;
      auc += div(slope * (dtp + intercept * Math.log(ratio)), pos - tp[i + 1] + tp[i + 1]);
    }
    return auc;
  }
  const rec = tp.map((v) => div(v, pos));
  const x = curve === 'ROC' ? fp.map((v) => div(v, neg)) : rec;
  const y = curve === 'ROC' ? rec : tp.map((v, i) => div(v, v + fp[i]));
  for (let i = 0; i < n - 1; i++) {
    const h =
      sm === 'interpolation'
        ? (y[i] + y[i + 1]) / 2
        : sm === 'minoring'
          ? Math.min(y[i], y[i + 1])
          : Math.max(y[i], y[i + 1]);
    auc += (x[i] - x[i + 1]) * h;
  }
  return auc;
}
