import { afterEach, describe, expect, it } from 'vitest';
import {
  Add,
  BatchNormalization,
  Conv2D,
  DepthwiseConv2D,
  input,
  memory,
  model,
  ReLU,
  randomUniform,
  type SymbolicTensor,
  setGraphFusion,
  setSeed,
  type Tensor,
  valueAndGrad,
} from '../src/index.js';
import { deviceFacts } from '../src/tensor/device-info.js';
import { expectClose } from './helpers.js';
import { dispatchedKernels, randomBnStats } from './kernel-helpers.js';

// Graph fusion's residual: a conv -> batch norm chain whose output only an Add reads runs with the
// Add (src/nn/fusion.ts, runChain): on lavapipe the weight-stationary pointwise kernels add the
// residual in their epilogue (no elementwise dispatch), elsewhere the Add layer runs after the
// chain. Either way the model computes what the unfused graph computes.
const software = deviceFacts().fixedSubgroupLanes > 0 && deviceFacts().adapterClass === 'software';

afterEach(() => setGraphFusion(true));

/** An inverted-residual-like block: expand 1x1 -> ReLU6, project 1x1 -> BN, Add(x, projection). */
function block(x: SymbolicTensor, cin: number, ce: number, swap: boolean): SymbolicTensor {
  let h = new Conv2D({ filters: ce, kernelSize: 1, useBias: false }).apply(x);
  h = new BatchNormalization({}).apply(h);
  h = new ReLU({ maxValue: 6 }).apply(h);
  h = new Conv2D({ filters: cin, kernelSize: 1, useBias: false }).apply(h);
  h = new BatchNormalization({ epsilon: 1e-3 }).apply(h);
  return new Add({}).apply(swap ? [h, x] : [x, h]) as SymbolicTensor;
}

async function compareWithUnfused(m: ReturnType<typeof model>, xs: Tensor): Promise<string[]> {
  const before = memory().numTensors;
  const got = await dispatchedKernels(() => m.apply(xs, { training: false }) as Tensor);
  expect(memory().numTensors).toBe(before);
  setGraphFusion(false);
  const y = m.apply(xs, { training: false }) as Tensor;
  expectClose(got.data, await y.data(), { atol: 1e-4, rtol: 1e-4 });
  y.dispose();
  setGraphFusion(true);
  return got.kernels;
}

describe('residual adds run with the chain before them', () => {
  it.each([
    [16, 48, false],
    [24, 192, true], // a projection from Cin > 144: the weight-stationary matmul
  ])(
    'Cin %i expanded to %i (Add inputs swapped: %s): no add dispatch on lavapipe, as unfused',
    async (cin, ce, swap) => {
      setSeed(2);
      const x = input({ shape: [12, 11, cin] });
      const out = block(block(x, cin, ce, swap), cin, ce, !swap);
      const m = model({ inputs: x, outputs: out });
      const stats = randomBnStats(m.layers);
      const xs = randomUniform([3, 12, 11, cin], -1, 1, { seed: 4 });
      const kernels = await compareWithUnfused(m, xs);
      const adds = kernels.filter((k) => k === 'elementwise' || k.startsWith('binary')).length;
      if (software) expect(adds).toBe(0);
      for (const t of [xs, ...stats]) t.dispose();
      m.dispose();
    },
  );

  it('adds after the chain where its kernel cannot (a depthwise chain), and where the other input comes later', async () => {
    setSeed(3);
    const x = input({ shape: [9, 10, 8] });
    // Depthwise -> BN, then Add with x: the strip kernel folds the batch norm but adds no residual.
    let d = new DepthwiseConv2D({ kernelSize: 3, padding: 'same', useBias: false }).apply(x);
    d = new BatchNormalization({}).apply(d);
    const s1 = new Add({}).apply([x, d]) as SymbolicTensor;
    // A chain whose Add partner is computed after it in graph order: the Add runs on its own.
    let p = new Conv2D({ filters: 8, kernelSize: 1, useBias: false }).apply(s1);
    p = new BatchNormalization({}).apply(p);
    const q = new Conv2D({ filters: 8, kernelSize: 1 }).apply(s1);
    const s2 = new Add({}).apply([p, q]) as SymbolicTensor;
    const m = model({ inputs: x, outputs: s2 });
    const stats = randomBnStats(m.layers);
    const xs = randomUniform([2, 9, 10, 8], -1, 1, { seed: 5 });
    await compareWithUnfused(m, xs);
    for (const t of [xs, ...stats]) t.dispose();
    m.dispose();
  });

  it('trains through the fused residual as through the unfused graph (the tape takes the Add layer)', async () => {
    setSeed(4);
    const x = input({ shape: [6, 7, 8] });
    const m = model({ inputs: x, outputs: block(x, 8, 24, false) });
    const stats = randomBnStats(m.layers);
    const xs = randomUniform([2, 6, 7, 8], -1, 1, { seed: 6 });
    const grads = async () => {
      const f = valueAndGrad((inp: Tensor) => (m.apply(inp, { training: false }) as Tensor).square().sum());
      const { value, grad } = f(xs);
      const out = [await value.data(), await grad.data()];
      value.dispose();
      grad.dispose();
      return out;
    };
    const [v1, g1] = await grads();
    setGraphFusion(false);
    const [v2, g2] = await grads();
    expectClose(v1, v2, { atol: 1e-3, rtol: 1e-4 });
    expectClose(g1, g2, { atol: 1e-4, rtol: 1e-4 });
    for (const t of [xs, ...stats]) t.dispose();
    m.dispose();
  });
});
