import { describe, expect, it } from 'vitest';
import { ArgumentError, DTypeError, ShapeError, tensor, zeros } from '../src/index.js';
import type { Activation } from '../src/kernels/activation.js';
import type { Padding } from '../src/kernels/conv.js';
import {
  depthwiseConv2d,
  depthwiseConv2dBackpropFilter,
  depthwiseConv2dBackpropInput,
} from '../src/kernels/depthwise.js';
import { setTuning } from '../src/kernels/tuning.js';
import { type OpRecord, setRecorder } from '../src/tensor/record.js';
import { expectClose, randArray, rng } from './helpers.js';
import {
  depthwiseBackpropFilterRef,
  depthwiseBackpropInputRef,
  depthwiseRef,
  refGeo,
} from './oracle/conv.js';

interface Case {
  x: [number, number, number, number];
  f: [number, number, number, number];
  s: number | [number, number];
  p: Padding;
}

// Multiplier 1 with C % 4 == 0 takes the row kernel (MobileNet); the others the plain kernel.
const CASES: Case[] = [
  { x: [1, 7, 5, 8], f: [3, 3, 8, 1], s: 1, p: 'same' },
  { x: [2, 7, 5, 12], f: [3, 3, 12, 1], s: 2, p: 'same' },
  { x: [2, 8, 6, 4], f: [3, 3, 4, 1], s: 2, p: 'valid' },
  {
    x: [1, 9, 11, 4],
    f: [5, 3, 4, 1],
    s: [1, 2],
    p: [
      [2, 0],
      [1, 3],
    ],
  },
  { x: [2, 7, 5, 3], f: [3, 3, 3, 1], s: 1, p: 'same' },
  { x: [1, 7, 5, 3], f: [3, 3, 3, 2], s: 2, p: 'same' },
  { x: [2, 6, 7, 4], f: [2, 2, 4, 3], s: 1, p: 'valid' },
];

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const label = (c: Case) =>
  `x ${JSON.stringify(c.x)} f ${JSON.stringify(c.f)} s ${JSON.stringify(c.s)} ${JSON.stringify(c.p)}`;
const tol = (k: number) => ({ atol: 3e-6 * k, rtol: 1e-5 });

describe('depthwiseConv2d', () => {
  it('matches the float64 oracle', async () => {
    for (const [i, c] of CASES.entries()) {
      const r = rng(30 + i);
      const xd = randArray(size(c.x), r);
      const fd = randArray(size(c.f), r);
      const y = depthwiseConv2d(tensor(xd, c.x), tensor(fd, c.f), c.s, c.p);
      const g = refGeo(c.x, c.f[0], c.f[1], c.s, c.p);
      expect(y.shape, label(c)).toEqual([c.x[0], g.oh, g.ow, c.f[2] * c.f[3]]);
      expectClose(await y.data(), depthwiseRef(xd, c.x, fd, c.f, c.s, c.p), tol(c.f[0] * c.f[1]), label(c));
    }
  });

  it('fuses bias and activations (row and plain kernels)', async () => {
    for (const [c, acts] of [
      [CASES[1], ['linear', 'relu6', 'sigmoid']],
      [CASES[5], ['relu', 'tanh']],
    ] as Array<[Case, Activation[]]>) {
      const r = rng(41);
      const xd = randArray(size(c.x), r, -4, 4);
      const fd = randArray(size(c.f), r);
      const co = c.f[2] * c.f[3];
      const bd = randArray(co, r, -2, 2);
      for (const act of acts) {
        const y = depthwiseConv2d(tensor(xd, c.x), tensor(fd, c.f), c.s, c.p, {
          bias: tensor(bd, [co]),
          activation: act,
        });
        const ref = depthwiseRef(xd, c.x, fd, c.f, c.s, c.p, bd, act);
        expectClose(await y.data(), ref, tol(40), `${label(c)} ${act}`);
      }
    }
  });

  it('gives the same results with several rows and images per lane of the strip kernel (carried window rows)', async () => {
    try {
      for (const strip of [
        { px: 2, rows: 3 },
        { px: 2, rows: 100 },
        { px: 2, rows: 100, imgs: 2 }, // lanes walk 2 images: one full pair and one alone
        { px: 1, rows: 3, imgs: 3 }, // row blocks of 3 in up to 3 images
      ]) {
        setTuning({ depthwiseStrip: strip });
        for (const c of [...CASES.slice(0, 4), { ...CASES[0], x: [3, 7, 5, 8] } as Case]) {
          const r = rng(50);
          const xd = randArray(size(c.x), r);
          const fd = randArray(size(c.f), r);
          const y = depthwiseConv2d(tensor(xd, c.x), tensor(fd, c.f), c.s, c.p);
          expectClose(
            await y.data(),
            depthwiseRef(xd, c.x, fd, c.f, c.s, c.p),
            tol(25),
            `${JSON.stringify(strip)} ${label(c)}`,
          );
        }
      }
    } finally {
      setTuning({ depthwiseStrip: undefined });
    }
  });

  it("'same' stride 2 on even sizes equals explicit [[0,1],[0,1]] padding", async () => {
    const r = rng(5);
    const xd = randArray(2 * 8 * 6 * 8, r);
    const fd = randArray(9 * 8, r);
    const x = tensor(xd, [2, 8, 6, 8]);
    const f = tensor(fd, [3, 3, 8, 1]);
    const a = await depthwiseConv2d(x, f, 2, 'same').data();
    const b = await depthwiseConv2d(x, f, 2, [
      [0, 1],
      [0, 1],
    ]).data();
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('records the op', () => {
    const recs: OpRecord[] = [];
    const prev = setRecorder((rec) => recs.push(rec));
    try {
      const x = zeros([1, 5, 5, 4]);
      const f = zeros([3, 3, 4, 1]);
      const y = depthwiseConv2d(x, f, 1, 'same', { activation: 'relu6' });
      expect(recs[0]).toEqual({
        op: 'depthwiseConv2d',
        inputs: [x, f],
        output: y,
        attrs: {
          strides: [1, 1],
          padding: [
            [1, 1],
            [1, 1],
          ],
          activation: 'relu6',
        },
      });
    } finally {
      setRecorder(prev);
    }
  });

  it('rejects bad arguments with typed errors', () => {
    const x = zeros([1, 7, 5, 3]);
    expect(() => depthwiseConv2d(x, zeros([3, 3, 4, 1]), 1, 'same')).toThrow(
      'depthwiseConv2d: filter [3,3,4,1] expects 4 input channels, x [1,7,5,3] has 3',
    );
    const f = zeros([3, 3, 3, 2]);
    expect(() => depthwiseConv2d(x, f, 1, 'same', { bias: zeros([3]) })).toThrow(
      'depthwiseConv2d: bias must have shape [6] (channels x multiplier), got [3]',
    );
    expect(() => depthwiseConv2d(zeros([7, 5, 3]), f, 1, 'same')).toThrow(ShapeError);
    expect(() => depthwiseConv2d(x, f, -1, 'same')).toThrow(ArgumentError);
    expect(() => depthwiseConv2d(x, f, 1, 'SAME' as Padding)).toThrow(ArgumentError);
    expect(() => depthwiseConv2d(x, f, 1, 'same', { activation: 'elu' as Activation })).toThrow(
      ArgumentError,
    );
    expect(() => depthwiseConv2d(zeros([1, 7, 5, 3], 'int32'), f, 1, 'same')).toThrow(DTypeError);
  });
});

describe('depthwiseConv2d gradients', () => {
  it('backprop input and filter match the oracle', async () => {
    for (const [i, c] of CASES.entries()) {
      const g = refGeo(c.x, c.f[0], c.f[1], c.s, c.p);
      const dyShape = [c.x[0], g.oh, g.ow, c.f[2] * c.f[3]];
      const r = rng(60 + i);
      const xd = randArray(size(c.x), r);
      const fd = randArray(size(c.f), r);
      const dyd = randArray(size(dyShape), r);
      const dx = depthwiseConv2dBackpropInput(tensor(dyd, dyShape), tensor(fd, c.f), c.x, c.s, c.p);
      expect(dx.shape).toEqual(c.x);
      expectClose(
        await dx.data(),
        depthwiseBackpropInputRef(dyd, fd, c.f, c.x, c.s, c.p),
        tol(50),
        `dx ${label(c)}`,
      );
      const df = depthwiseConv2dBackpropFilter(tensor(xd, c.x), tensor(dyd, dyShape), c.f, c.s, c.p);
      expect(df.shape).toEqual(c.f);
      const ref = depthwiseBackpropFilterRef(xd, c.x, dyd, c.f, c.s, c.p);
      expectClose(await df.data(), ref, tol(c.x[0] * g.oh * g.ow), `df ${label(c)}`);
    }
  });

  it('backprop filter over many rows (several parts)', async () => {
    const xs = [64, 12, 10, 8];
    const r = rng(8);
    const xd = randArray(size(xs), r);
    const dyd = randArray(64 * 6 * 5 * 8, r);
    const df = depthwiseConv2dBackpropFilter(
      tensor(xd, xs),
      tensor(dyd, [64, 6, 5, 8]),
      [3, 3, 8, 1],
      2,
      'same',
    );
    const ref = depthwiseBackpropFilterRef(xd, xs, dyd, [3, 3, 8, 1], 2, 'same');
    expectClose(await df.data(), ref, tol(64 * 30));
  });

  it('rejects mismatched shapes and records attrs', async () => {
    const dy = zeros([1, 7, 5, 6]);
    const f = zeros([3, 3, 3, 2]);
    expect(() => depthwiseConv2dBackpropInput(dy, f, [1, 7, 5, 4], 1, 'same')).toThrow(
      'depthwiseConv2dBackpropInput: filter [3,3,3,2] expects 3 input channels, inputShape [1,7,5,4] has 4',
    );
    expect(() => depthwiseConv2dBackpropInput(dy, f, [1, 7, 5, 3], 2, 'same')).toThrow(
      'depthwiseConv2dBackpropInput: dy must have shape [1,4,3,6]',
    );
    expect(() => depthwiseConv2dBackpropFilter(zeros([1, 7, 5, 3]), dy, [3, 3, 3, 3], 1, 'same')).toThrow(
      ShapeError,
    );
    // A filterShape that is not 4 non-negative integers is a bad argument value: ArgumentError, as
    // for conv2dBackpropFilter (issue 14 made the two families throw the same class; was ShapeError).
    expect(() => depthwiseConv2dBackpropFilter(zeros([1, 7, 5, 3]), dy, [3, 3, 3], 1, 'same')).toThrow(
      ArgumentError,
    );
    const recs: OpRecord[] = [];
    const prev = setRecorder((rec) => recs.push(rec));
    try {
      const df = depthwiseConv2dBackpropFilter(
        zeros([0, 7, 5, 3]),
        zeros([0, 7, 5, 6]),
        [3, 3, 3, 2],
        1,
        'same',
      );
      expect(Array.from(await df.data())).toEqual(new Array(54).fill(0));
      expect(recs[0].op).toBe('depthwiseConv2dBackpropFilter');
      expect(recs[0].attrs).toEqual({
        filterShape: [3, 3, 3, 2],
        strides: [1, 1],
        padding: [
          [1, 1],
          [1, 1],
        ],
      });
    } finally {
      setRecorder(prev);
    }
  });
});
