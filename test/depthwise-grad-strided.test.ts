import { describe, expect, it } from 'vitest';
import { memory, tensor } from '../src/index.js';
import type { Padding } from '../src/kernels/conv-args.js';
import { depthwiseConv2dBackpropInput } from '../src/kernels/depthwise.js';
import { expectClose, randArray, rng } from './helpers.js';
import { dispatchedKernels } from './kernel-helpers.js';
import { depthwiseBackpropInputRef, refGeo } from './oracle/conv.js';

// The strided depthwise input gradient (src/kernels/depthwise-grad-strided.ts): equal strides of
// 2-4, multiplier 1, channels a multiple of 4. Against the float64 oracle on odd and even sizes,
// 'same', 'valid' and explicit padding wider than the stride, windows from 1x1 to 7x7, and enough
// images for the lanes to walk whole columns of blocks or only strips of them.
const CASES: [number[], number[], number, Padding][] = [
  [[2, 7, 5, 12], [3, 3], 2, 'same'],
  [[1, 8, 6, 4], [3, 3], 2, 'same'],
  [[2, 8, 6, 4], [3, 3], 2, 'valid'],
  [
    [1, 9, 11, 8],
    [5, 5],
    2,
    [
      [3, 1],
      [2, 4],
    ],
  ],
  [[3, 10, 7, 4], [3, 3], 3, 'valid'],
  [[1, 13, 9, 16], [7, 7], 4, 'same'],
  [[2, 6, 6, 8], [2, 2], 2, 'valid'],
  [[1, 5, 7, 4], [1, 1], 2, 'valid'],
  [
    [1, 11, 11, 4],
    [3, 5],
    3,
    [
      [0, 2],
      [4, 1],
    ],
  ],
  [[96, 9, 8, 4], [3, 3], 2, 'same'], // many lanes: strips of block rows
];

/**
 * Random dy and filter for the input gradient of a depthwise conv of x shape `xs`, filter `fs`,
 * as values (for the oracle) and tensors (the caller disposes them).
 */
function gradInputs(xs: number[], fs: number[], s: number | [number, number], p: Padding, seed: number) {
  const g = refGeo(xs, fs[0], fs[1], s, p);
  const dyShape = [xs[0], g.oh, g.ow, fs[2] * fs[3]];
  const r = rng(seed);
  const fd = randArray(
    fs.reduce((a, b) => a * b, 1),
    r,
  );
  const dyd = randArray(
    dyShape.reduce((a, b) => a * b, 1),
    r,
  );
  return { fd, dyd, f: tensor(fd, fs), dy: tensor(dyd, dyShape) };
}

describe('depthwiseConv2dBackpropInput, strided kernel', () => {
  it.each(CASES)('x %j window %j stride %i %j matches the oracle', async (xs, win, s, p) => {
    const fs = [win[0], win[1], xs[3], 1];
    const { fd, dyd, f, dy } = gradInputs(xs, fs, s, p, xs[1] * 31 + s);
    const before = memory().numTensors;
    const got = await dispatchedKernels(() => depthwiseConv2dBackpropInput(dy, f, xs, s, p));
    expect(got.kernels).toEqual(['depthwise_grad_strided']);
    expect(memory().numTensors).toBe(before);
    const taps = Math.ceil(win[0] / s) * Math.ceil(win[1] / s);
    expectClose(got.data, depthwiseBackpropInputRef(dyd, fd, fs, xs, s, p), {
      atol: 3e-6 * taps,
      rtol: 1e-5,
    });
    dy.dispose();
    f.dispose();
  });

  it('leaves unequal strides, multipliers and odd channel counts to the generic kernel', async () => {
    const cases: [number[], number[], number | [number, number]][] = [
      [
        [1, 7, 9, 4],
        [3, 3, 4, 1],
        [1, 2],
      ],
      [[1, 7, 9, 4], [3, 3, 4, 2], 2],
      [[1, 7, 9, 6], [3, 3, 6, 1], 2],
    ];
    for (const [xs, fs, s] of cases) {
      const { fd, dyd, f, dy } = gradInputs(xs, fs, s, 'same', 7);
      const got = await dispatchedKernels(() => depthwiseConv2dBackpropInput(dy, f, xs, s, 'same'));
      expect(got.kernels).not.toContain('depthwise_grad_strided');
      expectClose(got.data, depthwiseBackpropInputRef(dyd, fd, fs, xs, s, 'same'), {
        atol: 3e-5,
        rtol: 1e-5,
      });
      dy.dispose();
      f.dispose();
    }
  });
});
