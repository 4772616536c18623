import { describe, expect, it } from 'vitest';
import {
  applyActivation,
  binaryCrossentropy,
  categoricalCrossentropy,
  categoricalHinge,
  getLoss,
  hinge,
  huber,
  kullbackLeiblerDivergence,
  type LossFn,
  meanAbsoluteError,
  meanSquaredError,
  memory,
  sigmoidCrossEntropyWithLogits,
  sparseCategoricalCrossentropy,
  type Tensor,
  tensor,
  tidy,
} from '../src/index.js';
import { checkGrad } from './gradcheck.js';
import { expectClose, randArray, randInts, rng } from './helpers.js';
import { type LossOpts, lossOracle, sigmoidCe } from './oracle/losses.js';

/*
 * Every loss against its CPU float64 oracle (test/oracle/losses.ts) on odd shapes and edge values
 * (logits ±80, probabilities 0 and 1), with and without sample weights, and its gradient by finite
 * differences; the fused sigmoid cross-entropy kernel on its own.
 */

type Kind = 'binary' | 'prob' | 'onehot' | 'sparse' | 'real' | 'dist';
interface Case {
  name: string;
  make: (o: LossOpts) => LossFn;
  opts: LossOpts;
  target: Kind;
  pred: 'prob' | 'logits' | 'real' | 'softmax';
}

const cases: Case[] = [
  {
    name: 'binaryCrossentropy',
    make: (o) => binaryCrossentropy(o),
    opts: {},
    target: 'binary',
    pred: 'prob',
  },
  {
    name: 'binaryCrossentropy',
    make: (o) => binaryCrossentropy(o),
    opts: { labelSmoothing: 0.2 },
    target: 'prob',
    pred: 'prob',
  },
  {
    name: 'binaryCrossentropy',
    make: (o) => binaryCrossentropy(o),
    opts: { fromLogits: true },
    target: 'binary',
    pred: 'logits',
  },
  {
    name: 'binaryCrossentropy',
    make: (o) => binaryCrossentropy(o),
    opts: { fromLogits: true, labelSmoothing: 0.1 },
    target: 'prob',
    pred: 'logits',
  },
  {
    name: 'categoricalCrossentropy',
    make: (o) => categoricalCrossentropy(o),
    opts: {},
    target: 'onehot',
    pred: 'softmax',
  },
  {
    name: 'categoricalCrossentropy',
    make: (o) => categoricalCrossentropy(o),
    opts: { fromLogits: true, labelSmoothing: 0.3 },
    target: 'onehot',
    pred: 'logits',
  },
  {
    name: 'sparseCategoricalCrossentropy',
    make: (o) => sparseCategoricalCrossentropy(o),
    opts: { fromLogits: true },
    target: 'sparse',
    pred: 'logits',
  },
  {
    name: 'sparseCategoricalCrossentropy',
    make: (o) => sparseCategoricalCrossentropy(o),
    opts: {},
    target: 'sparse',
    pred: 'softmax',
  },
  { name: 'meanSquaredError', make: () => meanSquaredError(), opts: {}, target: 'real', pred: 'real' },
  { name: 'meanAbsoluteError', make: () => meanAbsoluteError(), opts: {}, target: 'real', pred: 'real' },
  { name: 'huber', make: () => huber(), opts: {}, target: 'real', pred: 'real' },
  {
    name: 'huber',
    make: (o) => huber({ delta: o.delta }),
    opts: { delta: 0.3 },
    target: 'real',
    pred: 'real',
  },
  {
    name: 'kullbackLeiblerDivergence',
    make: () => kullbackLeiblerDivergence(),
    opts: {},
    target: 'dist',
    pred: 'softmax',
  },
  { name: 'hinge', make: () => hinge(), opts: {}, target: 'binary', pred: 'real' },
  { name: 'hinge', make: () => hinge(), opts: {}, target: 'real', pred: 'real' },
  { name: 'categoricalHinge', make: () => categoricalHinge(), opts: {}, target: 'onehot', pred: 'real' },
];

function softmaxRows(x: Float32Array, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += c) {
    const row = x.subarray(i, i + c);
    const m = Math.max(...row);
    const e = Array.from(row, (v) => Math.exp(v - m));
    const s = e.reduce((a, v) => a + v, 0);
    e.forEach((v, j) => {
      out[i + j] = v / s;
    });
  }
  return out;
}

/** Targets and predictions for a case; `edge` puts ±80 logits and 0/1 probabilities in. */
function data(k: Case, b: number, c: number, r: () => number, edge: boolean) {
  const n = b * c;
  let p: Float32Array;
  if (k.pred === 'logits') p = randArray(n, r, -6, 6);
  else if (k.pred === 'prob') p = randArray(n, r, 0.02, 0.98);
  else if (k.pred === 'softmax') p = softmaxRows(randArray(n, r, -3, 3), c);
  else p = randArray(n, r, -2, 2);
  if (edge && k.pred === 'logits') [p[0], p[n - 1]] = [80, -80];
  if (edge && k.pred === 'prob') [p[0], p[n - 1]] = [0, 1];
  const labels = randInts(b, r, 0, c);
  let t: Float32Array | Int32Array;
  if (k.target === 'sparse') t = labels;
  else if (k.target === 'onehot')
    t = Float32Array.from({ length: n }, (_, i) => (labels[Math.floor(i / c)] === i % c ? 1 : 0));
  else if (k.target === 'binary') t = Float32Array.from({ length: n }, () => (r() < 0.5 ? 0 : 1));
  else if (k.target === 'dist') t = softmaxRows(randArray(n, r, -2, 2), c);
  else if (k.target === 'prob') t = randArray(n, r, 0, 1);
  else t = randArray(n, r, -2, 2);
  return { t, p };
}

describe('losses match the float64 CPU oracle', () => {
  for (const k of cases) {
    it(`${k.name} ${JSON.stringify(k.opts)} (${k.target} targets)`, async () => {
      const before = memory().numTensors;
      const r = rng(7);
      const loss = k.make(k.opts);
      for (const [b, c] of [
        [1, 1],
        [7, 3],
        [5, 13],
      ]) {
        if (k.target === 'onehot' && c === 1 && k.name === 'categoricalHinge') continue;
        for (const edge of [false, true]) {
          for (const weighted of [false, true]) {
            const { t, p } = data(k, b, c, r, edge);
            const sw = weighted ? randArray(b, r, 0, 2) : undefined;
            const yT = k.target === 'sparse' ? tensor(t, [b], 'int32') : tensor(t, [b, c]);
            const yP = tensor(p, [b, c]);
            const w = sw ? tensor(sw, [b]) : undefined;
            const v = tidy(() => loss(yT, yP, w));
            const got = (await v.data())[0];
            const want = lossOracle(k.name, t, p, c, k.opts, sw);
            const label = `[${b},${c}] edge=${edge} weighted=${weighted}: GPU ${got} vs CPU ${want}`;
            expect(Number.isFinite(got), label).toBe(true);
            // float32 vs float64; the 0/1 probabilities are clipped to 1e-7 (losses up to ~16).
            expect(Math.abs(got - want), label).toBeLessThan(2e-5 * Math.max(1, Math.abs(want)));
            for (const x of [v, yT, yP, w]) x?.dispose();
          }
        }
      }
      expect(memory().numTensors).toBe(before);
    });
  }

  it('rank-3 predictions: elementwise losses average the last axis, then divide by the elements left', async () => {
    const r = rng(3);
    const shape = [3, 4, 5];
    const t = randArray(60, r, 0, 1);
    const p = randArray(60, r, 0.05, 0.95);
    const sw = randArray(3, r, 0, 2);
    for (const name of ['binaryCrossentropy', 'meanSquaredError', 'meanAbsoluteError', 'huber'] as const) {
      const [yT, yP, w] = [tensor(t, shape), tensor(p, shape), tensor(sw, [3])];
      const v = tidy(() => getLoss(name)(yT, yP, w));
      // Each sample's weight covers its 4 rows.
      const swRows = Array.from({ length: 12 }, (_, i) => sw[Math.floor(i / 4)]);
      expectClose(await v.data(), [lossOracle(name, t, p, 5, {}, swRows)], { atol: 1e-6, rtol: 1e-5 }, name);
      for (const x of [v, yT, yP, w]) x.dispose();
    }
  });

  it('a sample weight of [batch, 1] equals one of [batch]; a custom loss without it still works', async () => {
    const yT = tensor([1, 0, 1], [3, 1]);
    const yP = tensor([0.9, 0.2, 0.4], [3, 1]);
    const w1 = tensor([1, 2, 0.5], [3]);
    const w2 = tensor([1, 2, 0.5], [3, 1]);
    const bce = binaryCrossentropy();
    const [a, b] = [bce(yT, yP, w1), bce(yT, yP, w2)];
    expect((await a.data())[0]).toBeCloseTo((await b.data())[0], 6);
    const custom: LossFn = (t, p) => meanSquaredError()(t, p);
    const c = custom(yT, yP);
    expect((await c.data())[0]).toBeCloseTo(lossOracle('meanSquaredError', [1, 0, 1], [0.9, 0.2, 0.4], 1), 6);
    for (const x of [yT, yP, w1, w2, a, b, c]) x.dispose();
  });

  it('binaryCrossentropy on a sigmoid output uses its logits: no clipping at saturation', async () => {
    const x = tensor([30, -30, 0.5, -25], [4, 1]);
    const y = tensor([0, 1, 1, 0], [4, 1]);
    const v = tidy(() => binaryCrossentropy()(y, applyActivation('sigmoid', x)));
    const want = [30, -30, 0.5, -25].reduce((s, xi, i) => s + sigmoidCe([0, 1, 1, 0][i], xi), 0) / 4;
    // Clipped probabilities would cap each of the first two terms at -log(1e-7) = 16.1 (mean 8.2).
    const clipped = lossOracle('binaryCrossentropy', [0, 1, 1, 0], [1, 0, 1 / (1 + Math.exp(-0.5)), 0], 1);
    expect((await v.data())[0]).toBeCloseTo(want, 4);
    expect(want - clipped).toBeGreaterThan(6);
    for (const t of [x, y, v]) t.dispose();
  });

  it('label smoothing: categorical spreads s over the classes, binary s / 2', async () => {
    const yT = tensor([0, 1, 0, 1, 0, 0], [2, 3]);
    const logits = tensor([1, 2, 3, -1, 0, 4], [2, 3]);
    const v = categoricalCrossentropy({ fromLogits: true, labelSmoothing: 0.3 })(yT, logits);
    const want = lossOracle('categoricalCrossentropy', [0, 1, 0, 1, 0, 0], [1, 2, 3, -1, 0, 4], 3, {
      fromLogits: true,
      labelSmoothing: 0.3,
    });
    expect((await v.data())[0]).toBeCloseTo(want, 5);
    for (const t of [yT, logits, v]) t.dispose();
  });
});

describe('loss gradients by finite differences', () => {
  for (const k of cases) {
    it(`${k.name} ${JSON.stringify(k.opts)} (${k.target})`, async () => {
      const r = rng(11);
      const [b, c] = [4, 3];
      const { t, p } = data(k, b, c, r, false);
      const sw = randArray(b, r, 0.2, 2);
      const yT = k.target === 'sparse' ? tensor(t, [b], 'int32') : tensor(t, [b, c]);
      const w = tensor(sw, [b]);
      const loss = k.make(k.opts);
      // Keep away from the kinks of MAE / hinge / Huber for central differences.
      const pv = k.pred === 'real' ? p.map((v, i) => v + (i % 2 ? 0.13 : -0.11)) : p;
      await checkGrad({
        label: k.name,
        f: (x: Tensor) => loss(yT, x, w),
        oracle: ([x]) => [lossOracle(k.name, t, x, c, k.opts, sw)],
        inputs: [{ shape: [b, c], data: pv }],
        atol: 2e-3,
        rtol: 2e-2,
        eps: 1e-3,
      });
      yT.dispose();
      w.dispose();
    });
  }
});

describe('sigmoidCrossEntropyWithLogits (fused kernel)', () => {
  it('matches the oracle on odd shapes, with ±80 logits and label smoothing', async () => {
    const r = rng(5);
    for (const shape of [[1], [3, 5, 7], [130], [2, 67]]) {
      const n = shape.reduce((a, v) => a * v, 1);
      const x = randArray(n, r, -10, 10);
      x[0] = 80;
      if (n > 1) x[n - 1] = -80;
      const z = randArray(n, r, 0, 1);
      for (const s of [0, 0.25]) {
        const [zt, xt] = [tensor(z, shape), tensor(x, shape)];
        const out = sigmoidCrossEntropyWithLogits(zt, xt, s);
        const want = Array.from(x, (v, i) => sigmoidCe(z[i], v, s));
        expectClose(await out.data(), want, { atol: 1e-5, rtol: 1e-5 }, `${shape} s=${s}`);
        for (const t of [zt, xt, out]) t.dispose();
      }
    }
  });

  it('keeps the tiny losses of saturated logits (log1p, not log(1 + e))', async () => {
    const [zt, xt] = [tensor([1, 0, 1], [3]), tensor([20, -20, 80], [3])];
    const out = await sigmoidCrossEntropyWithLogits(zt, xt).data();
    expectClose(out, [Math.log1p(Math.exp(-20)), Math.log1p(Math.exp(-20)), Math.log1p(Math.exp(-80))], {
      atol: 0,
      rtol: 1e-5,
    });
    zt.dispose();
    xt.dispose();
  });

  it('gradient w.r.t. the logits by finite differences (with label smoothing)', async () => {
    const r = rng(9);
    const z = randArray(15, r, 0, 1);
    const zt = tensor(z, [3, 5]);
    await checkGrad({
      label: 'sigmoidCrossEntropyWithLogits',
      f: (x: Tensor) => sigmoidCrossEntropyWithLogits(zt, x, 0.2),
      oracle: ([x]) => Array.from(x, (v, i) => sigmoidCe(z[i], v, 0.2)),
      inputs: [{ shape: [3, 5], data: randArray(15, r, -4, 4) }],
    });
    zt.dispose();
  });
});
