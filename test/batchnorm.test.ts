import { afterEach, describe, expect, it } from 'vitest';
import { ArgumentError, DTypeError, ShapeError, tensor, zeros } from '../src/index.js';
import { batchNorm, batchNormGrad, batchNormTraining, updateMovingStats } from '../src/kernels/batchnorm.js';
import { setTuning } from '../src/kernels/tuning.js';
import { reluGrad } from '../src/kernels/unary.js';
import { type OpRecord, setRecorder } from '../src/tensor/record.js';
import { checkGrad } from './gradcheck.js';
import { expectClose, randArray, rng } from './helpers.js';
import { batchNormGradRef, batchNormRef, momentsRef } from './oracle/conv.js';

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

// Channels on and off multiples of 4; ranks 2 and 4; row counts off the rows-per-lane grid.
const SHAPES: number[][] = [[2, 7, 5, 8], [1, 7, 5, 3], [37, 12], [3, 1, 1, 5], [9]];

afterEach(() => setTuning());

describe('batchNorm (inference)', () => {
  it('matches the oracle with and without offset and scale', async () => {
    for (const [i, shape] of SHAPES.entries()) {
      const c = shape[shape.length - 1];
      const r = rng(90 + i);
      const xd = randArray(size(shape), r, -3, 3);
      const m = randArray(c, r);
      const v = randArray(c, r, 0, 2);
      const o = randArray(c, r);
      const s = randArray(c, r, 0.5, 2);
      const x = tensor(xd, shape);
      for (const [useO, useS] of [
        [true, true],
        [false, false],
        [true, false],
        [false, true],
      ]) {
        const y = batchNorm(
          x,
          tensor(m, [c]),
          tensor(v, [c]),
          useO ? tensor(o, [c]) : undefined,
          useS ? tensor(s, [c]) : undefined,
        );
        const ref = batchNormRef(xd, c, m, v, useO ? o : undefined, useS ? s : undefined, 1e-3);
        expectClose(
          await y.data(),
          ref,
          { atol: 1e-5, rtol: 1e-5 },
          `${JSON.stringify(shape)} ${useO} ${useS}`,
        );
      }
    }
  });

  it('is the identity plus beta for the folded MobileNetV2 statistics (mean 0, variance 0.999, eps 1e-3)', async () => {
    const xd = randArray(4 * 3 * 16, rng(3));
    const beta = randArray(16, rng(4));
    const y = batchNorm(
      tensor(xd, [4, 3, 16]),
      zeros([16]),
      tensor(new Float32Array(16).fill(0.999), [16]),
      tensor(beta, [16]),
      tensor(new Float32Array(16).fill(1), [16]),
    );
    const ref = Float64Array.from(xd, (v, j) => v + beta[j % 16]);
    expectClose(await y.data(), ref, { atol: 1e-6, rtol: 1e-6 });
  });

  it('gives the same result for any rows per lane', async () => {
    const shape = [3, 5, 7, 12];
    const r = rng(6);
    const xd = randArray(size(shape), r);
    const m = randArray(12, r);
    const v = randArray(12, r, 0, 1);
    const ref = batchNormRef(xd, 12, m, v, undefined, undefined, 1e-3);
    for (const rows of [1, 3, 64]) {
      setTuning({ batchNormRows: rows });
      const y = batchNorm(tensor(xd, shape), tensor(m, [12]), tensor(v, [12]));
      expectClose(await y.data(), ref, { atol: 1e-5, rtol: 1e-5 }, `rows ${rows}`);
    }
  });

  it('records the op and rejects bad arguments', () => {
    const recs: OpRecord[] = [];
    const prev = setRecorder((rec) => recs.push(rec));
    const x = zeros([2, 3, 4]);
    const c4 = zeros([4]);
    try {
      const y = batchNorm(x, c4, c4, undefined, c4, 0.01);
      expect(recs[0]).toEqual({
        op: 'batchNorm',
        inputs: [x, c4, c4, c4],
        output: y,
        attrs: { epsilon: 0.01, hasOffset: false, hasScale: true },
      });
    } finally {
      setRecorder(prev);
    }
    expect(() => batchNorm(x, zeros([3]), c4)).toThrow(
      'batchNorm: mean must have shape [4] (the channels of x), got [3]',
    );
    expect(() => batchNorm(x, c4, zeros([1, 4]))).toThrow(ShapeError);
    expect(() => batchNorm(x, c4, c4, zeros([5]))).toThrow('batchNorm: offset must have shape [4]');
    expect(() => batchNorm(x, c4, c4, undefined, c4, -1)).toThrow(ArgumentError);
    expect(() => batchNorm(zeros([]), zeros([1]), zeros([1]))).toThrow('batchNorm: x must have rank >= 1');
    expect(() => batchNorm(zeros([2, 4], 'int32'), c4, c4)).toThrow(DTypeError);
  });
});

describe('batchNormTraining', () => {
  it('normalises with the batch mean and biased variance and returns them', async () => {
    for (const [i, shape] of SHAPES.slice(0, 4).entries()) {
      const c = shape[shape.length - 1];
      const r = rng(110 + i);
      // An offset far from zero checks that the variance does not cancel catastrophically.
      const xd = randArray(size(shape), r, 99, 101);
      const g = randArray(c, r, 0.5, 2);
      const b = randArray(c, r);
      const { y, mean, variance } = batchNormTraining(tensor(xd, shape), tensor(g, [c]), tensor(b, [c]));
      const mom = momentsRef(xd, c);
      expectClose(await mean.data(), mom.mean, { atol: 0, rtol: 1e-6 }, 'mean');
      expectClose(await variance.data(), mom.variance, { atol: 1e-6, rtol: 1e-4 }, 'variance');
      const ref = batchNormRef(xd, c, mom.mean, mom.variance, b, g, 1e-3);
      expectClose(await y.data(), ref, { atol: 2e-4, rtol: 1e-4 }, JSON.stringify(shape));
    }
  });

  it('handles many rows (several partial sums) and no gamma/beta', async () => {
    const shape = [64, 12, 9, 8];
    const xd = randArray(size(shape), rng(7), -2, 2);
    const { y, mean, variance } = batchNormTraining(tensor(xd, shape));
    const mom = momentsRef(xd, 8);
    expectClose(await mean.data(), mom.mean, { atol: 1e-6, rtol: 1e-5 });
    expectClose(await variance.data(), mom.variance, { atol: 1e-6, rtol: 1e-5 });
    expectClose(await y.data(), batchNormRef(xd, 8, mom.mean, mom.variance, undefined, undefined, 1e-3), {
      atol: 1e-4,
      rtol: 1e-4,
    });
  });

  it('one statistics pass stays exact far from zero and with an uneven last part', async () => {
    // Mean 1000, unit spread: sum and sum-of-squares in float32 would lose the variance entirely
    // (1e6 * rows against a spread of rows); shifted part sums + Chan's update keep it. 1003 rows
    // of 5 channels split into parts of unequal length (the last one shorter).
    const rows = 1003;
    const shape = [rows, 5];
    const r = rng(11);
    const xd = Float32Array.from({ length: rows * 5 }, (_, i) => 1000 + (i % 5) * 0.5 + (r() - 0.5) * 3);
    const { mean, variance } = batchNormTraining(tensor(xd, shape));
    const mom = momentsRef(xd, 5);
    expectClose(await mean.data(), mom.mean, { atol: 0, rtol: 1e-6 });
    expectClose(await variance.data(), mom.variance, { atol: 0, rtol: 2e-4 });
    // A constant channel: variance exactly 0, never negative.
    const flat = batchNormTraining(tensor(new Float32Array(4 * 33).fill(7.25), [33, 4]));
    expect(Array.from(await flat.variance.data())).toEqual([0, 0, 0, 0]);
    expect(Array.from(await flat.mean.data())).toEqual([7.25, 7.25, 7.25, 7.25]);
  });
  it('records y with the statistics and rejects bad arguments', () => {
    const recs: OpRecord[] = [];
    const prev = setRecorder((rec) => recs.push(rec));
    try {
      const x = zeros([3, 4]);
      const g = zeros([4]);
      const { y, mean, variance } = batchNormTraining(x, g, undefined, 0.5);
      expect(recs.map((r) => r.op)).toEqual(['batchNormTraining']);
      expect(recs[0].inputs).toEqual([x, g]);
      expect(recs[0].output).toBe(y);
      expect(recs[0].attrs).toEqual({
        epsilon: 0.5,
        mean,
        variance,
        hasGamma: true,
        hasBeta: false,
        activation: 'linear',
      });
    } finally {
      setRecorder(prev);
    }
    expect(() => batchNormTraining(zeros([3, 4]), zeros([3]))).toThrow(
      'batchNormTraining: gamma must have shape [4]',
    );
    expect(() => batchNormTraining(zeros([0, 4]))).toThrow(ShapeError);
    expect(() => batchNormTraining(zeros([3, 4]), undefined, undefined, Number.NaN)).toThrow(ArgumentError);
    expect(() => batchNormTraining(zeros([3, 4]), undefined, undefined, 1e-3, 'tanh' as never)).toThrow(
      `batchNormTraining: activation must be 'linear', 'relu' or 'relu6', got "tanh"`,
    );
  });

  it('applies a fused relu / relu6 in the normalising pass (statistics from the input)', async () => {
    const shape = [6, 5, 7, 8];
    const r = rng(17);
    const xd = randArray(size(shape), r, -2, 2);
    const g = randArray(8, r, 1, 4);
    const b = randArray(8, r, 2, 5); // many values above 6 and below 0
    const mom = momentsRef(xd, 8);
    const plain = batchNormRef(xd, 8, mom.mean, mom.variance, b, g, 1e-3);
    for (const act of ['relu', 'relu6'] as const) {
      const { y, mean } = batchNormTraining(tensor(xd, shape), tensor(g, [8]), tensor(b, [8]), 1e-3, act);
      expectClose(await mean.data(), mom.mean, { atol: 1e-6, rtol: 1e-5 });
      const ref = Array.from(plain, (v) => (act === 'relu' ? Math.max(v, 0) : Math.min(Math.max(v, 0), 6)));
      expect(ref.some((v) => v === 6) || act === 'relu').toBe(true);
      expectClose(await y.data(), ref, { atol: 1e-4, rtol: 1e-4 }, act);
    }
  });

  it('the gradient with a fused relu6 agrees with finite differences (x, gamma, beta)', async () => {
    const shape = [3, 4, 5];
    const r = rng(19);
    const xd = randArray(size(shape), r, -1, 1);
    // beta near 6 and gamma 1-2: outputs on both sides of 6 (kept away from the kink by the data).
    const gd = randArray(5, r, 1, 2);
    const bd = randArray(5, r, 5, 7);
    await checkGrad({
      label: 'batchNormTraining relu6',
      f: (x, gm, bt) => batchNormTraining(x, gm, bt, 1e-3, 'relu6').y,
      oracle: ([x, gm, bt]) => {
        const mom = momentsRef(x, 5);
        return Array.from(batchNormRef(x, 5, mom.mean, mom.variance, bt, gm, 1e-3), (v) =>
          Math.min(Math.max(v, 0), 6),
        );
      },
      inputs: [
        { shape, data: xd },
        { shape: [5], data: gd },
        { shape: [5], data: bd },
      ],
    });
  });
});

/** batchNormGrad's shapes: channels on and off multiples of 4, many rows per channel. */
const GRAD_SHAPES = [
  [2, 7, 5, 8],
  [1, 7, 5, 3],
  [64, 6, 5, 4],
];

/** Random x in [-2, 2] and dy of `shape`, and the generator to draw more from. */
function gradCase(shape: number[], seed: number) {
  const r = rng(seed);
  const xd = randArray(size(shape), r, -2, 2);
  const dyd = randArray(size(shape), r);
  return { c: shape[shape.length - 1], r, xd, dyd };
}

describe('batchNormGrad', () => {
  it('matches the oracle (which is checked by finite differences below)', async () => {
    for (const [i, shape] of GRAD_SHAPES.entries()) {
      const { c, r, xd, dyd } = gradCase(shape, 120 + i);
      const g = randArray(c, r, 0.5, 2);
      const mom = momentsRef(xd, c);
      for (const useG of [true, false]) {
        const out = batchNormGrad(
          tensor(dyd, shape),
          tensor(xd, shape),
          useG ? tensor(g, [c]) : undefined,
          tensor(Float32Array.from(mom.mean), [c]),
          tensor(Float32Array.from(mom.variance), [c]),
        );
        const ref = batchNormGradRef(dyd, xd, c, useG ? g : undefined, mom.mean, mom.variance, 1e-3);
        const rows = size(shape) / c;
        expectClose(await out.dx.data(), ref.dx, { atol: 1e-4, rtol: 1e-4 }, `dx ${JSON.stringify(shape)}`);
        expectClose(await out.dgamma.data(), ref.dgamma, { atol: 2e-6 * rows, rtol: 1e-4 }, 'dgamma');
        expectClose(await out.dbeta.data(), ref.dbeta, { atol: 2e-6 * rows, rtol: 1e-5 }, 'dbeta');
      }
    }
  });

  it("the oracle's gradient agrees with central finite differences of training-mode batch norm", () => {
    const c = 3;
    const r = rng(5);
    const x = Float64Array.from(randArray(5 * c, r, -2, 2));
    const dy = Float64Array.from(randArray(5 * c, r));
    const g = Float64Array.from(randArray(c, r, 0.5, 2));
    const b = Float64Array.from(randArray(c, r));
    const loss = (xv: Float64Array, gv: Float64Array, bv: Float64Array) => {
      const m = momentsRef(xv, c);
      return batchNormRef(xv, c, m.mean, m.variance, bv, gv, 1e-3).reduce((s, v, j) => s + v * dy[j], 0);
    };
    const mom = momentsRef(x, c);
    const ref = batchNormGradRef(dy, x, c, g, mom.mean, mom.variance, 1e-3);
    const h = 1e-6;
    const num = (v: Float64Array, j: number, f: (w: Float64Array) => number) => {
      const p = Float64Array.from(v);
      const q = Float64Array.from(v);
      p[j] += h;
      q[j] -= h;
      return (f(p) - f(q)) / (2 * h);
    };
    for (let j = 0; j < x.length; j++)
      expect(Math.abs(num(x, j, (w) => loss(w, g, b)) - ref.dx[j])).toBeLessThan(1e-7);
    for (let j = 0; j < c; j++) {
      expect(Math.abs(num(g, j, (w) => loss(x, w, b)) - ref.dgamma[j])).toBeLessThan(1e-7);
      expect(Math.abs(num(b, j, (w) => loss(x, g, w)) - ref.dbeta[j])).toBeLessThan(1e-7);
    }
  });

  it('with a fused ReLU6 output masks dy in its own passes, bit for bit as reluGrad before it', async () => {
    for (const [i, shape] of GRAD_SHAPES.entries()) {
      const { c, r, xd, dyd } = gradCase(shape, 140 + i);
      // The forward output of the fused ReLU6: 0, values inside (0, 6), and 6.
      const yd = randArray(size(shape), r, -1, 7).map((v) => Math.min(Math.max(v, 0), 6));
      const g = tensor(randArray(c, r, 0.5, 2), [c]);
      const mom = momentsRef(xd, c);
      const [dy, x, y] = [tensor(dyd, shape), tensor(xd, shape), tensor(yd, shape)];
      const mean = tensor(Float32Array.from(mom.mean), [c]);
      const variance = tensor(Float32Array.from(mom.variance), [c]);
      const fused = batchNormGrad(dy, x, g, mean, variance, 1e-3, y);
      const dz = reluGrad(dy, y, 'relu6');
      const ref = batchNormGrad(dz, x, g, mean, variance, 1e-3);
      expect(await fused.dx.data()).toEqual(await ref.dx.data());
      expect(await fused.dgamma.data()).toEqual(await ref.dgamma.data());
      expect(await fused.dbeta.data()).toEqual(await ref.dbeta.data());
      for (const t of [
        dy,
        x,
        y,
        g,
        mean,
        variance,
        dz,
        fused.dx,
        fused.dgamma,
        fused.dbeta,
        ref.dx,
        ref.dgamma,
        ref.dbeta,
      ])
        t.dispose();
    }
    const x = zeros([3, 4]);
    expect(() => batchNormGrad(x, x, undefined, zeros([4]), zeros([4]), 1e-3, zeros([4, 3]))).toThrow(
      'batchNormGrad: relu6Output [4,3] must have the shape of x [3,4]',
    );
    expect(() => batchNormGrad(x, x, undefined, zeros([4]), zeros([4]), 1e-3, zeros([3]))).toThrow(
      'batchNormGrad: relu6Output [3] must have the shape of x [3,4]',
    );
  });

  it('rejects mismatched shapes', () => {
    const x = zeros([3, 4]);
    expect(() => batchNormGrad(zeros([3, 5]), x, undefined, zeros([4]), zeros([4]))).toThrow(
      'batchNormGrad: dy [3,5] must have the shape of x [3,4]',
    );
    expect(() => batchNormGrad(x, x, zeros([2]), zeros([4]), zeros([4]))).toThrow(ShapeError);
    expect(() => batchNormGrad(x, x, undefined, zeros([4]), zeros([3]))).toThrow(
      'batchNormGrad: variance must have shape [4]',
    );
  });
});

describe('updateMovingStats', () => {
  it('updates both moving statistics in place with the Keras formula', async () => {
    const r = rng(23);
    for (const c of [1, 7, 130]) {
      const [mm, mv, m, v] = [
        randArray(c, r),
        randArray(c, r, 0.1, 2),
        randArray(c, r),
        randArray(c, r, 0.1, 2),
      ];
      const tm = tensor(mm);
      const tv = tensor(mv);
      updateMovingStats(tm, tv, tensor(m), tensor(v), 0.99);
      const f = Math.fround;
      const ema = (a: Float32Array, b: Float32Array) =>
        Array.from(a, (x, i) => f(f(f(x) * f(0.99)) + f(f(b[i]) * f(1 - 0.99))));
      expectClose(await tm.data(), ema(mm, m), { atol: 1e-7, rtol: 1e-6 }, `mean c=${c}`);
      expectClose(await tv.data(), ema(mv, v), { atol: 1e-7, rtol: 1e-6 }, `variance c=${c}`);
    }
  });

  it('rejects mismatched shapes and a non-finite momentum, naming the argument', () => {
    const c4 = zeros([4]);
    expect(() => updateMovingStats(c4, c4, zeros([3]), c4, 0.9)).toThrow(
      'updateMovingStats: mean must have shape [4] (as movingMean), got [3]',
    );
    expect(() => updateMovingStats(c4, c4, c4, c4, Number.NaN)).toThrow(
      'updateMovingStats: momentum must be a finite number, got NaN',
    );
  });
});
