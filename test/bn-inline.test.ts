import { afterEach, describe, expect, it } from 'vitest';
import {
  add,
  BatchNormalization,
  Conv2D,
  DepthwiseConv2D,
  input,
  memory,
  model,
  profile,
  ReLU,
  randomUniform,
  setGraphFusion,
  setSeed,
  type Tensor,
  tensor,
  zeros,
} from '../src/index.js';
import type { Activation } from '../src/kernels/activation.js';
import type { InlineBatchNorm } from '../src/kernels/bn-inline.js';
import { conv2d, conv2dFoldedBn } from '../src/kernels/conv.js';
import { depthwiseConv2d, depthwiseConv2dFoldedBn } from '../src/kernels/depthwise.js';
import { foldBatchNorm } from '../src/kernels/fold.js';
import { setTuning, withTuning } from '../src/kernels/tuning.js';
import { deviceFacts } from './../src/tensor/device-info.js';
import { ShapeError } from '../src/tensor/errors.js';
import { expectClose, randArray, rng } from './helpers.js';
import { dispatchedKernels, randomBnStats } from './kernel-helpers.js';

// The kernels that fold a batch norm themselves (src/kernels/bn-inline.ts) are the
// weight-stationary pointwise conv and matmul and the depthwise strip kernel; the pointwise ones
// need a fixed subgroup size and a software adapter (lavapipe), elsewhere the folded entry points
// decline (undefined) and those cases are skipped.
const software = deviceFacts().fixedSubgroupLanes > 0 && deviceFacts().adapterClass === 'software';

afterEach(() => {
  setTuning();
  setGraphFusion(true);
});

/** A batch norm over c channels with random statistics (gamma / beta only when asked). */
function randomBn(c: number, seed: number, gamma: boolean, beta: boolean, epsilon = 1e-3): InlineBatchNorm {
  const r = rng(seed);
  return {
    mean: tensor(randArray(c, r, -0.5, 0.5)),
    variance: tensor(randArray(c, r, 0.2, 2)),
    gamma: gamma ? tensor(randArray(c, r, 0.5, 1.5)) : undefined,
    beta: beta ? tensor(randArray(c, r, -0.3, 0.3)) : undefined,
    epsilon,
  };
}

function disposeBn(bn: InlineBatchNorm): void {
  for (const t of [bn.mean, bn.variance, bn.gamma, bn.beta]) t?.dispose();
}

/** The folded path's output: fold.ts' dispatch, then the conv on the folded weights. */
function viaFold(
  f: Tensor,
  bias: Tensor | undefined,
  bn: InlineBatchNorm,
  run: (f: Tensor, b: Tensor) => Tensor,
): Tensor {
  const folded = foldBatchNorm({ filter: f, bias, ...bn });
  if (!folded) throw new Error('fold declined');
  const y = run(folded.filter, folded.bias);
  folded.filter.dispose();
  folded.bias.dispose();
  return y;
}

// [n, h, w], cin -> co, conv bias, gamma, beta, activation: the weight-stationary pointwise kernel
// (Cin <= 144) and the weight-stationary matmul (Cin > 144: one chunk and several, with private
// partial sums), channel counts with idle lanes.
const POINTWISE: [number[], number, number, boolean, boolean, boolean, Activation][] = [
  [[2, 7, 5], 8, 12, true, true, true, 'relu6'],
  [[1, 9, 13], 24, 148, false, true, true, 'linear'],
  [[1, 13, 9], 144, 24, false, false, true, 'relu'],
  [[1, 12, 11], 192, 32, true, true, false, 'linear'],
  [[2, 8, 9], 576, 40, false, true, true, 'relu6'],
];

describe('batch norm folded by the conv kernels', () => {
  it.each(POINTWISE)(
    'pointwise %j %i -> %i (bias %s, gamma %s, beta %s, %s): equals the folded path bit for bit',
    async (dims, cin, co, useBias, gamma, beta, act) => {
      if (!software) return;
      const r = rng(cin * 7 + co);
      const [n, h, w] = dims;
      const x = tensor(randArray(n * h * w * cin, r), [n, h, w, cin]);
      const f = tensor(randArray(cin * co, r, -0.3, 0.3), [1, 1, cin, co]);
      const bias = useBias ? tensor(randArray(co, r)) : undefined;
      const bn = randomBn(co, cin + co, gamma, beta);
      const before = memory().numTensors;
      const got = await dispatchedKernels(() => {
        const y = conv2dFoldedBn(x, f, [1, 1], 'valid', { bias, activation: act }, bn);
        if (!y) throw new Error('the kernel declined');
        return y;
      });
      expect(got.kernels.some((k) => k.startsWith('fold_bn'))).toBe(false);
      expect(got.kernels.some((k) => k === 'conv2d_pointwise_ws' || k === 'matmul_ws')).toBe(true);
      const ref = viaFold(f, bias, bn, (ff, bb) =>
        conv2d(x, ff, [1, 1], 'valid', { bias: bb, activation: act }),
      );
      expect(got.data).toEqual(await ref.data());
      ref.dispose();
      expect(memory().numTensors).toBe(before);
      for (const t of [x, f, bias]) t?.dispose();
      disposeBn(bn);
    },
  );

  it.each(POINTWISE)(
    'pointwise %j %i -> %i (bias %s, gamma %s, beta %s, %s) with a residual: equals the add after it bit for bit',
    async (dims, cin, co, useBias, gamma, beta, act) => {
      if (!software) return;
      const r = rng(cin * 5 + co);
      const [n, h, w] = dims;
      const x = tensor(randArray(n * h * w * cin, r), [n, h, w, cin]);
      const f = tensor(randArray(cin * co, r, -0.3, 0.3), [1, 1, cin, co]);
      const bias = useBias ? tensor(randArray(co, r)) : undefined;
      const res = tensor(randArray(n * h * w * co, r), [n, h, w, co]);
      const bn = randomBn(co, cin + co, gamma, beta);
      const before = memory().numTensors;
      const got = await dispatchedKernels(() => {
        const y = conv2dFoldedBn(x, f, [1, 1], 'valid', { bias, activation: act }, bn, res);
        if (!y) throw new Error('the kernel declined');
        return y;
      });
      expect(got.kernels).toHaveLength(1);
      const alone = conv2dFoldedBn(x, f, [1, 1], 'valid', { bias, activation: act }, bn)!;
      const ref = add(alone, res);
      expect(got.data).toEqual(await ref.data());
      for (const t of [alone, ref]) t.dispose();
      expect(memory().numTensors).toBe(before);
      // A residual of another shape or dtype: declined, nothing run.
      const wrong = tensor(randArray(n * h * w * co, r), [n, w, h, co]);
      if (h !== w) expect(conv2dFoldedBn(x, f, [1, 1], 'valid', {}, bn, wrong)).toBeUndefined();
      const ints = zeros([n, h, w, co], 'int32');
      expect(conv2dFoldedBn(x, f, [1, 1], 'valid', {}, bn, ints)).toBeUndefined();
      for (const t of [x, f, bias, res, wrong, ints]) t?.dispose();
      disposeBn(bn);
    },
  );

  // [n, h, w, c], window, stride, conv bias, gamma, beta, activation.
  const DEPTHWISE: [number[], number, number, boolean, boolean, boolean, Activation][] = [
    [[2, 9, 11, 12], 3, 1, false, true, true, 'relu6'],
    [[1, 10, 7, 8], 3, 2, true, false, true, 'linear'],
    [[3, 6, 5, 20], 5, 1, true, true, false, 'relu'],
    [[9, 5, 6, 4], 3, 2, false, true, true, 'relu6'], // several images per lane
  ];

  it.each(DEPTHWISE)(
    'depthwise %j window %i stride %i (bias %s, gamma %s, beta %s, %s): equals the folded path bit for bit',
    async (shape, k, s, useBias, gamma, beta, act) => {
      const r = rng(shape[3] * 13 + k);
      const c = shape[3];
      const x = tensor(
        randArray(
          shape.reduce((a, b) => a * b, 1),
          r,
        ),
        shape,
      );
      const f = tensor(randArray(k * k * c, r, -0.5, 0.5), [k, k, c, 1]);
      const bias = useBias ? tensor(randArray(c, r)) : undefined;
      const bn = randomBn(c, c + k, gamma, beta);
      const before = memory().numTensors;
      const got = await dispatchedKernels(() => {
        const y = depthwiseConv2dFoldedBn(x, f, [s, s], 'same', { bias, activation: act }, bn);
        if (!y) throw new Error('the kernel declined');
        return y;
      });
      expect(got.kernels).toEqual(['depthwise_strip']);
      const ref = viaFold(f, bias, bn, (ff, bb) =>
        depthwiseConv2d(x, ff, [s, s], 'same', { bias: bb, activation: act }),
      );
      expect(got.data).toEqual(await ref.data());
      ref.dispose();
      expect(memory().numTensors).toBe(before);
      for (const t of [x, f, bias]) t?.dispose();
      disposeBn(bn);
    },
  );

  it('declines what its kernels do not take, running nothing', () => {
    const x = randomUniform([1, 6, 6, 8], -1, 1, { seed: 1 });
    const bn = randomBn(8, 5, true, true);
    const f3 = randomUniform([3, 3, 8, 8], -1, 1, { seed: 2 });
    const f1 = randomUniform([1, 1, 8, 8], -1, 1, { seed: 3 });
    const dwMult = randomUniform([3, 3, 8, 2], -1, 1, { seed: 4 });
    const bn16 = randomBn(16, 6, true, true);
    const x3 = randomUniform([1, 5, 5, 3], -1, 1, { seed: 5 });
    const dw3 = randomUniform([3, 3, 3, 1], -1, 1, { seed: 6 });
    const bn3 = randomBn(3, 7, true, false);
    const before = memory().numTensors;
    // A 3x3 conv, a strided 1x1 conv, the f16 path, tile kernels forced, multiplier 2, odd channels.
    expect(conv2dFoldedBn(x, f3, [1, 1], 'same', {}, bn)).toBeUndefined();
    expect(conv2dFoldedBn(x, f1, [2, 2], 'valid', {}, bn)).toBeUndefined();
    expect(conv2dFoldedBn(x, f1, [1, 1], 'valid', { precision: 'f16' }, bn)).toBeUndefined();
    withTuning({ convTile: { rows: 16, groups: 1 } }, () =>
      expect(conv2dFoldedBn(x, f1, [1, 1], 'valid', {}, bn)).toBeUndefined(),
    );
    expect(depthwiseConv2dFoldedBn(x, dwMult, [1, 1], 'same', {}, bn16)).toBeUndefined();
    expect(depthwiseConv2dFoldedBn(x3, dw3, [1, 1], 'same', {}, bn3)).toBeUndefined();
    expect(memory().numTensors).toBe(before);
    for (const t of [x, f3, f1, dwMult, x3, dw3]) t.dispose();
    for (const b of [bn, bn16, bn3]) disposeBn(b);
  });

  it('checks its arguments as the convs do', () => {
    const x = randomUniform([1, 4, 4, 8], -1, 1, { seed: 1 });
    const f = randomUniform([1, 1, 6, 8], -1, 1, { seed: 2 });
    const bn = randomBn(8, 3, true, true);
    expect(() => conv2dFoldedBn(x, f, [1, 1], 'valid', {}, bn)).toThrow(ShapeError);
    expect(() => depthwiseConv2dFoldedBn(x, f, [1, 1], 'valid', {}, bn)).toThrow(ShapeError);
    for (const t of [x, f]) t.dispose();
    disposeBn(bn);
  });

  it('graph fusion runs the chains whose kernels fold their batch norm with no fold dispatch, as the unfused graph computes', async () => {
    setSeed(5);
    const inp = input({ shape: [10, 9, 16] });
    let h = new Conv2D({ filters: 32, kernelSize: 1, useBias: false }).apply(inp);
    h = new BatchNormalization({ epsilon: 1e-3 }).apply(h);
    h = new ReLU({ maxValue: 6 }).apply(h);
    h = new DepthwiseConv2D({ kernelSize: 3, padding: 'same', useBias: false }).apply(h);
    h = new BatchNormalization({}).apply(h);
    h = new ReLU({ maxValue: 6 }).apply(h);
    h = new Conv2D({ filters: 8, kernelSize: 1, useBias: false }).apply(h);
    h = new BatchNormalization({}).apply(h);
    const m = model({ inputs: inp, outputs: h });
    const stats = randomBnStats(m.layers);
    const xs = randomUniform([3, 10, 9, 16], -1, 1, { seed: 9 });
    const before = memory().numTensors;
    const p = await profile(() => m.apply(xs, { training: false }) as Tensor);
    const got = { kernels: p.kernels.map((k) => k.kernel.split(' ')[0]), data: await p.result.data() };
    p.result.dispose();
    // On lavapipe the expansion and the depthwise conv run fused (expand_dw_ws, which takes folded
    // weights: two folds) and the projection folds its batch norm itself; elsewhere the depthwise
    // strip kernel folds its own and the two 1x1 convs take folded weights.
    const folds = p.kernels.filter((k) => k.kernel.startsWith('fold_bn')).reduce((a, k) => a + k.calls, 0);
    expect(folds).toBe(2);
    if (software) expect(got.kernels).toContain('conv2d_pointwise_ws');
    else expect(got.kernels).toContain('depthwise_strip');
    expect(memory().numTensors).toBe(before);
    setGraphFusion(false);
    const y = m.apply(xs, { training: false }) as Tensor;
    expectClose(got.data, await y.data(), { atol: 1e-4, rtol: 1e-4 });
    y.dispose();
    for (const t of [xs, ...stats]) t.dispose();
    m.dispose();
  });
});
