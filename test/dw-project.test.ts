import { afterEach, describe, expect, it } from 'vitest';
import { BatchNormalization, Conv2D, DepthwiseConv2D, input, model, ReLU, tensor } from '../src/index.js';
import type { Activation } from '../src/kernels/activation.js';
import { forwardWindow, geometry, type Padding } from '../src/kernels/conv-args.js';
import { depthwiseProject, dwProjectPlan } from '../src/kernels/dw-project.js';
import { stripGrid } from '../src/kernels/strip-ws.js';
import { setTuning, withTuning } from '../src/kernels/tuning.js';
import { deviceFacts } from '../src/tensor/device-info.js';
import { expectClose, randArray, rng } from './helpers.js';
import { dispatchedKernels } from './kernel-helpers.js';
import { expectFusedInInference } from './model-helpers.js';
import { conv2dRef, depthwiseRef } from './oracle/conv.js';

// The fused depthwise + projection kernel (src/kernels/dw-project.ts) needs a fixed subgroup size.
const lanes = deviceFacts().fixedSubgroupLanes;
const FUSED = 'dw_project_ws';

afterEach(() => setTuning());

interface Case {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  s: number | [number, number];
  p: Padding;
  dwAct: Activation;
  act: Activation;
  bias?: boolean;
}

// MobileNetV2's first block (3x3 'same' over 32 channels -> 16), odd sizes (the two-pixel strips
// end half-used), strides 2 and (1, 2), asymmetric explicit padding, a 5x5 window, one channel
// quad, 100 output channels (4 quads per lane at 8 lanes, idle lanes in the last group), and
// images wide enough that each strip walks several rows.
const CASES: Case[] = [
  { x: [2, 13, 11, 32], k: [3, 3], co: 16, s: 1, p: 'same', dwAct: 'relu6', act: 'linear', bias: true },
  { x: [1, 9, 8, 8], k: [3, 3], co: 36, s: 2, p: 'valid', dwAct: 'relu', act: 'relu' },
  {
    x: [3, 7, 10, 12],
    k: [3, 3],
    co: 4,
    s: [1, 2],
    p: [
      [0, 2],
      [1, 0],
    ],
    dwAct: 'linear',
    act: 'relu6',
    bias: true,
  },
  { x: [1, 6, 5, 4], k: [5, 5], co: 100, s: 1, p: 'same', dwAct: 'relu6', act: 'linear', bias: true },
  { x: [2, 1, 1, 16], k: [3, 3], co: 8, s: 2, p: 'same', dwAct: 'relu6', act: 'tanh' },
  // Wide images: enough strips that each walks several rows (the window rows carried down).
  { x: [4, 20, 130, 4], k: [3, 3], co: 8, s: 1, p: 'same', dwAct: 'relu6', act: 'linear', bias: true },
  { x: [2, 21, 300, 8], k: [3, 3], co: 4, s: 2, p: 'same', dwAct: 'relu6', act: 'linear' },
  // Enough strips that each subgroup walks 2 images (an odd batch: the last walks one alone).
  { x: [67, 5, 32, 8], k: [3, 3], co: 8, s: 1, p: 'same', dwAct: 'relu6', act: 'linear', bias: true },
  { x: [67, 6, 32, 4], k: [3, 3], co: 12, s: 2, p: 'same', dwAct: 'relu', act: 'relu6' },
];

/** The two steps composed in float64: depthwise (+ bias, dwAct), then the 1x1 conv (+ bias, act). */
function reference(
  c: Case,
  x: Float32Array,
  fd: Float32Array,
  bd: Float32Array | undefined,
  fp: Float32Array,
  bp: Float32Array | undefined,
) {
  const ce = c.x[3];
  const d = depthwiseRef(x, c.x, fd, [...c.k, ce, 1], c.s, c.p, bd, c.dwAct);
  const oh = d.length / (c.x[0] * ce);
  return conv2dRef(d, [c.x[0], oh, 1, ce], fp, [1, 1, ce, c.co], 1, 'valid', bp, c.act);
}

describe.skipIf(lanes === 0)('fused depthwise + projection', () => {
  it('matches the float64 oracle and is the kernel that ran', async () => {
    const imgs: number[] = [];
    for (const [i, c] of CASES.entries()) {
      const r = rng(300 + i);
      const ce = c.x[3];
      const x = randArray(
        c.x.reduce((a, b) => a * b),
        r,
        -2,
        2,
      );
      const fd = randArray(c.k[0] * c.k[1] * ce, r);
      const fp = randArray(ce * c.co, r, -0.5, 0.5);
      const bd = c.bias ? randArray(ce, r) : undefined;
      const bp = c.bias ? randArray(c.co, r) : undefined;
      const label = `x ${JSON.stringify(c.x)} k ${c.k} -> ${c.co} s ${JSON.stringify(c.s)} ${JSON.stringify(c.p)}`;
      const g = geometry('test', c.x, c.k[0], c.k[1], c.s, c.p);
      const plan = dwProjectPlan(forwardWindow(g), ce, c.co);
      expect(plan, label).toBeDefined();
      const run = () =>
        depthwiseProject(
          {
            ...forwardWindow(g),
            x: tensor(x, c.x),
            fd: tensor(fd, [...c.k, ce, 1]),
            ...(bd ? { bd: tensor(bd, [ce]) } : {}),
            dwAct: c.dwAct,
            fp: tensor(fp, [1, 1, ce, c.co]),
            ...(bp ? { bp: tensor(bp, [c.co]) } : {}),
            act: c.act,
            ce,
            co: c.co,
          },
          plan!,
        );
      // The strip width depthwiseProject takes: 2 pixels at column stride 1.
      const win = forwardWindow(g);
      imgs.push(stripGrid(win, win.sw === 1 ? Math.min(2, win.ow) : 1, 'test').imgs);
      const got = await dispatchedKernels(run);
      expect(got.kernels, label).toEqual([FUSED]);
      const want = reference(c, x, fd, bd, fp, bp);
      expect(got.data.length, label).toBe(want.length);
      const terms = c.k[0] * c.k[1] + ce;
      expectClose(got.data, want, { atol: 4e-6 * terms, rtol: 1e-5 }, label);
    }
    expect(imgs.slice(-2)).toEqual([2, 2]);
  });

  it('is planned only within its limits', () => {
    const win = (s: number, k = 3, dil = 1) => ({
      ...forwardWindow(geometry('test', [1, 8, 8, 32], k, k, s, 'same')),
      dh: dil,
      dw: dil,
    });
    expect(dwProjectPlan(win(1), 32, 16)).toEqual({ sg: lanes, c2: Math.ceil(4 / lanes) });
    // More than one channel quad per lane, channels not in quads, more than 4 output quads per
    // lane, stride 3, a 7x7 window, dilation: the two kernels run instead.
    expect(dwProjectPlan(win(1), 4 * lanes + 4, 16)).toBeUndefined();
    expect(dwProjectPlan(win(1), 30, 16)).toBeUndefined();
    expect(dwProjectPlan(win(1), 32, 18)).toBeUndefined();
    expect(dwProjectPlan(win(1), 32, 16 * lanes + 4)).toBeUndefined();
    expect(dwProjectPlan(win(3), 32, 16)).toBeUndefined();
    expect(dwProjectPlan(win(1, 7), 32, 16)).toBeUndefined();
    expect(dwProjectPlan(win(1, 3, 2), 32, 16)).toBeUndefined();
    expect(withTuning({ convWeightStationary: 'off' }, () => dwProjectPlan(win(1), 32, 16))).toBeUndefined();
  });

  it("runs a functional model's depthwise -> batch norm -> ReLU6 -> 1x1 -> batch norm as one dispatch in inference", async () => {
    const inp = input({ shape: [9, 7, 24] });
    let h = new DepthwiseConv2D({ kernelSize: 3, padding: 'same', useBias: false }).apply(inp);
    h = new BatchNormalization().apply(h);
    h = new ReLU({ maxValue: 6 }).apply(h);
    h = new Conv2D({ filters: 12, kernelSize: 1, useBias: false }).apply(h);
    h = new BatchNormalization().apply(h);
    const m = model({ inputs: inp, outputs: h });
    const r = rng(7);
    const x = tensor(randArray(2 * 9 * 7 * 24, r, -1, 1), [2, 9, 7, 24]);
    await expectFusedInInference(m, x, FUSED);
  });
});
