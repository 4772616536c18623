import { afterEach, describe, expect, it } from 'vitest';
import {
  BatchNormalization,
  Conv2D,
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
    const p = await profile(() => m.apply(xs, { training: false }) as Tensor);
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
