import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  Adam,
  AveragePooling1D,
  Conv1D,
  Conv2D,
  Conv2DTranspose,
  Dense,
  DepthwiseConv2D,
  GlobalAveragePooling1D,
  GlobalMaxPooling1D,
  GlobalMaxPooling2D,
  type Layer,
  layerFromConfig,
  MaxPooling1D,
  meanSquaredError,
  memory,
  SeparableConv2D,
  Sequential,
  type Tensor,
  tensor,
  tidy,
  UpSampling2D,
  variableGrads,
} from '../src/index.js';
import { conv2d, conv2dBackpropInput } from '../src/kernels/conv.js';
import { depthwiseConv2d } from '../src/kernels/depthwise.js';
import { dilatedConv2d } from '../src/nn/layers/conv-ops.js';
import { checkGrad } from './gradcheck.js';
import { expectClose, randArray, rng } from './helpers.js';
import { conv2dBackpropInputRef } from './oracle/conv.js';
import { dilatedConvRef, samePads } from './oracle/layers.js';

/**
 * Convolution and pooling layers of issue 19 against Keras 3 (test/fixtures/conv-layers.json,
 * scripts/fixtures/conv_layers.py), and the composed ops behind them (dilation by space-to-batch,
 * separable, transposed) against float64 oracles by finite differences.
 */

interface Arr {
  shape: number[];
  data: number[];
}
interface Case {
  x: Arr;
  weights: Record<string, Arr>;
  y: Arr;
}
const fx: { cases: Record<string, Case> } = JSON.parse(
  readFileSync(new URL('./fixtures/conv-layers.json', import.meta.url), 'utf8'),
);

const layers: Record<string, () => Layer> = {
  conv1d_causal_dilated: () =>
    new Conv1D({ filters: 3, kernelSize: 3, padding: 'causal', dilationRate: 2, activation: 'relu' }),
  conv1d_same_strided: () => new Conv1D({ filters: 4, kernelSize: 4, strides: 2, padding: 'same' }),
  conv1d_valid: () => new Conv1D({ filters: 2, kernelSize: 2, useBias: false }),
  conv1d_causal_strided: () => new Conv1D({ filters: 2, kernelSize: 3, strides: 2, padding: 'causal' }),
  conv2d_dilated_same: () =>
    new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'tanh' }),
  conv2d_dilated_valid: () => new Conv2D({ filters: 2, kernelSize: [2, 3], dilationRate: [3, 2] }),
  depthwise_dilated: () =>
    new DepthwiseConv2D({ kernelSize: 3, padding: 'same', dilationRate: [2, 3], depthMultiplier: 2 }),
  separable_same: () =>
    new SeparableConv2D({
      filters: 5,
      kernelSize: 3,
      padding: 'same',
      depthMultiplier: 2,
      activation: 'relu',
    }),
  separable_strided_valid: () => new SeparableConv2D({ filters: 4, kernelSize: [3, 2], strides: 2 }),
  separable_dilated: () =>
    new SeparableConv2D({ filters: 3, kernelSize: 3, padding: 'same', dilationRate: 2 }),
  transpose_same_s2: () =>
    new Conv2DTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'sigmoid' }),
  transpose_valid_s2: () => new Conv2DTranspose({ filters: 2, kernelSize: [3, 4], strides: [2, 3] }),
  transpose_valid_s1: () => new Conv2DTranspose({ filters: 4, kernelSize: 2, useBias: false }),
  global_max_2d: () => new GlobalMaxPooling2D(),
  max_pool_1d_same: () => new MaxPooling1D({ poolSize: 3, strides: 2, padding: 'same' }),
  avg_pool_1d_same: () => new AveragePooling1D({ poolSize: 3, strides: 2, padding: 'same' }),
  avg_pool_1d_valid: () => new AveragePooling1D(),
  global_avg_1d: () => new GlobalAveragePooling1D(),
  global_max_1d: () => new GlobalMaxPooling1D({ keepDims: true }),
  upsampling_bilinear: () => new UpSampling2D({ size: [2, 3], interpolation: 'bilinear' }),
};

describe('convolution and pooling layers match Keras 3', () => {
  for (const [name, make] of Object.entries(layers)) {
    it(name, async () => {
      const before = memory().numTensors;
      const c = fx.cases[name];
      const layer = make();
      const x = tensor(Float32Array.from(c.x.data), c.x.shape);
      tidy(() => layer.apply(x)).dispose();
      // Keras' weights in order (kernel or depthwise, pointwise, bias), whatever their names.
      const ws = Object.values(c.weights);
      expect(layer.weights.map((v) => v.shape)).toEqual(ws.map((w) => w.shape));
      layer.weights.forEach((v, i) => {
        const t = tensor(Float32Array.from(ws[i].data), ws[i].shape);
        v.assign(t);
        t.dispose();
      });
      const y = tidy(() => layer.apply(x));
      expect(y.shape).toEqual(c.y.shape);
      expectClose(await y.data(), c.y.data, { atol: 2e-5, rtol: 1e-4 }, name);
      // The config round trip rebuilds an equal layer.
      const again = layerFromConfig({ className: layer.className, config: layer.getConfig() });
      expect(again.getConfig()).toEqual(layer.getConfig());
      for (const t of [x, y]) t.dispose();
      again.dispose();
      layer.dispose();
      expect(memory().numTensors).toBe(before);
    });
  }
});

const arr = (shape: number[], seed: number) => ({
  shape,
  data: randArray(
    shape.reduce((a, b) => a * b, 1),
    rng(seed),
  ),
});

describe('gradients of the composed convolutions (finite differences of float64 oracles)', () => {
  it('dilated conv2d (space-to-batch), same and valid pads', async () => {
    const x = arr([2, 7, 6, 2], 1);
    const f = arr([3, 2, 2, 3], 2);
    for (const [dil, pads] of [
      [[2, 3], samePads([3, 2], [2, 3])],
      [
        [3, 2],
        [
          [0, 0],
          [0, 0],
        ],
      ],
    ] as const) {
      await checkGrad({
        label: `conv2d dilation ${dil}`,
        f: (a: Tensor, b: Tensor) =>
          dilatedConv2d(a, { filter: b, depthwise: false, dilation: [...dil], pads: pads as never }),
        oracle: ([a, b]) =>
          dilatedConvRef(a, x.shape, b, f.shape, { dilation: [...dil], pads: pads as never }).data,
        inputs: [x, f],
      });
    }
  });

  it('dilated conv2d when the phases need no pad op (odd window, same, sizes divisible by the rate)', async () => {
    const x = arr([1, 8, 6, 2], 21);
    const f = arr([3, 3, 2, 2], 22);
    const pads = samePads([3, 3], [2, 3]);
    await checkGrad({
      label: 'conv2d aligned dilation [2, 3]',
      f: (a: Tensor, b: Tensor) => dilatedConv2d(a, { filter: b, depthwise: false, dilation: [2, 3], pads }),
      oracle: ([a, b]) => dilatedConvRef(a, x.shape, b, f.shape, { dilation: [2, 3], pads }).data,
      inputs: [x, f],
    });
  });

  it('dilated depthwise conv2d and causal dilated conv1d (as height 1)', async () => {
    const x = arr([1, 6, 7, 2], 3);
    const f = arr([2, 3, 2, 2], 4);
    const pads = samePads([2, 3], [2, 2]);
    await checkGrad({
      label: 'depthwise dilation 2',
      f: (a: Tensor, b: Tensor) => dilatedConv2d(a, { filter: b, depthwise: true, dilation: [2, 2], pads }),
      oracle: ([a, b]) =>
        dilatedConvRef(a, x.shape, b, f.shape, { dilation: [2, 2], pads, depthwise: true }).data,
      inputs: [x, f],
    });
    const s = arr([2, 1, 9, 2], 5);
    const k = arr([1, 3, 2, 3], 6);
    const causal: [[number, number], [number, number]] = [
      [0, 0],
      [4, 0],
    ];
    await checkGrad({
      label: 'causal conv1d dilation 2',
      f: (a: Tensor, b: Tensor) =>
        dilatedConv2d(a, { filter: b, depthwise: false, dilation: [1, 2], pads: causal }),
      oracle: ([a, b]) => dilatedConvRef(a, s.shape, b, k.shape, { dilation: [1, 2], pads: causal }).data,
      inputs: [s, k],
    });
  });

  it('separable conv2d (depthwise then 1x1)', async () => {
    const x = arr([2, 5, 5, 2], 7);
    const dk = arr([3, 3, 2, 2], 8);
    const pk = arr([1, 1, 4, 3], 9);
    const pads = samePads([3, 3], [1, 1]);
    await checkGrad({
      label: 'separable',
      f: (a: Tensor, b: Tensor, c: Tensor) => conv2d(depthwiseConv2d(a, b, 1, 'same'), c, 1, 'valid'),
      oracle: ([a, b, c]) => {
        const mid = dilatedConvRef(a, x.shape, b, dk.shape, { pads, depthwise: true });
        return dilatedConvRef(mid.data, mid.shape, c, pk.shape, {
          pads: [
            [0, 0],
            [0, 0],
          ],
        }).data;
      },
      inputs: [x, dk, pk],
    });
  });

  it('Conv2DTranspose: conv2dBackpropInput differentiates w.r.t. its input and its filter', async () => {
    for (const [padding, strides, out] of [
      ['same', [2, 2], [2, 6, 8, 3]],
      ['valid', [2, 3], [1, 7, 11, 3]],
    ] as const) {
      const inShape = [out[0], 3, 4, 2];
      const x = arr(inShape, 10);
      const k = arr([3, 2, 3, 2], 11);
      await checkGrad({
        label: `conv2dBackpropInput ${padding}`,
        f: (a: Tensor, b: Tensor) => conv2dBackpropInput(a, b, out, [...strides], padding),
        oracle: ([a, b]) => conv2dBackpropInputRef(a, b, k.shape, out, [...strides], padding),
        inputs: [x, k],
      });
    }
  });
});

describe('the new layers train', () => {
  it('every weight of a Conv1D / separable / transposed / dilated stack gets a gradient, and fit lowers the loss', async () => {
    const before = memory().numTensors;
    const seq = new Sequential([
      new Conv1D({
        filters: 4,
        kernelSize: 3,
        padding: 'causal',
        dilationRate: 2,
        inputShape: [12, 2],
        seed: 1,
      }),
      new MaxPooling1D({ poolSize: 2 }),
      new Conv1D({ filters: 3, kernelSize: 2, strides: 2, padding: 'same', activation: 'relu', seed: 2 }),
      new GlobalAveragePooling1D(),
      new Dense({ units: 2, seed: 3 }),
    ]);
    const img = new Sequential([
      new SeparableConv2D({ filters: 4, kernelSize: 3, padding: 'same', inputShape: [6, 6, 2], seed: 4 }),
      new Conv2DTranspose({ filters: 3, kernelSize: 2, strides: 2, activation: 'relu', seed: 5 }),
      new Conv2D({ filters: 3, kernelSize: 3, dilationRate: 2, seed: 6 }),
      new DepthwiseConv2D({ kernelSize: 2, dilationRate: 2, padding: 'same', seed: 7 }),
      new GlobalMaxPooling2D(),
      new Dense({ units: 2, seed: 8 }),
    ]);
    for (const [m, shape] of [
      [seq, [8, 12, 2]],
      [img, [8, 6, 6, 2]],
    ] as const) {
      const x = tensor(
        randArray(
          shape.reduce((a, b) => a * b, 1),
          rng(12),
        ),
        [...shape],
      );
      const y = tensor(randArray(16, rng(13)), [8, 2]);
      tidy(() => m.apply(x)).dispose();
      const { grads, value } = variableGrads(
        () => meanSquaredError()(y, m.apply(x, { training: true })),
        m.trainableWeights,
      );
      for (const v of m.trainableWeights) {
        const g = grads.get(v);
        expect(g, v.name).toBeDefined();
        const norm = Array.from(await g!.data()).reduce((a, b) => a + b * b, 0);
        expect(norm, v.name).toBeGreaterThan(0);
      }
      for (const g of grads.values()) g.dispose();
      value.dispose();
      m.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'mse' });
      const h = await m.fit(x, y, { epochs: 15, batchSize: 8, verbose: 0, seed: 1 });
      const loss = h.history.loss as number[];
      expect(loss[loss.length - 1]).toBeLessThan(loss[0]);
      for (const t of [x, y]) t.dispose();
      m.dispose();
    }
    expect(memory().numTensors).toBe(before);
  });
});
