import { afterEach, describe, expect, it } from 'vitest';
import {
  BatchNormalization,
  Conv2D,
  DepthwiseConv2D,
  getDevice,
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
  type Variable,
} from '../src/index.js';
import { setTuning } from '../src/kernels/tuning.js';
import { deviceFacts } from '../src/tensor/device-info.js';
import { expectClose, randArray, rng } from './helpers.js';

afterEach(() => setGraphFusion(true));

/**
 * A functional model whose activations of a whole batch exceed one storage binding runs on
 * micro-batches (Functional.apply); its batch norms are then folded into the convs once for all
 * slices (the FoldCache of fusion.ts), not once per slice.
 */
describe('graph fusion on micro-batches', () => {
  it('folds each batch norm once for all slices, matching the unfused graph', async (ctx) => {
    const device = await getDevice();
    const hw = 16;
    const wide = 1024; // 1 MiB of activation per sample
    const perSample = hw * hw * wide * 4;
    const limit = device.limits.maxStorageBufferBindingSize;
    if (limit > 256 * 2 ** 20) ctx.skip(); // too many samples to run here
    const n = Math.floor(limit / perSample) + 3; // two slices
    setSeed(3);
    const x = input({ shape: [hw, hw, 4] });
    let h = new Conv2D({ filters: wide, kernelSize: 1, useBias: false }).apply(x);
    h = new BatchNormalization({ epsilon: 1e-3 }).apply(h);
    h = new ReLU({ maxValue: 6 }).apply(h);
    h = new Conv2D({ filters: 4, kernelSize: 1 }).apply(h);
    h = new BatchNormalization({}).apply(h);
    const m = model({ inputs: x, outputs: h });
    const given: Tensor[] = [];
    for (const l of m.layers) {
      if (!(l instanceof BatchNormalization)) continue;
      const c = l.movingMean!.size;
      const set = (v: Variable | undefined, a: number, lo: number, hi: number) => {
        const t = tensor(randArray(c, rng(c + a), lo, hi));
        v?.assign(t);
        given.push(t);
      };
      set(l.movingMean, 0, -0.5, 0.5);
      set(l.movingVariance, 1, 0.2, 2);
      set(l.gamma, 2, 0.5, 1.5);
      set(l.beta, 3, -0.3, 0.3);
    }
    const xs = randomUniform([n, hw, hw, 4], -1, 1, { seed: 11 });
    const before = memory().numTensors;
    // The tile kernels (no weight-stationary ones), which take folded weights: on lavapipe the
    // weight-stationary kernels fold these batch norms themselves (bn-inline.test.ts).
    setTuning({ convWeightStationary: 'off' });
    const p = await profile(() => m.apply(xs, { training: false }) as Tensor);
    setTuning();
    const fused = await p.result.data();
    p.result.dispose();
    const folds = p.kernels.filter((k) => k.kernel.startsWith('fold_bn')).reduce((a, k) => a + k.calls, 0);
    expect(folds).toBe(2); // two chains, one fold each, though the batch ran as two slices
    expect(memory().numTensors).toBe(before);
    setGraphFusion(false);
    const y = m.apply(xs, { training: false }) as Tensor;
    const plain = await y.data();
    y.dispose();
    expect(fused.length).toBe(n * hw * hw * 4);
    expectClose(fused, plain, { atol: 1e-4, rtol: 1e-4 });
    for (const t of [xs, ...given]) t.dispose();
    m.dispose();
  });
});

/**
 * The batch is split by the activations that exist: a 1x1 -> depthwise pair that runs as one fused
 * dispatch (expand-dw.ts, lavapipe) never writes its expanded activation, so that activation does
 * not force micro-batches (MobileNetV2 at 192x192 ran batch 64 as 2 x 32 for block 1's expansion;
 * one pass measured 7% faster). Where the pair cannot fuse (batch norm on batch statistics), the
 * expansion counts again and the batch is split.
 */
describe('micro-batches sized by the activations fused pairs write', () => {
  it('runs a batch whose expansion exceeds a binding in one fused pass, and splits it in training', async (ctx) => {
    const device = await getDevice();
    if (!deviceFacts().lavapipe) ctx.skip(); // the fused pair is taken on lavapipe only
    const hw = 96;
    const ce = 96; // 3.5 MiB of expansion per sample
    const limit = device.limits.maxStorageBufferBindingSize;
    if (limit > 256 * 2 ** 20) ctx.skip();
    const n = Math.floor(limit / (hw * hw * ce * 4)) + 3; // the expansion alone would need two slices
    setSeed(5);
    const x = input({ shape: [hw, hw, 16] });
    let h = new Conv2D({ filters: ce, kernelSize: 1, useBias: false }).apply(x);
    h = new BatchNormalization({ epsilon: 1e-3 }).apply(h);
    h = new ReLU({ maxValue: 6 }).apply(h);
    h = new DepthwiseConv2D({ kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(h);
    h = new BatchNormalization({ epsilon: 1e-3 }).apply(h);
    h = new ReLU({ maxValue: 6 }).apply(h);
    const m = model({ inputs: x, outputs: h });
    const xs = randomUniform([n, hw, hw, 16], -1, 1, { seed: 12 });
    const before = memory().numTensors;
    const p = await profile(() => m.apply(xs, { training: false }) as Tensor);
    const fused = await p.result.data();
    p.result.dispose();
    const calls = (name: string) =>
      p.kernels.filter((k) => k.kernel.startsWith(name)).reduce((a, k) => a + k.calls, 0);
    expect(calls('expand_dw_ws')).toBe(1); // one pass over the whole batch
    expect(memory().numTensors).toBe(before);
    setGraphFusion(false);
    const y = m.apply(xs, { training: false }) as Tensor;
    const plain = await y.data();
    y.dispose();
    setGraphFusion(true);
    expect(fused.length).toBe(n * (hw / 2) * (hw / 2) * ce);
    expectClose(fused, plain, { atol: 1e-4, rtol: 1e-4 });
    // Training mode: the batch norms use batch statistics, the pair runs as two chains, and the
    // expansion is written, so the batch runs in two slices (two slices of the expand conv).
    const t = await profile(() => m.apply(xs, { training: true }) as Tensor);
    expect(t.result.shape).toEqual([n, hw / 2, hw / 2, ce]);
    t.result.dispose();
    expect(t.kernels.some((k) => k.kernel.startsWith('expand_dw_ws'))).toBe(false);
    const slices = t.kernels
      .filter((k) => k.kernel.startsWith('conv2d_pointwise_ws'))
      .reduce((a, k) => a + k.calls, 0);
    expect(slices).toBe(2);
    expect(memory().numTensors).toBe(before);
    xs.dispose();
    m.dispose();
  });
});
