import { describe, expect, it } from 'vitest';
import {
  Activation,
  applyActivation,
  ELU,
  gelu,
  hardSigmoid,
  hardSwish,
  LeakyReLU,
  layerFromConfig,
  memory,
  mish,
  selu,
  silu,
  softsign,
  type Tensor,
  tensor,
  valueAndGrads,
} from '../src/index.js';
import { activationGrad } from '../src/kernels/activations-ext.js';
import { sum } from '../src/kernels/reduce.js';
import { checkGrad } from './gradcheck.js';
import { expectClose, randArray, rng } from './helpers.js';
import { ACTIVATION_REFS } from './oracle/activations-ext.js';

const OPS: Record<string, (x: Tensor) => Tensor> = {
  gelu: (x) => gelu(x),
  geluTanh: (x) => gelu(x, true),
  silu,
  selu,
  softsign,
  hardSigmoid,
  hardSwish,
  mish,
};

// Values over the interesting range, the kinks of the hard functions, tiny and large magnitudes.
function inputs(): Float32Array {
  const r = rng(7);
  const edge = [0, -0, 1e-30, -1e-30, 1e-6, -1e-6, -3, 3, -2.9999, 2.9999, 20, -20, 60, -60, 100, -100];
  return Float32Array.from([...edge, ...randArray(999, r, -8, 8)]);
}

describe('activations (forward)', () => {
  for (const [name, f] of Object.entries(OPS)) {
    it(`${name} matches the float64 oracle, off the vec4 grid too`, async () => {
      const x = inputs();
      const before = memory().numTensors;
      const t = tensor(x, [x.length]);
      const y = f(t);
      const got = await y.data();
      t.dispose();
      y.dispose();
      expect(memory().numTensors).toBe(before);
      const ref = Array.from(x, ACTIVATION_REFS[name]);
      expectClose(got, ref, { atol: 2e-7, rtol: 2e-6 }, name);
    });
  }

  it('keeps NaN, and every op of the family is float32 only', async () => {
    const t = tensor([Number.NaN, 1], [2]);
    for (const [name, f] of Object.entries(OPS)) {
      const y = f(t);
      const d = await y.data();
      y.dispose();
      expect(Number.isNaN(d[0]), name).toBe(true);
    }
    t.dispose();
  });
});

describe('activations (gradients)', () => {
  const r = rng(11);
  // Avoid the kinks of hardSigmoid/hardSwish (±3) where finite differences straddle.
  const data = randArray(23, r, -5, 5).map((v) => (Math.abs(Math.abs(v) - 3) < 0.01 ? v + 0.1 : v));
  for (const [name, f] of Object.entries(OPS)) {
    it(`${name}: autograd matches finite differences of the oracle`, async () => {
      await checkGrad({
        f: (x) => f(x),
        oracle: ([x]) => Array.from(x, ACTIVATION_REFS[name]),
        inputs: [{ shape: [23], data }],
        label: name,
      });
    });
  }

  it('activationGrad is one fused pass of dy * f(x) and is not differentiable again', async () => {
    const x = tensor([0.5, -1.5, 2], [3]);
    const dy = tensor([1, 2, 3], [3]);
    const g = activationGrad(dy, x, 'silu');
    const d = await g.data();
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    const ref = [0.5, -1.5, 2].map((v, i) => (i + 1) * s(v) * (1 + v * (1 - s(v))));
    expectClose(d, ref, { atol: 1e-6, rtol: 1e-5 });
    expect(() => valueAndGrads((a: Tensor) => sum(activationGrad(dy, a, 'silu')))([x])).toThrow(
      /activationGrad/,
    );
    for (const t of [g, x, dy]) t.dispose();
  });
});

describe('activations by name and as layers', () => {
  const x = Float32Array.from([-4, -1, -0.25, 0, 0.5, 2, 5]);
  const NAMES: Record<string, string> = {
    gelu: 'gelu',
    gelu_new: 'geluTanh',
    silu: 'silu',
    swish: 'silu',
    elu: 'elu',
    selu: 'selu',
    leakyRelu: 'leakyRelu',
    leaky_relu: 'leakyRelu',
    softplus: 'softplus',
    softsign: 'softsign',
    hardSigmoid: 'hardSigmoid',
    hard_sigmoid: 'hardSigmoid',
    hardSwish: 'hardSwish',
    hard_swish: 'hardSwish',
    hard_silu: 'hardSwish',
    mish: 'mish',
  };
  for (const [name, ref] of Object.entries(NAMES)) {
    it(`'${name}' through applyActivation and the Activation layer`, async () => {
      const t = tensor(x, [1, 7]);
      const a = applyActivation(name as never, t);
      const layer = new Activation({ activation: name as never });
      const b = layer.apply(t);
      const expected = Array.from(x, ACTIVATION_REFS[ref]);
      expectClose(await a.data(), expected, { atol: 1e-6, rtol: 1e-5 }, name);
      expectClose(await b.data(), expected, { atol: 1e-6, rtol: 1e-5 }, name);
      for (const u of [t, a, b]) u.dispose();
    });
  }

  it('ELU(alpha) and LeakyReLU(alpha) layers, and their configs', async () => {
    const t = tensor(x, [7]);
    const e = new ELU({ alpha: 0.5 });
    const l = new LeakyReLU({ alpha: 0.1 });
    const ye = e.apply(t);
    const yl = l.apply(t);
    const ye1 = new ELU().apply(t);
    expectClose(
      await ye.data(),
      Array.from(x, (v) => (v > 0 ? v : 0.5 * Math.expm1(v))),
      {},
      'ELU',
    );
    expectClose(await ye1.data(), Array.from(x, ACTIVATION_REFS.elu), {}, 'ELU 1');
    expectClose(
      await yl.data(),
      Array.from(x, (v) => (v >= 0 ? v : 0.1 * v)),
      {},
      'LeakyReLU',
    );
    expect(new LeakyReLU().alpha).toBe(0.3);
    const e2 = layerFromConfig({ className: 'ELU', config: e.getConfig() }) as ELU;
    expect(e2.alpha).toBe(0.5);
    const l2 = layerFromConfig({ className: 'LeakyReLU', config: l.getConfig() }) as LeakyReLU;
    expect(l2.alpha).toBe(0.1);
    for (const u of [t, ye, yl, ye1]) u.dispose();
  });
});
