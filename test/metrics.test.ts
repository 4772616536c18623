import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AUC,
  BinaryAccuracy,
  binaryCrossentropy,
  CategoricalAccuracy,
  categoricalCrossentropy,
  categoricalHinge,
  hinge,
  huber,
  kullbackLeiblerDivergence,
  type LossFn,
  Mean,
  MeanAbsoluteError,
  MeanMetricWrapper,
  MeanSquaredError,
  type Metric,
  meanAbsoluteError,
  meanSquaredError,
  memory,
  Precision,
  Recall,
  SparseCategoricalAccuracy,
  SparseTopKCategoricalAccuracy,
  sparseCategoricalCrossentropy,
  type Tensor,
  TopKCategoricalAccuracy,
  tensor,
  tidy,
} from '../src/index.js';
import { randArray, randInts, rng } from './helpers.js';
import { metricOracle } from './oracle/metrics.js';

/*
 * The stateful metrics over several batches against a float64 CPU oracle over all samples (epoch
 * semantics), against Keras 3 (test/fixtures/metrics/metrics.json, made by make_metrics.py), and in
 * fit/evaluate: History and logs as Keras, sample and class weights, one readback per step, no leaks.
 */

type Opts = Record<string, number | string>;
const CLASSES: Record<string, (o: Opts) => Metric> = {
  AUC: (o) => new AUC(o as never),
  Precision: (o) => new Precision(o as never),
  Recall: (o) => new Recall(o as never),
  BinaryAccuracy: (o) => new BinaryAccuracy(o as never),
  CategoricalAccuracy: () => new CategoricalAccuracy(),
  SparseCategoricalAccuracy: () => new SparseCategoricalAccuracy(),
  TopKCategoricalAccuracy: (o) => new TopKCategoricalAccuracy(o as never),
  SparseTopKCategoricalAccuracy: (o) => new SparseTopKCategoricalAccuracy(o as never),
  MeanSquaredError: () => new MeanSquaredError(),
  MeanAbsoluteError: () => new MeanAbsoluteError(),
};

/** Feeds the data to `m` in batches of `sizes` (rows of c values; sparse targets one per row). */
async function feed(
  m: Metric,
  t: ArrayLike<number>,
  p: ArrayLike<number>,
  trueShape: number[],
  shape: number[],
  sizes: number[],
  sw?: ArrayLike<number>,
): Promise<number> {
  const tPer = trueShape.slice(1).reduce((a, v) => a * v, 1);
  const pPer = shape.slice(1).reduce((a, v) => a * v, 1);
  let s = 0;
  for (const n of sizes) {
    const yT = tensor(Float32Array.from(t).subarray(s * tPer, (s + n) * tPer), [n, ...trueShape.slice(1)]);
    const yP = tensor(Float32Array.from(p).subarray(s * pPer, (s + n) * pPer), [n, ...shape.slice(1)]);
    const w = sw ? tensor(Float32Array.from(sw).subarray(s, s + n), [n]) : undefined;
    await m.updateState(yT, yP, w);
    for (const x of [yT, yP, w]) x?.dispose();
    s += n;
  }
  return m.result();
}

describe('metrics accumulate over batches to the value over all samples (CPU oracle)', () => {
  const r = rng(21);
  const n = 20;
  const sizes = [5, 8, 1, 6];
  const c = 4;
  const probs = randArray(n * c, r, 0, 1);
  probs[0] = 0;
  probs[1] = 1;
  const multi = Float32Array.from({ length: n * c }, () => (r() < 0.4 ? 1 : 0));
  const idx = randInts(n, r, 0, c);
  const onehot = Float32Array.from({ length: n * c }, (_, i) => (idx[Math.floor(i / c)] === i % c ? 1 : 0));
  const real = randArray(n * c, r, -2, 2);
  const sw = randArray(n, r, 0, 2);
  const cases: Array<[string, Opts, ArrayLike<number>, number[]]> = [
    ['BinaryAccuracy', {}, multi, [n, c]],
    ['BinaryAccuracy', { threshold: 0.7 }, multi, [n, c]],
    ['CategoricalAccuracy', {}, onehot, [n, c]],
    ['SparseCategoricalAccuracy', {}, idx, [n]],
    ['TopKCategoricalAccuracy', { k: 2 }, onehot, [n, c]],
    ['SparseTopKCategoricalAccuracy', { k: 3 }, idx, [n]],
    ['MeanSquaredError', {}, real, [n, c]],
    ['MeanAbsoluteError', {}, real, [n, c]],
    ['Precision', {}, multi, [n, c]],
    ['Precision', { thresholds: 0.3, classId: 2 }, multi, [n, c]],
    ['Recall', { topK: 2 }, multi, [n, c]],
    ['AUC', {}, multi, [n, c]],
    ['AUC', { curve: 'PR' }, multi, [n, c]],
    ['AUC', { numThresholds: 7, summationMethod: 'majoring' }, multi, [n, c]],
  ];
  for (const [cls, opts, t, trueShape] of cases)
    for (const weighted of [false, true])
      it(`${cls} ${JSON.stringify(opts)}${weighted ? ' weighted' : ''}`, async () => {
        const before = memory().numTensors;
        const m = CLASSES[cls](opts);
        const w = weighted ? sw : undefined;
        const got = await feed(m, t, probs, trueShape, [n, c], sizes, w);
        expect(got).toBeCloseTo(metricOracle(cls, opts, t, probs, c, w), 6);
        m.resetState();
        expect(m.result()).toBe(0);
        expect(memory().numTensors).toBe(before);
      });

  it('precision over the epoch is not the mean of per-batch precisions', async () => {
    // Batch 1: 1 of 1 predicted positives right; batch 2: 1 of 3.
    const m = new Precision();
    const got = await feed(m, [1, 0, 1, 0, 0, 0], [0.9, 0.1, 0.8, 0.7, 0.6, 0.2], [6, 1], [6, 1], [2, 4]);
    expect(got).toBeCloseTo(2 / 4, 6);
    expect(got).not.toBeCloseTo((1 + 1 / 3) / 2, 3);
  });

  it('Mean weighs values by sampleWeight; MeanMetricWrapper wraps a function', async () => {
    const mean = new Mean({ name: 'm' });
    const [v, w] = [tensor([1, 2, 3], [3]), tensor([1, 0, 3], [3])];
    await mean.updateState(v, w);
    await mean.updateState(tensor([5], [1]));
    expect(mean.result()).toBeCloseTo((1 + 9 + 5) / 5, 6);
    const wrap = new MeanMetricWrapper((a: Tensor, b: Tensor) => tidy(() => a.sub(b).abs()), 'diff');
    const [a, b] = [tensor([1, 2, 4], [3]), tensor([0, 0, 0], [3])];
    await wrap.updateState(a, b, w);
    expect(wrap.result()).toBeCloseTo((1 + 12) / 4, 6);
    for (const t of [v, w, a, b]) t.dispose();
  });
});

// ---- Keras 3 fixture ------------------------------------------------------------------------

interface Fixture {
  losses: Array<{
    name: string;
    opts: Opts;
    yTrue: number[];
    yPred: number[];
    shape: number[];
    trueShape: number[];
    sampleWeight: number[] | null;
    value: number;
  }>;
  metrics: Array<{
    cls: string;
    opts: Opts;
    yTrue: number[];
    yPred: number[];
    shape: number[];
    trueShape: number[];
    weighted: boolean;
    sampleWeight: number[] | null;
    value: number;
  }>;
  fit: Array<{
    label: string;
    classWeight: Record<string, number> | null;
    sampleWeight: boolean;
    weightedMetrics: string[];
    history: Record<string, number>;
    evaluate: Record<string, number>;
    kernel: number[];
    bias: number[];
  }>;
  fitData: {
    x: number[];
    y: number[];
    kernel: number[];
    bias: number[];
    sampleWeight: number[];
    n: number;
    d: number;
  };
}
const fx: Fixture = JSON.parse(
  readFileSync(new URL('./fixtures/metrics/metrics.json', import.meta.url), 'utf8'),
);
const sizes = [7, 9, 7];
const LOSSES: Record<string, (o: Opts) => LossFn> = {
  binaryCrossentropy: (o) => binaryCrossentropy(o),
  categoricalCrossentropy: (o) => categoricalCrossentropy(o),
  sparseCategoricalCrossentropy: (o) => sparseCategoricalCrossentropy(o),
  meanSquaredError: () => meanSquaredError(),
  meanAbsoluteError: () => meanAbsoluteError(),
  huber: (o) => huber(o),
  kullbackLeiblerDivergence: () => kullbackLeiblerDivergence(),
  hinge: () => hinge(),
  categoricalHinge: () => categoricalHinge(),
};

describe('Keras 3 reference values', () => {
  it('losses (with label smoothing, logits, sample weights)', async () => {
    for (const l of fx.losses) {
      const { name, opts, ...rest } = l;
      const loss = LOSSES[name](opts);
      const yT = tensor(Float32Array.from(rest.yTrue), rest.trueShape);
      const yP = tensor(Float32Array.from(rest.yPred), rest.shape);
      const w = rest.sampleWeight ? tensor(Float32Array.from(rest.sampleWeight), [rest.shape[0]]) : undefined;
      const v = tidy(() => (w ? loss(yT, yP, w) : loss(yT, yP)));
      const got = (await v.data())[0];
      expect(
        Math.abs(got - l.value),
        `${name} ${JSON.stringify(opts)} w=${!!w}: ours ${got}, Keras ${l.value}`,
      ).toBeLessThan(2e-5 * Math.max(1, Math.abs(l.value)));
      for (const x of [yT, yP, w, v]) x?.dispose();
    }
  });

  it('stateful metrics over three batches, with and without sample weights', async () => {
    expect(fx.metrics.length).toBeGreaterThan(40);
    for (const m of fx.metrics) {
      const metric = CLASSES[m.cls](m.opts);
      const got = await feed(
        metric,
        m.yTrue,
        m.yPred,
        m.trueShape,
        m.shape,
        sizes,
        m.sampleWeight ?? undefined,
      );
      expect(
        Math.abs(got - m.value),
        `${m.cls} ${JSON.stringify(m.opts)}: ours ${got}, Keras ${m.value}`,
      ).toBeLessThan(2e-6);
    }
  });
});
