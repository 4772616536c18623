import { afterEach, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DeviceError,
  DisposedTensorError,
  DTypeError,
  ShapeError,
  tensor,
  zeros,
} from '../src/index.js';
import type { Activation } from '../src/kernels/activation.js';
import { conv2d, conv2dBackpropFilter, conv2dBackpropInput, type Padding } from '../src/kernels/conv.js';
import { pad } from '../src/kernels/pad.js';
import { setTuning } from '../src/kernels/tuning.js';
import { type OpRecord, setRecorder } from '../src/tensor/record.js';
import { expectClose, randArray, rng } from './helpers.js';
import { conv2dBackpropFilterRef, conv2dBackpropInputRef, conv2dRef, refGeo } from './oracle/conv.js';

interface Case {
  x: [number, number, number, number];
  f: [number, number, number, number];
  s: number | [number, number];
  p: Padding;
}

// Odd sizes, Cin/Cout on and off multiples of 4, Cout over one subgroup tile (32), strides 1 and 2,
// 'same' / 'valid' / explicit asymmetric padding, 1x1 and 3x3 (and a 2x4) windows, batch 1 to 3.
const CASES: Case[] = [
  { x: [1, 7, 5, 3], f: [3, 3, 3, 8], s: 1, p: 'same' },
  { x: [2, 7, 5, 3], f: [3, 3, 3, 5], s: 2, p: 'valid' },
  { x: [2, 7, 5, 3], f: [3, 3, 3, 6], s: 2, p: 'same' },
  { x: [1, 8, 6, 4], f: [3, 3, 4, 8], s: 2, p: 'same' },
  { x: [2, 7, 5, 4], f: [1, 1, 4, 6], s: 1, p: 'valid' },
  // Pointwise kernel (1x1, stride 1, no padding): Cin off a multiple of 4, Cout over two subgroup
  // tiles, pixels off a multiple of the tile rows; then a padded 1x1, which must not take it.
  { x: [3, 9, 5, 7], f: [1, 1, 7, 72], s: 1, p: 'same' },
  { x: [1, 6, 11, 16], f: [1, 1, 16, 8], s: 1, p: 'valid' },
  {
    x: [1, 4, 5, 8],
    f: [1, 1, 8, 4],
    s: 1,
    p: [
      [1, 0],
      [0, 2],
    ],
  },
  { x: [1, 7, 5, 8], f: [1, 1, 8, 36], s: 2, p: 'same' },
  { x: [2, 5, 7, 8], f: [3, 3, 8, 36], s: 1, p: 'same' },
  {
    x: [1, 7, 5, 5],
    f: [3, 3, 5, 4],
    s: [2, 1],
    p: [
      [1, 0],
      [0, 2],
    ],
  },
  {
    x: [2, 6, 7, 4],
    f: [2, 4, 4, 3],
    s: [1, 2],
    p: [
      [0, 3],
      [2, 1],
    ],
  },
];

const tolFor = (k: number) => ({ atol: 3e-6 * k, rtol: 1e-5 });

function data(c: Case, seed: number) {
  const r = rng(seed);
  const xd = randArray(
    c.x.reduce((a, b) => a * b),
    r,
  );
  const fd = randArray(
    c.f.reduce((a, b) => a * b),
    r,
  );
  return { xd, fd, r };
}

const label = (c: Case) =>
  `x ${JSON.stringify(c.x)} f ${JSON.stringify(c.f)} s ${JSON.stringify(c.s)} ${JSON.stringify(c.p)}`;

afterEach(() => {
  setTuning();
});

describe('conv2d', () => {
  it('matches the float64 oracle (odd sizes, strides, paddings, batch)', async () => {
    for (const [i, c] of CASES.entries()) {
      const { xd, fd } = data(c, 10 + i);
      const y = conv2d(tensor(xd, c.x), tensor(fd, c.f), c.s, c.p);
      const g = refGeo(c.x, c.f[0], c.f[1], c.s, c.p);
      expect(y.shape, label(c)).toEqual([c.x[0], g.oh, g.ow, c.f[3]]);
      expectClose(
        await y.data(),
        conv2dRef(xd, c.x, fd, c.f, c.s, c.p),
        tolFor(c.f[0] * c.f[1] * c.f[2]),
        label(c),
      );
    }
  });

  it('fuses bias and every activation', async () => {
    const c: Case = { x: [2, 5, 7, 8], f: [3, 3, 8, 12], s: 1, p: 'same' };
    const { xd, fd, r } = data(c, 3);
    const bd = randArray(12, r, -2, 2);
    // A small tile keeps the five pipeline compiles short; the epilogue is the same for every tile.
    setTuning({ convTile: { rows: 8, groups: 1 } });
    for (const act of ['linear', 'relu', 'relu6', 'sigmoid', 'tanh'] as Activation[]) {
      // Scale x so relu6 clips on both sides.
      const x = tensor(
        xd.map((v) => v * 4),
        c.x,
      );
      const y = conv2d(x, tensor(fd, c.f), 1, 'same', { bias: tensor(bd, [12]), activation: act });
      const ref = conv2dRef(
        xd.map((v) => v * 4),
        c.x,
        fd,
        c.f,
        1,
        'same',
        bd,
        act,
      );
      expectClose(await y.data(), ref, tolFor(300), act);
    }
  });

  it("'same' with stride 2 on even sizes pads 0 before and 1 after (TensorFlow)", async () => {
    const c: Case = { x: [1, 8, 6, 3], f: [3, 3, 3, 4], s: 2, p: 'same' };
    const { xd, fd } = data(c, 4);
    const x = tensor(xd, c.x);
    const f = tensor(fd, c.f);
    const same = await conv2d(x, f, 2, 'same').data();
    const explicit = await conv2d(x, f, 2, [
      [0, 1],
      [0, 1],
    ]).data();
    const padded = await conv2d(
      pad(x, [
        [0, 0],
        [0, 1],
        [0, 1],
        [0, 0],
      ]),
      f,
      2,
      'valid',
    ).data();
    expect(Array.from(same)).toEqual(Array.from(explicit));
    expect(Array.from(same)).toEqual(Array.from(padded));
  });

  it('gives the same results without subgroup operations and with other tiles', async () => {
    // A 3x3 conv and a pointwise one.
    for (const c of [CASES[9], CASES[5]]) {
      const { xd, fd } = data(c, 5);
      const ref = conv2dRef(xd, c.x, fd, c.f, c.s, c.p);
      for (const mode of ['portable', 'rows8'] as const) {
        setTuning({
          convPortable: mode === 'portable',
          convTile: mode === 'rows8' ? { rows: 8, groups: 2 } : undefined,
        });
        const y = conv2d(tensor(xd, c.x), tensor(fd, c.f), c.s, c.p);
        expectClose(await y.data(), ref, tolFor(c.f[0] * c.f[1] * c.f[2]), `${mode} ${label(c)}`);
      }
    }
  });

  it('propagates NaN and Inf from the input', async () => {
    const xd = new Float32Array(1 * 3 * 3 * 4).fill(1);
    xd[4 * 4] = Number.NaN;
    const y = await conv2d(
      tensor(xd, [1, 3, 3, 4]),
      tensor(new Float32Array(4 * 4).fill(1), [1, 1, 4, 4]),
      1,
      'valid',
    ).data();
    expect(Number.isNaN(y[16])).toBe(true);
    expect(y[0]).toBe(4);
  });

  it('records the op with explicit padding', () => {
    const recs: OpRecord[] = [];
    const prev = setRecorder((r) => recs.push(r));
    try {
      const x = zeros([1, 8, 6, 3]);
      const f = zeros([3, 3, 3, 4]);
      const b = zeros([4]);
      const y = conv2d(x, f, 2, 'same', { bias: b, activation: 'relu6' });
      expect(recs).toHaveLength(1);
      expect(recs[0].op).toBe('conv2d');
      expect(recs[0].inputs).toEqual([x, f, b]);
      expect(recs[0].output).toBe(y);
      expect(recs[0].attrs).toEqual({
        strides: [2, 2],
        padding: [
          [0, 1],
          [0, 1],
        ],
        activation: 'relu6',
      });
    } finally {
      setRecorder(prev);
    }
  });

  it('rejects bad arguments with typed errors', () => {
    const x = zeros([1, 7, 5, 3]);
    const f = zeros([3, 3, 4, 8]);
    expect(() => conv2d(x, f, 1, 'same')).toThrow(ShapeError);
    expect(() => conv2d(x, f, 1, 'same')).toThrow(
      'conv2d: filter [3,3,4,8] expects 4 input channels, x [1,7,5,3] has 3',
    );
    const f3 = zeros([3, 3, 3, 8]);
    expect(() => conv2d(zeros([7, 5, 3]), f3, 1, 'same')).toThrow(
      'conv2d: x must have rank 4, got shape [7,5,3]',
    );
    expect(() => conv2d(x, zeros([3, 3, 3]), 1, 'same')).toThrow(ShapeError);
    expect(() => conv2d(x, zeros([0, 3, 3, 8]), 1, 'same')).toThrow(
      'conv2d: filter [0,3,3,8] needs a non-empty window and input channels',
    );
    expect(() => conv2d(x, f3, 0, 'same')).toThrow(ArgumentError);
    expect(() => conv2d(x, f3, [1, 1.5] as [number, number], 'same')).toThrow('conv2d: strides must be');
    expect(() => conv2d(x, f3, 1, 'full' as Padding)).toThrow("conv2d: padding must be 'same', 'valid'");
    expect(() =>
      conv2d(x, f3, 1, [
        [1, -1],
        [0, 0],
      ]),
    ).toThrow(ArgumentError);
    expect(() => conv2d(x, zeros([9, 3, 3, 8]), 1, 'valid')).toThrow(
      "conv2d: 9-wide window with padding 'valid' does not fit input size 7",
    );
    expect(() => conv2d(x, f3, 1, 'same', { bias: zeros([7]) })).toThrow(
      'conv2d: bias must have shape [8] (the output channels), got [7]',
    );
    expect(() => conv2d(x, f3, 1, 'same', { activation: 'gelu' as Activation })).toThrow(ArgumentError);
    expect(() => conv2d(zeros([1, 7, 5, 3], 'int32'), f3, 1, 'same')).toThrow(DTypeError);
    expect(() => conv2d(x, f3, 1, 'same', null as unknown as object)).toThrow(ArgumentError);
    const gone = zeros([1, 7, 5, 3]);
    gone.dispose();
    expect(() => conv2d(gone, f3, 1, 'same')).toThrow(DisposedTensorError);
  });

  it('names the binding limit for a tensor over it', () => {
    const big = zeros([1, 2049, 4096, 4]); // 128 MiB + 64 KiB
    try {
      expect(() => conv2d(big, zeros([1, 1, 4, 4]), 1, 'valid')).toThrow(DeviceError);
      expect(() => conv2d(big, zeros([1, 1, 4, 4]), 1, 'valid')).toThrow('maxStorageBufferBindingSize');
    } finally {
      big.dispose();
    }
    // An output over the limit is refused before anything is allocated.
    const x = zeros([1, 2049, 4096, 1]);
    expect(() => conv2d(x, zeros([1, 1, 1, 4]), 1, 'valid')).toThrow(
      'conv2d: the output of shape [1,2049,4096,4] is 134283264 bytes, over the adapter',
    );
  });

  it('returns an empty tensor for an empty batch', async () => {
    const y = conv2d(zeros([0, 5, 5, 3]), zeros([3, 3, 3, 2]), 1, 'same');
    expect(y.shape).toEqual([0, 5, 5, 2]);
    expect((await y.data()).length).toBe(0);
  });
});

describe('conv2d gradients', () => {
  it('conv2dBackpropInput matches the oracle', async () => {
    for (const [i, c] of CASES.entries()) {
      const g = refGeo(c.x, c.f[0], c.f[1], c.s, c.p);
      const r = rng(100 + i);
      const dyShape = [c.x[0], g.oh, g.ow, c.f[3]];
      const dyd = randArray(
        dyShape.reduce((a, b) => a * b),
        r,
      );
      const fd = randArray(
        c.f.reduce((a, b) => a * b),
        r,
      );
      const dx = conv2dBackpropInput(tensor(dyd, dyShape), tensor(fd, c.f), c.x, c.s, c.p);
      expect(dx.shape).toEqual(c.x);
      const ref = conv2dBackpropInputRef(dyd, fd, c.f, c.x, c.s, c.p);
      expectClose(await dx.data(), ref, tolFor(c.f[0] * c.f[1] * c.f[3]), label(c));
    }
  });

  it('conv2dBackpropFilter matches the oracle', async () => {
    for (const [i, c] of CASES.entries()) {
      const g = refGeo(c.x, c.f[0], c.f[1], c.s, c.p);
      const r = rng(200 + i);
      const dyShape = [c.x[0], g.oh, g.ow, c.f[3]];
      const xd = randArray(
        c.x.reduce((a, b) => a * b),
        r,
      );
      const dyd = randArray(
        dyShape.reduce((a, b) => a * b),
        r,
      );
      const df = conv2dBackpropFilter(tensor(xd, c.x), tensor(dyd, dyShape), c.f, c.s, c.p);
      expect(df.shape).toEqual(c.f);
      const ref = conv2dBackpropFilterRef(xd, c.x, dyd, c.f, c.s, c.p);
      expectClose(await df.data(), ref, tolFor(c.x[0] * g.oh * g.ow), label(c));
    }
  });

  it('conv2dBackpropFilter splits long reductions into parts', async () => {
    // 64 images x 24 rows: many parts per tap, summed by the second pass.
    const c: Case = { x: [64, 24, 9, 8], f: [3, 3, 8, 8], s: 1, p: 'same' };
    const r = rng(7);
    const xd = randArray(
      c.x.reduce((a, b) => a * b),
      r,
    );
    const dyd = randArray(64 * 24 * 9 * 8, r);
    const df = conv2dBackpropFilter(tensor(xd, c.x), tensor(dyd, [64, 24, 9, 8]), c.f, 1, 'same');
    expectClose(await df.data(), conv2dBackpropFilterRef(xd, c.x, dyd, c.f, 1, 'same'), tolFor(64 * 24 * 9));
  });

  it('works without subgroup operations', async () => {
    setTuning({ convPortable: true });
    const c = CASES[10];
    const g = refGeo(c.x, c.f[0], c.f[1], c.s, c.p);
    const r = rng(9);
    const dyShape = [c.x[0], g.oh, g.ow, c.f[3]];
    const xd = randArray(
      c.x.reduce((a, b) => a * b),
      r,
    );
    const dyd = randArray(
      dyShape.reduce((a, b) => a * b),
      r,
    );
    const fd = randArray(
      c.f.reduce((a, b) => a * b),
      r,
    );
    const df = conv2dBackpropFilter(tensor(xd, c.x), tensor(dyd, dyShape), c.f, c.s, c.p);
    expectClose(await df.data(), conv2dBackpropFilterRef(xd, c.x, dyd, c.f, c.s, c.p), tolFor(100));
    const dx = conv2dBackpropInput(tensor(dyd, dyShape), tensor(fd, c.f), c.x, c.s, c.p);
    expectClose(await dx.data(), conv2dBackpropInputRef(dyd, fd, c.f, c.x, c.s, c.p), tolFor(100));
  });

  it("the oracle's gradients agree with central finite differences in float64", () => {
    const c: Case = {
      x: [2, 5, 4, 3],
      f: [3, 2, 3, 2],
      s: [2, 1],
      p: [
        [1, 0],
        [0, 1],
      ],
    };
    const { xd: x32, fd: f32, r } = data(c, 11);
    const x = Float64Array.from(x32);
    const f = Float64Array.from(f32);
    const g = refGeo(c.x, c.f[0], c.f[1], c.s, c.p);
    const dy = Float64Array.from(randArray(c.x[0] * g.oh * g.ow * c.f[3], r));
    // L(x, f) = sum(dy * conv2d(x, f)); dL/dx and dL/df are the two backprops.
    const loss = (xv: Float64Array, fv: Float64Array) =>
      conv2dRef(xv, c.x, fv, c.f, c.s, c.p).reduce((s, v, i) => s + v * dy[i], 0);
    const h = 1e-6;
    const fd = (v: Float64Array, i: number, other: (w: Float64Array) => number) => {
      const p = Float64Array.from(v);
      const m = Float64Array.from(v);
      p[i] += h;
      m[i] -= h;
      return (other(p) - other(m)) / (2 * h);
    };
    const dx = conv2dBackpropInputRef(dy, f, c.f, c.x, c.s, c.p);
    const df = conv2dBackpropFilterRef(x, c.x, dy, c.f, c.s, c.p);
    for (let i = 0; i < x.length; i++)
      expect(Math.abs(fd(x, i, (w) => loss(w, f)) - dx[i])).toBeLessThan(1e-7);
    for (let i = 0; i < f.length; i++)
      expect(Math.abs(fd(f, i, (w) => loss(x, w)) - df[i])).toBeLessThan(1e-7);
  });

  it('returns zeros for an empty dy and records attrs', async () => {
    const recs: OpRecord[] = [];
    const prev = setRecorder((rec) => recs.push(rec));
    try {
      const df = conv2dBackpropFilter(zeros([0, 5, 5, 3]), zeros([0, 5, 5, 2]), [3, 3, 3, 2], 1, 'same');
      expect(Array.from(await df.data())).toEqual(new Array(54).fill(0));
      const dx = conv2dBackpropInput(zeros([1, 4, 3, 2]), zeros([3, 3, 3, 2]), [1, 8, 6, 3], 2, 'same');
      expect(dx.shape).toEqual([1, 8, 6, 3]);
      expect(recs.map((x) => x.op)).toEqual(['conv2dBackpropFilter', 'conv2dBackpropInput']);
      expect(recs[1].attrs).toEqual({
        inputShape: [1, 8, 6, 3],
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

  it('rejects bad arguments with typed errors', () => {
    const dy = zeros([1, 7, 5, 8]);
    const f = zeros([3, 3, 3, 8]);
    expect(() => conv2dBackpropInput(dy, f, [1, 7, 5, 4], 1, 'same')).toThrow(
      'conv2dBackpropInput: filter [3,3,3,8] expects 3 input channels, inputShape [1,7,5,4] has 4',
    );
    expect(() => conv2dBackpropInput(dy, f, [1, 7, 6, 3], 1, 'same')).toThrow(
      'conv2dBackpropInput: dy must have shape [1,7,6,8]',
    );
    expect(() => conv2dBackpropInput(dy, f, [1, 7, 5] as unknown as number[], 1, 'same')).toThrow(
      ArgumentError,
    );
    expect(() => conv2dBackpropInput(dy, f, [1, 7, 5, 3], 1, 'other' as Padding)).toThrow(ArgumentError);
    const x = zeros([1, 7, 5, 3]);
    expect(() => conv2dBackpropFilter(x, dy, [3, 3, 4, 8], 1, 'same')).toThrow(
      'conv2dBackpropFilter: filterShape [3,3,4,8] expects 4 input channels, x [1,7,5,3] has 3',
    );
    expect(() => conv2dBackpropFilter(x, dy, [3, 3, 3, 8], 2, 'same')).toThrow(ShapeError);
    expect(() => conv2dBackpropFilter(x, dy, [0, 3, 3, 8], 1, 'same')).toThrow(ArgumentError);
    expect(() => conv2dBackpropFilter(x, zeros([1, 7, 5, 8], 'int32'), [3, 3, 3, 8], 1, 'same')).toThrow(
      DTypeError,
    );
  });
});
