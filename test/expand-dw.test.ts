import { afterEach, describe, expect, it } from 'vitest';
import {
  BatchNormalization,
  Conv2D,
  DepthwiseConv2D,
  input,
  model,
  ReLU,
  tensor,
  ZeroPadding2D,
} from '../src/index.js';
import type { Activation } from '../src/kernels/activation.js';
import { forwardWindow, geometry, type Padding } from '../src/kernels/conv-args.js';
import { expandDepthwise, expandDwPlan } from '../src/kernels/expand-dw.js';
import { stripGrid } from '../src/kernels/strip-ws.js';
import { setTuning, withTuning } from '../src/kernels/tuning.js';
import { deviceFacts } from '../src/tensor/device-info.js';
import { expectClose, randArray, rng } from './helpers.js';
import { dispatchedKernels } from './kernel-helpers.js';
import { expectFusedInInference } from './model-helpers.js';
import { conv2dRef, depthwiseRef } from './oracle/conv.js';

// The fused expansion + depthwise kernel (src/kernels/expand-dw.ts) needs a fixed subgroup size.
const lanes = deviceFacts().fixedSubgroupLanes;
const FUSED = 'expand_dw_ws';

afterEach(() => setTuning());

interface Case {
  /** [n, h, w, cin] */
  x: [number, number, number, number];
  ce: number;
  k: [number, number];
  s: number | [number, number];
  p: Padding;
  eAct: Activation;
  dAct: Activation;
  bias?: boolean;
}

// MobileNetV2's second block (16 -> 96, 3x3 stride 2 'same'), odd sizes, stride 1 'valid',
// unequal strides with asymmetric explicit padding, a 2x3 window, one quad per lane with idle
// lanes, 3 quads per lane with idle quads, and images wide enough that each strip walks several
// rows (the window rows carried down).
const CASES: Case[] = [
  { x: [2, 13, 11, 16], ce: 96, k: [3, 3], s: 2, p: 'same', eAct: 'relu6', dAct: 'relu6', bias: true },
  { x: [1, 9, 8, 8], ce: 20, k: [3, 3], s: 1, p: 'valid', eAct: 'relu', dAct: 'linear' },
  {
    x: [3, 7, 10, 4],
    ce: 12,
    k: [3, 3],
    s: [1, 2],
    p: [
      [2, 0],
      [0, 1],
    ],
    eAct: 'linear',
    dAct: 'relu6',
    bias: true,
  },
  { x: [1, 6, 7, 24], ce: 88, k: [2, 3], s: 1, p: 'same', eAct: 'relu6', dAct: 'tanh', bias: true },
  { x: [2, 1, 1, 4], ce: 4, k: [3, 3], s: 2, p: 'same', eAct: 'relu6', dAct: 'relu6' },
  { x: [4, 20, 130, 8], ce: 16, k: [3, 3], s: 1, p: 'same', eAct: 'relu6', dAct: 'relu6', bias: true },
  { x: [2, 21, 300, 4], ce: 8, k: [3, 3], s: 2, p: 'same', eAct: 'relu6', dAct: 'linear' },
  // Enough strips that each subgroup walks 2 images (an odd batch: the last walks one alone).
  { x: [67, 5, 16, 8], ce: 16, k: [3, 3], s: 1, p: 'same', eAct: 'relu6', dAct: 'relu6', bias: true },
  { x: [67, 6, 32, 4], ce: 8, k: [3, 3], s: 2, p: 'same', eAct: 'relu', dAct: 'linear' },
];

/** The two steps composed in float64: the 1x1 conv (+ bias, eAct), then the depthwise (+ bias, dAct). */
function reference(
  c: Case,
  x: Float32Array,
  fe: Float32Array,
  be: Float32Array | undefined,
  fd: Float32Array,
  bd: Float32Array | undefined,
) {
  const e = conv2dRef(x, c.x, fe, [1, 1, c.x[3], c.ce], 1, 'valid', be, c.eAct);
  return depthwiseRef(e, [c.x[0], c.x[1], c.x[2], c.ce], fd, [...c.k, c.ce, 1], c.s, c.p, bd, c.dAct);
}

describe.skipIf(lanes === 0)('fused expansion + depthwise', () => {
  it('matches the float64 oracle and is the kernel that ran', async () => {
    const imgs: number[] = [];
    for (const [i, c] of CASES.entries()) {
      const r = rng(400 + i);
      const cin = c.x[3];
      const x = randArray(
        c.x.reduce((a, b) => a * b),
        r,
        -2,
        2,
      );
      const fe = randArray(cin * c.ce, r, -0.5, 0.5);
      const fd = randArray(c.k[0] * c.k[1] * c.ce, r);
      const be = c.bias ? randArray(c.ce, r) : undefined;
      const bd = c.bias ? randArray(c.ce, r) : undefined;
      const label = `x ${JSON.stringify(c.x)} -> ${c.ce} k ${c.k} s ${JSON.stringify(c.s)} ${JSON.stringify(c.p)}`;
      const g = geometry('test', [c.x[0], c.x[1], c.x[2], c.ce], c.k[0], c.k[1], c.s, c.p);
      const plan = expandDwPlan(forwardWindow(g), cin, c.ce);
      expect(plan, label).toBeDefined();
      const run = () =>
        expandDepthwise(
          {
            ...forwardWindow(g),
            x: tensor(x, c.x),
            fe: tensor(fe, [1, 1, cin, c.ce]),
            ...(be ? { be: tensor(be, [c.ce]) } : {}),
            eAct: c.eAct,
            fd: tensor(fd, [...c.k, c.ce, 1]),
            ...(bd ? { bd: tensor(bd, [c.ce]) } : {}),
            dAct: c.dAct,
            cin,
            ce: c.ce,
          },
          plan!,
        );
      imgs.push(stripGrid(forwardWindow(g), 1, 'test').imgs);
      const got = await dispatchedKernels(run);
      expect(got.kernels, label).toEqual([FUSED]);
      const want = reference(c, x, fe, be, fd, bd);
      expect(got.data.length, label).toBe(want.length);
      const terms = c.k[0] * c.k[1] + cin;
      expectClose(got.data, want, { atol: 4e-6 * terms, rtol: 1e-5 }, label);
    }
    expect(imgs.slice(-2)).toEqual([2, 2]);
  });

  it('is planned only within its limits', () => {
    const win = (s: number, k = 3, dil = 1) => ({
      ...forwardWindow(geometry('test', [1, 8, 8, 96], k, k, s, 'same')),
      dh: dil,
      dw: dil,
    });
    expect(expandDwPlan(win(2), 16, 96)).toEqual({ sg: lanes, c: Math.ceil(24 / lanes) });
    // Cin over 24 or not in quads, more than 3 expanded quads per lane or not in quads, stride 3,
    // a 5x5 window, dilation, the switch off: the two kernels run instead.
    expect(expandDwPlan(win(2), 28, 96)).toBeUndefined();
    expect(expandDwPlan(win(2), 14, 96)).toBeUndefined();
    expect(expandDwPlan(win(2), 16, 12 * lanes + 4)).toBeUndefined();
    expect(expandDwPlan(win(2), 16, 94)).toBeUndefined();
    expect(expandDwPlan(win(3), 16, 96)).toBeUndefined();
    expect(expandDwPlan(win(1, 5), 16, 96)).toBeUndefined();
    expect(expandDwPlan(win(1, 3, 2), 16, 96)).toBeUndefined();
    expect(withTuning({ convWeightStationary: 'off' }, () => expandDwPlan(win(2), 16, 96))).toBeUndefined();
  });

  it("runs a functional model's 1x1 -> BN -> ReLU6 -> pad -> depthwise stride 2 -> BN -> ReLU6 as one dispatch in inference", async () => {
    const inp = input({ shape: [11, 10, 16] });
    let h = new Conv2D({ filters: 40, kernelSize: 1, useBias: false }).apply(inp);
    h = new BatchNormalization().apply(h);
    h = new ReLU({ maxValue: 6 }).apply(h);
    h = new ZeroPadding2D({
      padding: [
        [0, 1],
        [0, 1],
      ],
    }).apply(h);
    h = new DepthwiseConv2D({ kernelSize: 3, strides: 2, padding: 'valid', useBias: false }).apply(h);
    h = new BatchNormalization().apply(h);
    h = new ReLU({ maxValue: 6 }).apply(h);
    const m = model({ inputs: inp, outputs: h });
    const r = rng(9);
    const x = tensor(randArray(2 * 11 * 10 * 16, r, -1, 1), [2, 11, 10, 16]);
    await expectFusedInInference(m, x, FUSED);
  });
});
