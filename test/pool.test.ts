import { describe, expect, it } from 'vitest';
import { ArgumentError, DTypeError, ShapeError, tensor, zeros } from '../src/index.js';
import {
  avgPool,
  avgPoolGrad,
  globalAvgPool,
  maxPool,
  maxPoolGrad,
  type PoolPadding,
} from '../src/kernels/pool.js';
import { type OpRecord, setRecorder } from '../src/tensor/record.js';
import { expectClose, randArray, rng } from './helpers.js';
import {
  avgPoolGradRef,
  avgPoolRef,
  globalAvgPoolRef,
  maxPoolGradRef,
  maxPoolRef,
  refGeo,
} from './oracle/conv.js';

interface Case {
  x: [number, number, number, number];
  k: [number, number];
  s: number | [number, number];
  p: PoolPadding;
}

// Channels on and off multiples of 4 (vec4 and scalar kernels), overlapping and disjoint windows.
const CASES: Case[] = [
  { x: [1, 7, 5, 3], k: [2, 2], s: 2, p: 'valid' },
  { x: [2, 7, 5, 3], k: [3, 3], s: 2, p: 'same' },
  { x: [2, 8, 6, 4], k: [3, 3], s: 1, p: 'same' },
  { x: [1, 9, 7, 8], k: [3, 2], s: [2, 3], p: 'same' },
  { x: [2, 6, 7, 5], k: [2, 3], s: [1, 2], p: 'valid' },
];

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const label = (c: Case) =>
  `x ${JSON.stringify(c.x)} k ${JSON.stringify(c.k)} s ${JSON.stringify(c.s)} ${c.p}`;

describe('maxPool / avgPool', () => {
  it('match the float64 oracle', async () => {
    for (const [i, c] of CASES.entries()) {
      const xd = randArray(size(c.x), rng(70 + i));
      const x = tensor(xd, c.x);
      const g = refGeo(c.x, c.k[0], c.k[1], c.s, c.p);
      const mx = maxPool(x, c.k, c.s, c.p);
      expect(mx.shape).toEqual([c.x[0], g.oh, g.ow, c.x[3]]);
      expectClose(
        await mx.data(),
        maxPoolRef(xd, c.x, c.k, c.s, c.p),
        { atol: 0, rtol: 0 },
        `max ${label(c)}`,
      );
      const av = avgPool(x, c.k, c.s, c.p);
      expectClose(
        await av.data(),
        avgPoolRef(xd, c.x, c.k, c.s, c.p),
        { atol: 1e-6, rtol: 1e-6 },
        `avg ${label(c)}`,
      );
    }
  });

  it("'same' ignores padded cells: max of negatives stays negative, average divides by in-bounds cells", async () => {
    const x = tensor(new Float32Array(2 * 2).fill(-5), [1, 2, 2, 1]);
    expect(Array.from(await maxPool(x, 3, 1, 'same').data())).toEqual([-5, -5, -5, -5]);
    expect(Array.from(await avgPool(x, 3, 1, 'same').data())).toEqual([-5, -5, -5, -5]);
    const inf = tensor([Number.NEGATIVE_INFINITY], [1, 1, 1, 1]);
    expect((await maxPool(inf, 2, 2, 'same').data())[0]).toBe(Number.NEGATIVE_INFINITY);
  });

  it('globalAvgPool matches the oracle', async () => {
    for (const shape of [
      [1, 6, 6, 12],
      [2, 7, 5, 3],
      [3, 1, 1, 5],
    ] as const) {
      const xd = randArray(size(shape), rng(shape[3]));
      const y = globalAvgPool(tensor(xd, shape));
      expect(y.shape).toEqual([shape[0], shape[3]]);
      expectClose(await y.data(), globalAvgPoolRef(xd, shape), { atol: 1e-6, rtol: 1e-5 });
    }
  });

  it('record their ops', () => {
    const recs: OpRecord[] = [];
    const prev = setRecorder((r) => recs.push(r));
    try {
      const x = zeros([1, 4, 4, 2]);
      maxPool(x, 2, 2, 'valid');
      avgPool(x, [3, 3], 2, 'same');
      globalAvgPool(x);
      expect(recs.map((r) => r.op)).toEqual(['maxPool', 'avgPool', 'globalAvgPool']);
      expect(recs[1].attrs).toEqual({
        poolSize: [3, 3],
        strides: [2, 2],
        padding: [
          [0, 1],
          [0, 1],
        ],
      });
    } finally {
      setRecorder(prev);
    }
  });

  it('reject bad arguments with typed errors', () => {
    const x = zeros([1, 4, 4, 2]);
    expect(() => maxPool(zeros([4, 4, 2]), 2, 2, 'valid')).toThrow(
      'maxPool: x must have rank 4, got shape [4,4,2]',
    );
    expect(() => maxPool(x, 0, 2, 'valid')).toThrow('maxPool: poolSize must be a positive integer');
    expect(() => avgPool(x, 2, [1, 0] as [number, number], 'valid')).toThrow(ArgumentError);
    expect(() =>
      avgPool(x, 2, 2, [
        [0, 0],
        [0, 0],
      ] as unknown as PoolPadding),
    ).toThrow("avgPool: padding must be 'same' or 'valid'");
    expect(() => maxPool(x, 5, 1, 'valid')).toThrow(ShapeError);
    expect(() => globalAvgPool(zeros([2, 3]))).toThrow(ShapeError);
    expect(() => globalAvgPool(zeros([1, 2, 2, 3], 'int32'))).toThrow(DTypeError);
    expect(() => globalAvgPool(zeros([1, 0, 2, 3]))).toThrow(
      'globalAvgPool: x [1,0,2,3] has no pixels to average',
    );
  });
});

describe('pooling gradients', () => {
  it('maxPoolGrad and avgPoolGrad match the oracle', async () => {
    for (const [i, c] of CASES.entries()) {
      const g = refGeo(c.x, c.k[0], c.k[1], c.s, c.p);
      const dyShape = [c.x[0], g.oh, g.ow, c.x[3]];
      const r = rng(80 + i);
      const xd = randArray(size(c.x), r);
      const dyd = randArray(size(dyShape), r);
      const dy = tensor(dyd, dyShape);
      const dxm = maxPoolGrad(dy, tensor(xd, c.x), c.k, c.s, c.p);
      expect(dxm.shape).toEqual(c.x);
      expectClose(
        await dxm.data(),
        maxPoolGradRef(dyd, xd, c.x, c.k, c.s, c.p),
        { atol: 1e-6, rtol: 1e-6 },
        label(c),
      );
      const dxa = avgPoolGrad(dy, c.x, c.k, c.s, c.p);
      expectClose(
        await dxa.data(),
        avgPoolGradRef(dyd, c.x, c.k, c.s, c.p),
        { atol: 1e-6, rtol: 1e-6 },
        label(c),
      );
    }
  });

  it('maxPoolGrad routes ties to the first maximum only', async () => {
    // All equal: each window's gradient goes to its top-left in-bounds cell.
    const xs = [1, 4, 4, 4];
    const x = tensor(new Float32Array(64).fill(1), xs);
    const dyd = randArray(2 * 2 * 4, rng(1));
    const dx = await maxPoolGrad(tensor(dyd, [1, 2, 2, 4]), x, 3, 2, 'same').data();
    expectClose(dx, maxPoolGradRef(dyd, new Float32Array(64).fill(1), xs, [3, 3], 2, 'same'), {
      atol: 0,
      rtol: 0,
    });
  });

  it('reject mismatched dy', () => {
    const x = zeros([1, 4, 4, 2]);
    expect(() => maxPoolGrad(zeros([1, 3, 3, 2]), x, 2, 2, 'valid')).toThrow(
      'maxPoolGrad: dy must have shape [1,2,2,2] (the pooling output), got [1,3,3,2]',
    );
    expect(() => avgPoolGrad(zeros([1, 2, 2, 2]), [1, 4, 4], 2, 2, 'valid')).toThrow(ArgumentError);
    expect(() => avgPoolGrad(zeros([1, 2, 2, 2]), [1, 4, 4, 3], 2, 2, 'valid')).toThrow(ShapeError);
  });
});
