import { afterEach, describe, expect, it } from 'vitest';
import {
  BatchNormalization,
  type CallArgs,
  Conv2D,
  Dense,
  DepthwiseConv2D,
  Flatten,
  fill,
  input,
  Layer,
  mean,
  memory,
  model,
  ReLU,
  randomNormal,
  randomUniform,
  setGraphFusion,
  setSeed,
  square,
  type Tensor,
  tensor,
  tidy,
  variableGrads,
  ZeroPadding2D,
} from '../src/index.js';
import { foldBatchNorm } from '../src/kernels/fold.js';
import { findChains } from '../src/nn/fusion.js';
import { copyOf } from '../src/tensor/tensor.js';
import { expectClose, randArray, rng } from './helpers.js';
import { randomizeBatchNorms } from './model-helpers.js';

afterEach(() => setGraphFusion(true));

/** MobileNetV2-like blocks: every chain kind the fusion knows, plus a residual add. */
function net(opts: { frozenBn?: boolean } = {}) {
  setSeed(5);
  const x = input({ shape: [9, 9, 3] });
  let h = new Conv2D({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(x);
  h = new BatchNormalization({ epsilon: 1e-3 }).apply(h);
  h = new ReLU({ maxValue: 6 }).apply(h);
  h = new ZeroPadding2D({
    padding: [
      [0, 1],
      [0, 1],
    ],
  }).apply(h);
  h = new DepthwiseConv2D({ kernelSize: 3, strides: 2, padding: 'valid', useBias: false }).apply(h);
  h = new BatchNormalization({}).apply(h);
  h = new ReLU({}).apply(h);
  const branch = new Conv2D({ filters: 8, kernelSize: 1, padding: 'same' }).apply(h); // with bias
  const bn = new BatchNormalization({ center: false }).apply(branch);
  h = new Conv2D({ filters: 8, kernelSize: 1, padding: 'same', activation: 'relu' }).apply(bn);
  const out = new Dense({ units: 4 }).apply(new Flatten({}).apply(h));
  const m = model({ inputs: x, outputs: out });
  for (const l of randomizeBatchNorms(m, 0.3)) if (opts.frozenBn) l.trainable = false;
  return m;
}

/** Runs fn, then puts every weight of m back (training mode updates the moving statistics). */
async function restoringWeights<T>(m: ReturnType<typeof net>, fn: () => Promise<T>): Promise<T> {
  const saved = m.weights.map((w) => copyOf(w));
  try {
    return await fn();
  } finally {
    m.weights.forEach((w, i) => {
      w.assign(saved[i]);
    });
    for (const s of saved) s.dispose();
  }
}

/** The loss mean(square(m(x))) and its gradient per trainable weight (by name), fusion on or off. */
async function lossAndGrads(
  m: ReturnType<typeof net>,
  x: Tensor,
  training: boolean,
  fusion: boolean,
): Promise<Record<string, Float32Array>> {
  setGraphFusion(fusion);
  return restoringWeights(m, async () => {
    const vars = m.trainableWeights;
    const { value, grads: g } = variableGrads(() => mean(square(m.apply(x, { training }) as Tensor)), vars);
    const out: Record<string, Float32Array> = { loss: (await value.data()) as Float32Array };
    for (const v of vars) out[v.name!] = (await g.get(v)!.data()) as Float32Array;
    value.dispose();
    for (const t of g.values()) t.dispose();
    return out;
  });
}

describe('graph fusion', () => {
  it('finds pad -> conv -> batch norm -> ReLU chains and leaves a conv with its own activation alone', () => {
    const m = net();
    const f = m as unknown as {
      nodes: Parameters<typeof findChains>[0];
      outputs: Parameters<typeof findChains>[1];
    };
    const chains = [...findChains(f.nodes, f.outputs).values()].map(
      (c) => c.nodes.map((n) => n.layer.className).join('>') + `:${c.activation}`,
    );
    expect(chains).toEqual([
      'Conv2D>BatchNormalization>ReLU:relu6',
      'ZeroPadding2D>DepthwiseConv2D>BatchNormalization>ReLU:relu',
      'Conv2D>BatchNormalization:linear',
    ]);
  });

  it('leaves nothing behind outside tidy: only the output is alive after apply', async () => {
    const m = net();
    const x = randomUniform([2, 9, 9, 3], -1, 1, { seed: 6 });
    const base = memory().numTensors;
    const y = m.apply(x, { training: false }) as Tensor;
    expect(memory().numTensors).toBe(base + 1);
    y.dispose();
    m.dispose();
    x.dispose();
  });

  it('inference: fused and unfused outputs agree', async () => {
    const m = net();
    const x = randomUniform([3, 9, 9, 3], -1, 1, { seed: 7 });
    const run = async (on: boolean) => {
      setGraphFusion(on);
      const y = tidy(() => m.apply(x, { training: false }) as Tensor);
      const d = await y.data();
      y.dispose();
      return d;
    };
    const [a, b] = [await run(false), await run(true)];
    expectClose(b, a, { atol: 1e-5, rtol: 1e-5 });
    m.dispose();
    x.dispose();
  });

  it('training mode: trainable batch norm (batch statistics, activation in its pass) and frozen batch norm (folded) match the unfused graph', async () => {
    for (const frozenBn of [false, true]) {
      const m = net({ frozenBn });
      const x = randomUniform([4, 9, 9, 3], -1, 1, { seed: 8 });
      const outs: Float32Array[] = [];
      const moving: Float32Array[][] = [];
      for (const on of [false, true]) {
        setGraphFusion(on);
        // Moving statistics change in training mode; restore them between runs.
        await restoringWeights(m, async () => {
          const y = tidy(() => m.apply(x, { training: true }) as Tensor);
          outs.push((await y.data()) as Float32Array);
          moving.push(
            (await Promise.all(
              m.weights.filter((w) => w.name?.includes('moving')).map((w) => w.data()),
            )) as Float32Array[],
          );
          y.dispose();
        });
      }
      expectClose(outs[1], outs[0], { atol: 1e-5, rtol: 1e-5 });
      expect(moving[1].length).toBe(6);
      moving[1].forEach((v, i) => {
        expectClose(v, moving[0][i], { atol: 1e-6, rtol: 1e-5 });
      });
      m.dispose();
      x.dispose();
    }
  });

  it('training-mode gradients (batch statistics, fused ReLU6 mask) match the unfused graph', async () => {
    const m = net();
    // beta near 6: a good part of each ReLU6's inputs is above 6, so the mask's upper edge counts.
    for (const l of m.layers) if (l instanceof BatchNormalization) l.beta?.assign(fill([l.beta.size], 5.5));
    const x = randomUniform([4, 9, 9, 3], -1, 1, { seed: 12 });
    const [a, b] = [await lossAndGrads(m, x, true, false), await lossAndGrads(m, x, true, true)];
    expect(Object.keys(b).length).toBeGreaterThan(8);
    for (const k of Object.keys(a)) expectClose(b[k], a[k], { atol: 1e-5, rtol: 1e-4 }, k);
    m.dispose();
    x.dispose();
  });

  it('gradients through fused chains (conv kernels, gamma, beta, bias) match the unfused graph', async () => {
    // Inference-mode batch norm with trainable gamma and beta (as in fine-tuning with frozen statistics).
    const m = net();
    const x = randomUniform([2, 9, 9, 3], -1, 1, { seed: 9 });
    const [a, b] = [await lossAndGrads(m, x, false, false), await lossAndGrads(m, x, false, true)];
    expect(Object.keys(b).length).toBeGreaterThan(8);
    for (const k of Object.keys(a)) expectClose(b[k], a[k], { atol: 1e-5, rtol: 1e-4 });
    m.dispose();
    x.dispose();
  });

  it('a frozen base under a gradient tape takes the folded path and the head gradients match', async () => {
    const m = net();
    for (const l of m.layers) if (!(l instanceof Dense)) l.trainable = false;
    const x = randomUniform([2, 9, 9, 3], -1, 1, { seed: 10 });
    const grads = async (on: boolean) => {
      setGraphFusion(on);
      const { value, grads: g } = variableGrads(
        () => mean(square(m.apply(x, { training: true }) as Tensor)),
        m.trainableWeights,
      );
      const out = [await value.data(), ...(await Promise.all([...g.values()].map((t) => t.data())))];
      value.dispose();
      for (const t of g.values()) t.dispose();
      return out;
    };
    const [a, b] = [await grads(false), await grads(true)];
    expect(a.length).toBe(3); // loss, Dense kernel, Dense bias
    a.forEach((v, i) => {
      expectClose(b[i], v, { atol: 1e-5, rtol: 1e-4 });
    });
    m.dispose();
    x.dispose();
  });
});

/** A layer that notes how many tensors are alive when it runs. */
class Probe extends Layer {
  live = 0;
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    this.live = memory().numTensors;
    return Array.isArray(inputs) ? inputs[0] : inputs;
  }
}

describe('functional models free intermediates early', () => {
  it('only a few activations are alive at the end of a deep chain, in inference and for a frozen chain under a tape', async () => {
    setSeed(1);
    const x = input({ shape: [16] });
    let h = x;
    const layers = Array.from({ length: 12 }, () => new Dense({ units: 16, activation: 'relu' }));
    for (const l of layers) h = l.apply(h);
    const probe = new Probe({});
    const m = model({ inputs: x, outputs: new Dense({ units: 2 }).apply(probe.apply(h)) });
    const xs = randomNormal([5, 16]);
    const base = memory().numTensors;
    tidy(() => {
      m.apply(xs);
    });
    expect(probe.live - base).toBeLessThanOrEqual(2);
    // Under a tape with only the last layer trainable, the frozen part is not recorded and is freed.
    for (const l of layers) l.trainable = false;
    const last = m.trainableWeights;
    const r = variableGrads(() => mean(m.apply(xs) as Tensor), last);
    expect(probe.live - base).toBeLessThanOrEqual(3);
    r.value.dispose();
    for (const g of r.grads.values()) g.dispose();
    // With every layer trainable the tape must keep them all.
    for (const l of layers) l.trainable = true;
    const r2 = variableGrads(() => mean(m.apply(xs) as Tensor), m.trainableWeights);
    expect(probe.live - base).toBeGreaterThanOrEqual(12);
    r2.value.dispose();
    for (const g of r2.grads.values()) g.dispose();
    expect(memory().numTensors).toBe(base);
    m.dispose();
    xs.dispose();
  });
});

describe('foldBatchNorm kernel', () => {
  it('matches the CPU formula for conv and depthwise filters, with and without gamma, beta, bias', async () => {
    const r = rng(3);
    // The output channel is the filter's fastest-varying index: cout for conv filters
    // [kh, kw, cin, cout], cin * multiplier for depthwise filters [kh, kw, cin, multiplier].
    // 12 and 16 channels take the quad kernel, the others the element kernel.
    for (const [shape, channels, withGamma, withBeta, withBias] of [
      [[3, 3, 5, 7], 7, true, true, false],
      [[1, 1, 13, 1], 13, false, true, true],
      [[3, 3, 6, 2], 12, true, false, true],
      [[2, 1, 1, 3], 3, false, false, false],
      // Channels a multiple of 4 (the quad kernel); 300 rows of 64 quads: lanes walk several rows.
      [[3, 3, 8, 16], 16, false, false, false],
      [[1, 1, 300, 256], 256, true, true, true],
    ] as Array<[number[], number, boolean, boolean, boolean]>) {
      const n = shape.reduce((a, b) => a * b, 1);
      const f = randArray(n, r);
      const b = randArray(channels, r);
      const mu = randArray(channels, r);
      const v = randArray(channels, r, 0.1, 2);
      const g = randArray(channels, r, 0.5, 1.5);
      const be = randArray(channels, r);
      const eps = 1e-3;
      const out = foldBatchNorm({
        filter: tensor(f, [...shape]),
        bias: withBias ? tensor(b) : undefined,
        mean: tensor(mu),
        variance: tensor(v),
        gamma: withGamma ? tensor(g) : undefined,
        beta: withBeta ? tensor(be) : undefined,
        epsilon: eps,
      })!;
      const s = Array.from({ length: channels }, (_, k) => (withGamma ? g[k] : 1) / Math.sqrt(v[k] + eps));
      expectClose(
        await out.filter.data(),
        Array.from(f, (x, i) => x * s[i % channels]),
        { atol: 1e-6, rtol: 1e-5 },
      );
      expectClose(
        await out.bias.data(),
        s.map((sk, k) => ((withBias ? b[k] : 0) - mu[k]) * sk + (withBeta ? be[k] : 0)),
        { atol: 1e-6, rtol: 1e-5 },
      );
    }
  });
});

describe('evenSlices (micro-batches of functional models)', () => {
  it('splits a batch into the fewest near-equal parts of at most maxLen', async () => {
    const { evenSlices } = await import('../src/nn/functional.js');
    expect(evenSlices(64, 37)).toEqual([
      [0, 32],
      [32, 32],
    ]);
    expect(evenSlices(10, 10)).toEqual([[0, 10]]);
    expect(evenSlices(10, 3)).toEqual([
      [0, 3],
      [3, 3],
      [6, 3],
      [9, 1],
    ]);
    expect(evenSlices(5, 0)).toHaveLength(5);
  });
});

describe('functional models run as micro-batches', () => {
  /** Makes `m` run its batches as slices of at most `len` samples (as a batch too big for one binding). */
  const sliced = (m: ReturnType<typeof net>, len: number) => {
    const f = m as unknown as { microBatches: (given: Tensor[]) => Array<[number, number]> };
    const own = f.microBatches;
    f.microBatches = (given) => {
      const n = given[0].shape[0];
      return Array.from({ length: Math.ceil(n / len) }, (_, i) => [i * len, Math.min(len, n - i * len)]);
    };
    return () => {
      f.microBatches = own;
    };
  };

  it('inference: the output of the whole batch, nothing left behind', async () => {
    const m = net();
    const x = randomUniform([5, 9, 9, 3], -1, 1, { seed: 11 });
    const whole = tidy(() => m.apply(x, { training: false }) as Tensor);
    const restore = sliced(m, 2); // 3 slices
    const base = memory().numTensors;
    const y = m.apply(x, { training: false }) as Tensor;
    expect(memory().numTensors).toBe(base + 1);
    expectClose(await y.data(), await whole.data(), { atol: 1e-5, rtol: 1e-5 });
    restore();
    for (const t of [y, whole, x]) t.dispose();
    m.dispose();
  });

  it('under a tape, with a frozen base and with a gradient through the frozen (folded) convs: the gradients of the whole batch, no leak', async () => {
    for (const firstTrainable of [false, true]) {
      const m = net();
      m.layers.forEach((l, i) => {
        // The head, and with firstTrainable the first conv: its gradient crosses every folded conv.
        l.trainable = l instanceof Dense || (firstTrainable && i === 1);
      });
      const x = randomUniform([5, 9, 9, 3], -1, 1, { seed: 12 });
      const grads = async () => {
        const { value, grads: g } = variableGrads(
          () => mean(square(m.apply(x, { training: true }) as Tensor)),
          m.trainableWeights,
        );
        const out = [await value.data(), ...(await Promise.all([...g.values()].map((t) => t.data())))];
        value.dispose();
        for (const t of g.values()) t.dispose();
        return out;
      };
      const a = await grads();
      const restore = sliced(m, 2);
      const base = memory().numTensors;
      const b = await grads();
      expect(memory().numTensors).toBe(base);
      restore();
      expect(b.length).toBe(firstTrainable ? 4 : 3);
      a.forEach((v, i) => {
        expectClose(b[i], v, { atol: 1e-5, rtol: 1e-4 });
      });
      m.dispose();
      x.dispose();
    }
  });
});
