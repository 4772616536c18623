import { afterEach, describe, expect, it } from 'vitest';
import { tensor } from '../src/index.js';
import type { Activation } from '../src/kernels/activation.js';
import { conv2d, conv2dBackpropInput, type Padding } from '../src/kernels/conv.js';
import { windowWsPlan } from '../src/kernels/conv-window-ws.js';
import { setTuning, withTuning } from '../src/kernels/tuning.js';
import { deviceInfo } from '../src/tensor/device.js';
import { deviceFacts } from '../src/tensor/device-info.js';
import { expectClose, randArray, rng } from './helpers.js';
import { dispatchedKernels } from './kernel-helpers.js';
import { conv2dBackpropInputRef, conv2dRef, refGeo } from './oracle/conv.js';

// The weight-stationary windowed conv (src/kernels/conv-window-ws.ts) needs a fixed subgroup size.
const lanes = deviceFacts().fixedSubgroupLanes;
const WS = 'conv2d_window_ws';

afterEach(() => setTuning());

interface Case {
  x: [number, number, number, number];
  f: [number, number, number, number];
  s: number | [number, number];
  p: Padding;
  act: Activation;
  bias?: boolean;
}

// A stem (3x3 stride 2 over 3 channels), odd sizes, windows of 1-16 channels up to the limit of
// 144 taps, 'same' / 'valid' / asymmetric explicit padding, unequal strides, a 5x5 and a 2x4
// window, batches (the pixel walk crosses rows and images), Cout across lane blocks.
const CASES: Case[] = [
  { x: [2, 13, 11, 3], f: [3, 3, 3, 32], s: 2, p: 'same', act: 'relu6', bias: true },
  { x: [1, 7, 9, 5], f: [3, 3, 5, 12], s: 1, p: 'valid', act: 'linear' },
  { x: [3, 6, 5, 16], f: [3, 3, 16, 4], s: 1, p: 'same', act: 'relu', bias: true },
  { x: [1, 9, 8, 2], f: [5, 5, 2, 36], s: 2, p: 'same', act: 'linear' },
  {
    x: [2, 6, 7, 4],
    f: [2, 4, 4, 8],
    s: [1, 2],
    p: [
      [0, 3],
      [2, 1],
    ],
    act: 'tanh',
    bias: true,
  },
  { x: [1, 40, 37, 3], f: [3, 3, 3, 100], s: 1, p: 'same', act: 'relu6' },
];

describe.skipIf(lanes === 0)('weight-stationary windowed conv', () => {
  it('matches the float64 oracle and is the kernel that ran', async () => {
    for (const [i, c] of CASES.entries()) {
      const r = rng(200 + i);
      const xd = randArray(
        c.x.reduce((a, b) => a * b),
        r,
        -2,
        2,
      );
      const fd = randArray(
        c.f.reduce((a, b) => a * b),
        r,
      );
      const co = c.f[3];
      const bd = c.bias ? randArray(co, r) : undefined;
      const label = `x ${JSON.stringify(c.x)} f ${JSON.stringify(c.f)} s ${JSON.stringify(c.s)} ${JSON.stringify(c.p)}`;
      const run = () =>
        conv2d(tensor(xd, c.x), tensor(fd, c.f), c.s, c.p, {
          ...(bd ? { bias: tensor(bd, [co]) } : {}),
          activation: c.act,
        });
      const terms = c.f[0] * c.f[1] * c.f[2];
      const tol = { atol: 3e-6 * terms, rtol: 1e-5 };
      const on = await withTuning({ convWeightStationary: 'on' }, () => dispatchedKernels(run));
      expect(on.kernels, label).toContain(WS);
      // Unguarded stores only where no lane is idle: the stem's 32 channels are 8 lanes x 1 quad.
      if (lanes === 8)
        expect(
          on.keys.some((k) => k.includes('"full":true')),
          label,
        ).toBe(co === 32);
      expectClose(on.data, conv2dRef(xd, c.x, fd, c.f, c.s, c.p, bd, c.act), tol, label);
      const off = await withTuning({ convWeightStationary: 'off' }, () => dispatchedKernels(run));
      expect(off.kernels, label).not.toContain(WS);
      expectClose(on.data, off.data, tol, label);
    }
  });

  it('takes the input gradient of a stride-1 conv with a short flipped window', async () => {
    // dx [2,8,7,12] from dy [2,8,7,8] through the flipped 3x3 filter: 3 x 3 x 8 = 72 taps.
    const r = rng(210);
    const xs = [2, 8, 7, 12];
    const fs = [3, 3, 12, 8];
    const g = refGeo(xs, 3, 3, 1, 'same');
    const ys = [2, g.oh, g.ow, 8];
    const dyd = randArray(
      ys.reduce((a, b) => a * b),
      r,
    );
    const fd = randArray(
      fs.reduce((a, b) => a * b),
      r,
    );
    const { kernels, data } = await withTuning({ convWeightStationary: 'on' }, () =>
      dispatchedKernels(() => conv2dBackpropInput(tensor(dyd, ys), tensor(fd, fs), xs, 1, 'same')),
    );
    expect(kernels).toContain(WS);
    expectClose(data, conv2dBackpropInputRef(dyd, fd, fs, xs, 1, 'same'), { atol: 3e-4, rtol: 1e-5 });
  });
});

describe('windowWsPlan', () => {
  const win = { n: 1, h: 9, w: 9, oh: 9, ow: 9, kh: 3, kw: 3, sh: 1, sw: 1, padT: 1, padL: 1, dh: 1, dw: 1 };
  it('declines long windows, input dilation and Cout off a multiple of 4, and follows the switch', () => {
    withTuning({ convWeightStationary: 'on' }, () => {
      expect(windowWsPlan(win, 16, 8, 8)).toBeDefined(); // 144 taps
      expect(windowWsPlan(win, 17, 8, 8)).toBeUndefined(); // 153 taps
      expect(windowWsPlan(win, 3, 6, 8)).toBeUndefined();
      expect(windowWsPlan({ ...win, dh: 2 }, 3, 8, 8)).toBeUndefined();
      expect(windowWsPlan(win, 3, 8, 0)).toBeUndefined();
      const p = windowWsPlan(win, 3, 32, 8);
      expect(p?.c).toBe(1); // 32 channels: one quad for each of 8 lanes
      expect(p?.px).toBe(64);
    });
    withTuning({ convWeightStationary: 'off' }, () => expect(windowWsPlan(win, 3, 8, 8)).toBeUndefined());
    // 'auto': lavapipe only (see windowWsPlan).
    expect(windowWsPlan(win, 3, 8, 8) !== undefined).toBe(
      /llvmpipe|lavapipe/i.test(deviceInfo().description),
    );
  });
});
