import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  depthwiseConv2d,
  depthwiseConv2dBackpropFilter,
  depthwiseConv2dBackpropInput,
  deviceInfo,
  grads,
  memory,
  type Tensor,
  tensor,
} from '../src/index.js';
import { randArray, rng } from './helpers.js';
import { conv2dRef, depthwiseRef, type RefAct, type RefPadding, refGeo } from './oracle/conv.js';

/*
 * conv2d / depthwiseConv2d with precision 'f16': x and the filter are rounded to f16 (relative
 * error <= 2^-11 each), products and sums are f32. So each output may differ from the float64
 * oracle by at most about 2 * 2^-11 * sum |x| |f| over its window (plus f32 rounding): that bound,
 * the oracle run on |x| and |f| without bias, is the tolerance (scaled by the activation's slope,
 * at most 1 for those used here). An indexing or padding bug gives O(1) errors.
 */

const U = 2 ** -11;
const hasF16 = () => deviceInfo().features.includes('shader-f16');

type Case = [number[], number, number, number, number | [number, number], RefPadding, RefAct];
/** [x shape], kh, kw, Cout, strides, padding, activation. */
const CONVS: Case[] = [
  [[2, 7, 9, 5], 1, 1, 6, 1, 'same', 'linear'], // pointwise, Cin and Cout off the quad grid
  [[3, 6, 6, 8], 1, 1, 12, 1, 'valid', 'relu'], // pointwise fast path (quads)
  [[1, 9, 11, 3], 3, 3, 7, 2, 'same', 'relu6'], // 3x3 stride 2, batch 1, 3 channels
  [[2, 8, 8, 16], 3, 3, 33, 1, 'same', 'tanh'], // Cout one past a subgroup's 32
  [
    [2, 10, 7, 6],
    2,
    3,
    4,
    [2, 1],
    [
      [1, 0],
      [2, 1],
    ],
    'sigmoid',
  ], // explicit padding, uneven strides
  [[1, 5, 5, 1], 5, 5, 2, 1, 'valid', 'linear'], // one input channel, 5x5 window
  [[2, 6, 6, 4], 1, 1, 8, 2, 'valid', 'linear'], // 1x1 strided (not the pointwise kernel)
];

/** The f16 result, checked against the oracle within the bound; returns the largest |error|. */
async function checkAgainstOracle(
  op: typeof conv2d,
  ref: typeof conv2dRef,
  xs: number[],
  fs: number[],
  co: number,
  s: number | [number, number],
  pad: RefPadding,
  act: RefAct,
  seed: number,
): Promise<number> {
  const r = rng(seed);
  const xv = randArray(
    xs.reduce((a, b) => a * b),
    r,
    -2,
    2,
  );
  const fv = randArray(
    fs.reduce((a, b) => a * b),
    r,
    -1,
    1,
  );
  const bv = randArray(co, r);
  const want = ref(xv, xs, fv, fs, s, pad, bv, act);
  const bound = ref(xv.map(Math.abs), xs, fv.map(Math.abs), fs, s, pad);
  const n0 = memory().numTensors;
  const [x, f, bias] = [tensor(xv, xs), tensor(fv, fs), tensor(bv, [co])];
  const y = op(x, f, s, pad, { bias, activation: act, precision: 'f16' });
  const g = refGeo(xs, fs[0], fs[1], s, pad);
  expect(y.shape).toEqual([g.n, g.oh, g.ow, co]);
  const got = await y.data();
  expect(got.length).toBe(want.length);
  let worst = 0;
  let maxErr = 0;
  for (let i = 0; i < got.length; i++) {
    const tol = 2.01 * U * bound[i] + 1e-6 * (1 + Math.abs(want[i]));
    const err = Math.abs(got[i] - want[i]);
    worst = Math.max(worst, err / tol);
    maxErr = Math.max(maxErr, err);
  }
  expect(worst, 'error / bound').toBeLessThanOrEqual(1);
  for (const t of [x, f, bias, y]) t.dispose();
  expect(memory().numTensors).toBe(n0);
  return maxErr;
}

function dispose(...ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

type DwCase = [number[], number, number, number | [number, number], RefPadding, RefAct];
/** [x shape], k (k x k window), multiplier, strides, padding, activation. */
const DEPTHWISES: DwCase[] = [
  [[2, 7, 9, 8], 3, 1, 1, 'same', 'relu6'], // channel quads: the strip kernel
  [[1, 9, 8, 12], 3, 1, 2, 'same', 'linear'], // stride 2, batch 1 (strip)
  [[1, 11, 12, 8], 3, 1, 5, 'valid', 'relu'], // stride 5: the plain kernel on quads
  [[2, 6, 7, 5], 3, 2, 1, 'valid', 'relu'], // 5 channels, multiplier 2
  [
    [1, 8, 8, 3],
    2,
    1,
    [2, 1],
    [
      [1, 0],
      [0, 1],
    ],
    'tanh',
  ], // even window, explicit padding
  [[2, 4, 4, 4], 1, 3, 1, 'same', 'linear'], // 1x1, multiplier 3
];

describe('conv2d and depthwiseConv2d precision f16', () => {
  it('adapter: lavapipe has shader-f16 (the path is tested, not the fallback)', () => {
    if (!/llvmpipe|lavapipe/i.test(deviceInfo().description)) return;
    expect(hasF16()).toBe(true);
  });

  CONVS.forEach(([xs, kh, kw, co, s, pad, act], i) => {
    it(`[${xs}] ${kh}x${kw}->${co} s${JSON.stringify(s)} ${JSON.stringify(pad)} ${act} within the f16 bound`, async () => {
      const err = await checkAgainstOracle(
        conv2d,
        conv2dRef,
        xs,
        [kh, kw, xs[3], co],
        co,
        s,
        pad,
        act,
        100 + i,
      );
      console.log(`conv2d f16 [${xs}] ${kh}x${kw}->${co}: max |error| ${err.toExponential(2)}`);
    });
  });

  DEPTHWISES.forEach(([xs, k, m, s, pad, act], i) => {
    it(`depthwise [${xs}] ${k}x${k} x${m} s${JSON.stringify(s)} ${JSON.stringify(pad)} ${act} within the f16 bound`, async () => {
      const fs = [k, k, xs[3], m];
      const err = await checkAgainstOracle(
        depthwiseConv2d,
        depthwiseRef,
        xs,
        fs,
        xs[3] * m,
        s,
        pad,
        act,
        200 + i,
      );
      console.log(`depthwise f16 [${xs}] ${k}x${k} x${m}: max |error| ${err.toExponential(2)}`);
    });
  });

  it('rounds: f16 results differ from f32 ones, and the f32 path is untouched', async () => {
    const r = rng(7);
    const [x, f] = [
      tensor(randArray(2 * 6 * 6 * 8, r), [2, 6, 6, 8]),
      tensor(randArray(9 * 8 * 8, r), [3, 3, 8, 8]),
    ];
    const n0 = memory().numTensors;
    const plain = conv2d(x, f, 1, 'same');
    const [f32, h] = [
      conv2d(x, f, 1, 'same', { precision: 'f32' }),
      conv2d(x, f, 1, 'same', { precision: 'f16' }),
    ];
    const pv = await plain.data();
    expect(await f32.data()).toEqual(pv);
    if (hasF16()) expect(await h.data()).not.toEqual(pv);
    else expect(await h.data()).toEqual(pv);
    const [dwFilter] = [tensor(randArray(9 * 8, r), [3, 3, 8, 1])];
    const dw = [
      depthwiseConv2d(x, dwFilter, 1, 'same'),
      depthwiseConv2d(x, dwFilter, 1, 'same', { precision: 'f32' }),
      depthwiseConv2d(x, dwFilter, 1, 'same', { precision: 'f16' }),
    ];
    const dv = await dw[0].data();
    expect(await dw[1].data()).toEqual(dv);
    if (hasF16()) expect(await dw[2].data()).not.toEqual(dv);
    dispose(plain, f32, h, dwFilter, ...dw);
    expect(memory().numTensors).toBe(n0);
    dispose(x, f);
  });

  it('gradients are the f32 rules (forward only): equal to the f32 op rules', async () => {
    const r = rng(9);
    const [x, f] = [
      tensor(randArray(1 * 5 * 5 * 3, r), [1, 5, 5, 3]),
      tensor(randArray(9 * 3 * 5, r), [3, 3, 3, 5]),
    ];
    const dy = tensor(randArray(1 * 3 * 3 * 5, r), [1, 3, 3, 5]);
    const n0 = memory().numTensors;
    const [gx, gf] = grads((a, b) => conv2d(a, b, 2, 'same', { precision: 'f16' }))([x, f], dy);
    const wx = conv2dBackpropInput(dy, f, x.shape, 2, 'same');
    const wf = conv2dBackpropFilter(x, dy, f.shape, 2, 'same');
    expect(await gx.data()).toEqual(await wx.data());
    expect(await gf.data()).toEqual(await wf.data());
    dispose(gx, gf, wx, wf);
    const fd = tensor(randArray(9 * 3, r), [3, 3, 3, 1]);
    const dyd = tensor(randArray(9 * 3, r), [1, 3, 3, 3]);
    const [hx, hf] = grads((a, b) => depthwiseConv2d(a, b, 2, 'same', { precision: 'f16' }))([x, fd], dyd);
    const vx = depthwiseConv2dBackpropInput(dyd, fd, x.shape, 2, 'same');
    const vf = depthwiseConv2dBackpropFilter(x, dyd, fd.shape, 2, 'same');
    expect(await hx.data()).toEqual(await vx.data());
    expect(await hf.data()).toEqual(await vf.data());
    dispose(hx, hf, vx, vf, fd, dyd);
    expect(memory().numTensors).toBe(n0);
    dispose(x, f, dy);
  });

  it('an empty input padded to a non-empty output: zeros (and bias), as the f32 path', async () => {
    const x = tensor(new Float32Array(0), [1, 0, 3, 4]);
    const f = tensor(new Float32Array(9 * 4 * 5).fill(1), [3, 3, 4, 5]);
    const bias = tensor([1, 2, 3, 4, 5], [5]);
    const n0 = memory().numTensors;
    const y = conv2d(
      x,
      f,
      1,
      [
        [2, 2],
        [1, 1],
      ],
      { bias, precision: 'f16' },
    );
    expect(y.shape).toEqual([1, 2, 3, 5]);
    expect(Array.from(await y.data())).toEqual(Array.from({ length: 30 }, (_, i) => (i % 5) + 1));
    y.dispose();
    expect(memory().numTensors).toBe(n0);
    dispose(x, f, bias);
  });

  it('rejects a bad precision, naming the option and the value', () => {
    const x = tensor(new Float32Array(16), [1, 2, 2, 4]);
    const f = tensor(new Float32Array(16), [1, 1, 4, 4]);
    const n0 = memory().numTensors;
    for (const op of [conv2d, depthwiseConv2d]) {
      const fw = op === conv2d ? f : tensor(new Float32Array(4), [1, 1, 4, 1]);
      expect(() => op(x, fw, 1, 'same', { precision: 'f8' as never })).toThrow(ArgumentError);
      expect(() => op(x, fw, 1, 'same', { precision: 16 as never })).toThrow(
        new RegExp(`^${op.name}: precision must be 'f32' or 'f16', got 16`),
      );
      if (fw !== f) fw.dispose();
    }
    expect(memory().numTensors).toBe(n0);
    dispose(x, f);
  });
});
