import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DisposedTensorError,
  DTypeError,
  memory,
  ShapeError,
  sync,
  type Tensor,
  tensor,
  tidy,
} from '../src/index.js';
import { logSoftmax, softmax } from '../src/kernels/softmax.js';
import { setTuning } from '../src/kernels/tuning.js';
import { expectClose, randArray, randShape, rng } from './helpers.js';
import { softmaxRef } from './oracle/reduce.js';

// softmax: float32 exp/division, values in [0, 1]. logSoftmax: |x - m - log s| grows with |x|.
const SOFTMAX_TOL = { atol: 1e-6, rtol: 1e-5 };
const LOG_TOL = { atol: 2e-5, rtol: 1e-5 };

async function check(x: Tensor, vals: ArrayLike<number>, axis: number | undefined) {
  const a = axis === undefined ? x.rank - 1 : axis < 0 ? axis + x.rank : axis;
  const label = `${JSON.stringify(x.shape)} axis ${axis}`;
  const s = axis === undefined ? softmax(x) : softmax(x, axis);
  const l = axis === undefined ? logSoftmax(x) : logSoftmax(x, axis);
  expect(s.shape).toEqual(x.shape);
  expect(s.dtype).toBe('float32');
  expectClose(await s.data(), softmaxRef('softmax', vals, x.shape, a), SOFTMAX_TOL, `softmax ${label}`);
  expectClose(await l.data(), softmaxRef('logSoftmax', vals, x.shape, a), LOG_TOL, `logSoftmax ${label}`);
  s.dispose();
  l.dispose();
}

// On lavapipe: workgroup per row when rows < 64 and rows are longer than 4096 (see softmax.ts);
// under the GPU policy every row of 64 or more gets a workgroup (256 lanes from 2048).
const SHAPE_CASES: Array<[number[], number]> = [
  [[1], 0],
  [[3, 300], -1], // lane, 8-lane workgroup
  [[2, 5000], 1], // workgroup per contiguous row
  [[64, 1000], -1], // the benchmark shape: lane
  [[5000, 20], 0], // workgroup per strided row
  [[300, 2], 0], // few strided rows: lane
  [[5000, 10], 1], // many short rows: lane, 64-lane workgroups
  [[4, 130, 20], 1],
  [[2, 3, 4200, 2], 2], // workgroup per strided row, rank 4
  [[1, 1, 1, 1], -1],
];

async function checkShapes(seed: number) {
  const r = rng(seed);
  for (const [shape, axis] of SHAPE_CASES) {
    const vals = randArray(
      shape.reduce((p, d) => p * d, 1),
      r,
      -8,
      8,
    );
    const x = tensor(vals, shape);
    await check(x, vals, axis);
    x.dispose();
  }
}

describe('softmax and logSoftmax against the oracle', () => {
  it('every axis of random shapes of rank 1-4', async () => {
    const r = rng(11);
    for (let i = 0; i < 16; i++) {
      const shape = randShape(1 + (i % 4), r, 7);
      const vals = randArray(
        shape.reduce((p, d) => p * d, 1),
        r,
        -5,
        5,
      );
      const x = tensor(vals, shape);
      await check(x, vals, undefined);
      const axis = Math.floor(r() * shape.length) - (r() < 0.5 ? shape.length : 0);
      await check(x, vals, axis);
      x.dispose();
    }
  });

  it('long, short, strided and off-grid rows (workgroup-per-row and lane-per-row kernels)', async () => {
    await checkShapes(12);
  });

  it('the GPU-tuned kernel choice (forced on lavapipe) gives the same results', async () => {
    setTuning({ kernelPolicy: 'gpu' });
    try {
      await checkShapes(16);
    } finally {
      setTuning();
    }
  });

  it('is stable for large, mixed and infinite logits', async () => {
    const rows = [
      [1e4, -1e4, 0, 1e4],
      [-1e4, -1e4, -1e4, -1e4],
      [1e4, 1e4 - 1, 1e4 - 2, 1e4 - 3],
      [-1e4, 1e4, -1e4, -1e4],
      [3e38, 1e38, 0, 1],
      [Number.NEGATIVE_INFINITY, 0, Number.NEGATIVE_INFINITY, 1],
    ];
    const flat = rows.flat();
    // Rows of 4 (lane kernel) and the same values in rows of 400 (workgroup kernel, 100 copies).
    for (const [shape, data] of [
      [[6, 4], flat],
      [[6, 400], rows.flatMap((row) => Array.from({ length: 100 }, () => row).flat())],
    ] as const) {
      const x = tensor(data, shape);
      const s = await softmax(x).data();
      const l = await logSoftmax(x).data();
      expect(s.every((v) => Number.isFinite(v))).toBe(true);
      expect(l.every((v) => !Number.isNaN(v) && v <= 0)).toBe(true);
      expectClose(s, softmaxRef('softmax', data, shape, 1), SOFTMAX_TOL, `softmax ${shape}`);
      const ref = softmaxRef('logSoftmax', data, shape, 1);
      // Relative tolerance only: entries like -2e4 or -3e38 are exact up to float32 rounding.
      expectClose(l, ref, { atol: 2e-5, rtol: 1e-6 }, `logSoftmax ${shape}`);
    }
    const t = tensor([1e4, -1e4]);
    expect(Array.from(await softmax(t).data())).toEqual([1, 0]);
    expect(Array.from(await logSoftmax(t).data())).toEqual([0, -2e4]);
    // NaN anywhere in a row makes the row NaN, as in TF.js.
    const n = await softmax(tensor([1, Number.NaN, 2])).data();
    expect(n.every(Number.isNaN)).toBe(true);
  });

  it('sums to 1 along the axis; logSoftmax is log(softmax)', async () => {
    const r = rng(13);
    const vals = randArray(6 * 50 * 7, r, -20, 20);
    const x = tensor(vals, [6, 50, 7]);
    const s = await softmax(x, 1).data();
    for (let o = 0; o < 6; o++) {
      for (let i = 0; i < 7; i++) {
        let acc = 0;
        for (let k = 0; k < 50; k++) acc += s[o * 350 + k * 7 + i];
        expect(Math.abs(acc - 1)).toBeLessThan(1e-5);
      }
    }
    const l = await logSoftmax(x, 1).data();
    expectClose(Array.from(l, Math.exp), Array.from(s), { atol: 1e-6, rtol: 1e-4 }, 'exp(logSoftmax)');
  });

  it('returns empty outputs for empty inputs', async () => {
    expect(softmax(tensor([], [0, 3])).shape).toEqual([0, 3]);
    expect(await logSoftmax(tensor([], [3, 0])).data()).toEqual(new Float32Array(0));
  });

  it('rejects bad arguments with typed errors naming op and argument', () => {
    const x = tensor([1, 2, 3, 4], [2, 2]);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => softmax({} as any)).toThrow(/softmax: logits must be a Tensor/);
    expect(() => softmax(tensor([1, 2], [2], 'int32'))).toThrow(DTypeError);
    expect(() => logSoftmax(tensor([true]))).toThrow(/logSoftmax: logits must have dtype float32, got bool/);
    expect(() => softmax(tensor(1))).toThrow(ShapeError);
    expect(() => softmax(tensor(1))).toThrow(/softmax: logits must have rank >= 1, got shape \[\]/);
    expect(() => softmax(x, 2)).toThrow(ArgumentError);
    expect(() => logSoftmax(x, -3)).toThrow(/logSoftmax: axis -3 is out of range for a tensor of rank 2/);
    expect(() => softmax(x, 0.5)).toThrow(/axis 0.5/);
    x.dispose();
    expect(() => softmax(x)).toThrow(DisposedTensorError);
  });

  it('leaves memory() as it found it after a tidy', () => {
    const x = tensor(randArray(600, rng(14)), [3, 200]);
    const before = memory();
    tidy(() => {
      softmax(x);
      logSoftmax(x, 0);
      softmax(tensor([1, 2, 3]));
      return undefined;
    });
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
    x.dispose();
  });

  it('benchmark: softmax over the last axis of [64, 1000]', async () => {
    const vals = randArray(64 * 1000, rng(15), -8, 8);
    const x = tensor(vals, [64, 1000]);
    const times: number[] = [];
    for (let i = 0; i < 25; i++) {
      const t0 = performance.now();
      const y = softmax(x);
      await sync();
      if (i >= 5) times.push(performance.now() - t0);
      if (i < 24) y.dispose();
      else expectClose(await y.data(), softmaxRef('softmax', vals, [64, 1000], 1), SOFTMAX_TOL);
    }
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1];
    console.log(`softmax [64,1000] axis -1: median ${median.toFixed(3)} ms over ${times.length} runs`);
    expect(median).toBeLessThan(100);
  });
});
