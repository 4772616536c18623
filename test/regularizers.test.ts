import { describe, expect, it } from 'vitest';
import { fromKerasLayer, toKerasLayerConfig } from '../src/io/keras-layers.js';
import {
  Conv1D,
  Conv2D,
  Conv2DTranspose,
  Dense,
  DepthwiseConv2D,
  Embedding,
  getRegularizer,
  type LogSink,
  l1,
  l1l2,
  l2,
  layerFromConfig,
  memory,
  regularizers,
  SeparableConv2D,
  Sequential,
  SGD,
  setSeed,
  type Tensor,
  tensor,
  tidy,
} from '../src/node.js';
import { checkGrad } from './gradcheck.js';
import { randArray, rng } from './helpers.js';

const quiet: LogSink = { isTTY: false, write: () => {} };
const l1Of = (x: ArrayLike<number>) => Array.from(x).reduce((s, v) => s + Math.abs(v), 0);
const l2Of = (x: ArrayLike<number>) => Array.from(x).reduce((s, v) => s + v * v, 0);

describe('regularizers', () => {
  it('compute l1 * sum|x| + l2 * sum x^2, with Keras defaults 0.01 and Keras configs', async () => {
    const data = randArray(37, rng(1));
    const x = tensor(data, [37]);
    const cases: Array<[ReturnType<typeof l1>, number]> = [
      [l1({ l1: 0.3 }), 0.3 * l1Of(data)],
      [l2({ l2: 0.2 }), 0.2 * l2Of(data)],
      [l1l2({ l1: 0.1, l2: 0.5 }), 0.1 * l1Of(data) + 0.5 * l2Of(data)],
      [getRegularizer('l1')!, 0.01 * l1Of(data)],
      [getRegularizer('L2')!, 0.01 * l2Of(data)],
      [getRegularizer('l1_l2')!, 0.01 * l1Of(data) + 0.01 * l2Of(data)],
      [getRegularizer({ class_name: 'L1L2', config: { l1: 0, l2: 0.4 } } as never)!, 0.4 * l2Of(data)],
      [regularizers.l2(), 0.01 * l2Of(data)],
    ];
    for (const [r, want] of cases) {
      const p = r.apply(x);
      expect((await p.data())[0]).toBeCloseTo(want, 5);
      p.dispose();
      expect(getRegularizer(JSON.parse(JSON.stringify(r.getConfig())))!.getConfig()).toEqual(r.getConfig());
    }
    expect(l1().getConfig()).toEqual({ className: 'L1', config: { l1: 0.01 } });
    x.dispose();
  });

  it('have the gradient of the penalty (finite differences)', async () => {
    // Away from 0, where |x| is not differentiable.
    const data = Array.from(randArray(11, rng(2)), (v) => (v >= 0 ? v + 0.1 : v - 0.1));
    const r = l1l2({ l1: 0.3, l2: 0.7 });
    await checkGrad({
      f: (x) => r.apply(x),
      oracle: ([x]) => [0.3 * l1Of(x) + 0.7 * l2Of(x)],
      inputs: [{ shape: [11], data }],
      label: 'l1l2',
    });
  });

  it('layers sum their weights penalties; configs round-trip; frozen layers add none', async () => {
    setSeed(3);
    const layers = [
      [
        new Dense({
          units: 3,
          kernelRegularizer: l2({ l2: 0.1 }),
          biasRegularizer: 'l1',
          biasInitializer: 'ones',
        }),
        [2, 4],
      ],
      [new Conv2D({ filters: 2, kernelSize: 2, kernelRegularizer: 'l2' }), [1, 4, 4, 2]],
      [new DepthwiseConv2D({ kernelSize: 2, depthwiseRegularizer: l1({ l1: 0.2 }) }), [1, 4, 4, 2]],
      [
        new SeparableConv2D({
          filters: 2,
          kernelSize: 2,
          depthwiseRegularizer: 'l1',
          pointwiseRegularizer: 'l2',
        }),
        [1, 4, 4, 2],
      ],
      [new Conv2DTranspose({ filters: 2, kernelSize: 2, kernelRegularizer: 'l1l2' }), [1, 3, 3, 2]],
      [new Conv1D({ filters: 2, kernelSize: 2, kernelRegularizer: 'l2', biasRegularizer: 'l2' }), [1, 5, 2]],
      [new Embedding({ inputDim: 5, outputDim: 3, embeddingsRegularizer: l2({ l2: 0.5 }) }), undefined],
    ] as const;
    for (const [layer, shape] of layers) {
      if (shape) layer.build([null, ...shape.slice(1)]);
      else layer.build([null, 2]);
      let want = 0;
      const c = layer.getConfig() as Record<string, unknown>;
      for (const e of layer.weightEntries) {
        const key = {
          kernel: 'kernelRegularizer',
          depthwise_kernel: layer instanceof SeparableConv2D ? 'kernelRegularizer' : 'kernelRegularizer',
          pointwise_kernel: 'pointwiseRegularizer',
          bias: 'biasRegularizer',
          embeddings: 'embeddingsRegularizer',
        }[e.name];
        const r = key ? getRegularizer(c[key]) : undefined;
        if (!r) continue;
        const v = await e.variable.data();
        want += r.l1 * l1Of(v) + r.l2 * l2Of(v);
      }
      expect(want).toBeGreaterThan(0);
      const p = tidy(() => layer.regularizationLoss()!);
      expect((await p.data())[0]).toBeCloseTo(want, 4);
      p.dispose();
      const again = layerFromConfig({ className: layer.className, config: JSON.parse(JSON.stringify(c)) });
      expect(again.getConfig()).toEqual({ ...c, name: again.name });
      layer.trainable = false;
      expect(layer.regularizationLoss()).toBeUndefined();
      layer.dispose();
      again.dispose();
    }
    expect(new Dense({ units: 2 }).getConfig()).not.toHaveProperty('kernelRegularizer');
  });

  it('fit and evaluate add the penalty to the loss (Keras 3 compute_loss), nested models included', async () => {
    setSeed(4);
    const before = memory().numTensors;
    const inner = new Sequential([
      new Dense({ inputShape: [3], units: 4, kernelRegularizer: l2({ l2: 0.3 }) }),
    ]);
    const m = new Sequential([inner, new Dense({ units: 1, kernelRegularizer: l1({ l1: 0.2 }) })]);
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'meanSquaredError' });
    const x = tensor(randArray(8 * 3, rng(5)), [8, 3]);
    const y = tensor(randArray(8, rng(6)), [8, 1]);
    const k1 = await inner.layers[0].weights[0].data();
    const k2 = await m.layers[1].weights[0].data();
    const pred = tidy(() => m.apply(x) as Tensor);
    const pd = await pred.data();
    pred.dispose();
    const yd = await y.data();
    let mse = 0;
    for (let i = 0; i < 8; i++) mse += (pd[i] - yd[i]) ** 2 / 8;
    const reg = 0.3 * l2Of(k1) + 0.2 * l1Of(k2);
    expect((await m.evaluate(x, y, { verbose: 0 })).loss).toBeCloseTo(mse + reg, 4);
    const h = await m.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, logSink: quiet });
    expect(h.history.loss[0]).toBeCloseTo(mse + reg, 4);
    // The step follows the penalty's gradient: against the same model without it, one SGD step
    // differs by exactly -lr * 2 * 0.5 * kernel.
    const two = [l2({ l2: 0.5 }), undefined].map((r) => {
      setSeed(9);
      const n = new Sequential([new Dense({ inputShape: [3], units: 2, kernelRegularizer: r })]);
      n.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'meanSquaredError' });
      return n;
    });
    const k0 = await two[0].weights[0].data();
    const y2 = tensor(randArray(16, rng(7)), [8, 2]);
    for (const n of two) await n.fit(x, y2, { epochs: 1, batchSize: 8, shuffle: false, logSink: quiet });
    const [a, b] = await Promise.all(two.map((n) => n.weights[0].data()));
    for (let i = 0; i < a.length; i++) expect(a[i] - b[i]).toBeCloseTo(-0.1 * 2 * 0.5 * k0[i], 5);
    for (const t of [m, ...two, x, y, y2]) t.dispose();
    expect(memory().numTensors).toBe(before);
  });

  it('Keras and TF.js layer configs carry regularizers both ways; unknown ones load without', () => {
    const dense = fromKerasLayer('Dense', {
      name: 'd',
      units: 2,
      kernel_regularizer: {
        module: 'keras.regularizers',
        class_name: 'L2',
        config: { l2: 0.02 },
        registered_name: null,
      },
      bias_regularizer: { class_name: 'L1L2', config: { l1: 0.1, l2: 0 } },
    });
    expect(dense).toEqual({
      ok: {
        className: 'Dense',
        config: expect.objectContaining({
          kernelRegularizer: { className: 'L2', config: { l2: 0.02 } },
          biasRegularizer: { className: 'L1L2', config: { l1: 0.1, l2: 0 } },
        }),
      },
    });
    const layer = layerFromConfig(
      (dense as { ok: { className: string; config: Record<string, unknown> } }).ok,
    );
    const back = toKerasLayerConfig('Dense', layer.getConfig());
    expect(back.kernel_regularizer).toEqual({ class_name: 'L2', config: { l2: 0.02 } });
    expect(back.bias_regularizer).toEqual({ class_name: 'L1L2', config: { l1: 0.1, l2: 0 } });
    const dw = fromKerasLayer('DepthwiseConv2D', {
      name: 'dw',
      kernel_size: [3, 3],
      depthwise_regularizer: { class_name: 'L1', config: { l1: 0.3 } },
    });
    expect((dw as { ok: { config: Record<string, unknown> } }).ok.config.kernelRegularizer).toEqual({
      className: 'L1',
      config: { l1: 0.3 },
    });
    const custom = fromKerasLayer('Conv2D', {
      name: 'c',
      filters: 1,
      kernel_size: 1,
      kernel_regularizer: { class_name: 'OrthogonalRegularizer', config: { factor: 0.01 } },
    });
    expect('ok' in custom && !('kernelRegularizer' in custom.ok.config)).toBe(true);
    expect(toKerasLayerConfig('Conv2D', { kernelSize: [1, 1] }).kernel_regularizer).toBeNull();
    layer.dispose();
  });
});
