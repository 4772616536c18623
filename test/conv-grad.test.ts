import { describe, expect, it } from 'vitest';
import {
  Adam,
  Add,
  avgPool,
  BatchNormalization,
  batchNorm,
  batchNormTraining,
  Conv2D,
  conv2d,
  Dense,
  depthwiseConv2d,
  Functional,
  GlobalAveragePooling2D,
  globalAvgPool,
  input,
  type LogSink,
  MaxPooling2D,
  maxPool,
  pad,
  ReLU,
  setSeed,
  tensor,
} from '../src/index.js';
import { checkGrad } from './gradcheck.js';
import { randArray, rng } from './helpers.js';
import {
  avgPoolRef,
  batchNormRef,
  conv2dRef,
  depthwiseRef,
  globalAvgPoolRef,
  maxPoolRef,
  momentsRef,
  padRef,
} from './oracle/conv.js';

// Backward rules of the convolution family, by finite differences of the float64 oracle, on odd
// sizes (7x5 images, 3 channels, stride 2 with asymmetric padding). Tolerance as in gradcheck.ts.

const r = rng(31);
const inp = (shape: number[], lo = -1, hi = 1) => ({
  shape,
  data: randArray(
    shape.reduce((a, b) => a * b, 1),
    r,
    lo,
    hi,
  ),
});
const X = [2, 7, 5, 3];

describe('convolution gradients', () => {
  const cases: Array<[string, [number, number], 'same' | 'valid' | [[number, number], [number, number]]]> = [
    ['stride 1 same', [1, 1], 'same'],
    ['stride 2 same (TF asymmetric)', [2, 2], 'same'],
    ['stride 2 valid', [2, 2], 'valid'],
    [
      'strides [2,1] explicit asymmetric',
      [2, 1],
      [
        [0, 1],
        [2, 0],
      ],
    ],
  ];
  for (const [name, strides, padding] of cases) {
    it(`conv2d ${name} w.r.t. x, filter and bias`, async () => {
      await checkGrad({
        label: `conv2d ${name}`,
        f: (x, f, b) => conv2d(x, f, strides, padding, { bias: b, activation: 'tanh' }),
        oracle: ([x, f, b]) => conv2dRef(x, X, f, [3, 3, 3, 4], strides, padding, b, 'tanh'),
        inputs: [inp(X), inp([3, 3, 3, 4], -0.5, 0.5), inp([4])],
      });
    });
    it(`depthwiseConv2d ${name} w.r.t. x, filter and bias`, async () => {
      await checkGrad({
        label: `depthwise ${name}`,
        f: (x, f, b) => depthwiseConv2d(x, f, strides, padding, { bias: b, activation: 'sigmoid' }),
        oracle: ([x, f, b]) => depthwiseRef(x, X, f, [3, 3, 3, 2], strides, padding, b, 'sigmoid'),
        inputs: [inp(X), inp([3, 3, 3, 2]), inp([6])],
      });
    });
  }

  it('pad, pools and global average pooling', async () => {
    await checkGrad({
      label: 'pad',
      f: (x) =>
        pad(x, [
          [0, 0],
          [0, 1],
          [2, 1],
          [0, 0],
        ]),
      oracle: ([x]) =>
        padRef(x, X, [
          [0, 0],
          [0, 1],
          [2, 1],
          [0, 0],
        ]),
      inputs: [inp(X)],
    });
    for (const padding of ['same', 'valid'] as const) {
      await checkGrad({
        label: `maxPool ${padding}`,
        f: (x) => maxPool(x, [3, 2], [2, 2], padding),
        oracle: ([x]) => maxPoolRef(x, X, [3, 2], [2, 2], padding),
        inputs: [inp(X)],
      });
      await checkGrad({
        label: `avgPool ${padding}`,
        f: (x) => avgPool(x, [3, 2], [2, 1], padding),
        oracle: ([x]) => avgPoolRef(x, X, [3, 2], [2, 1], padding),
        inputs: [inp(X)],
      });
    }
    await checkGrad({
      label: 'globalAvgPool',
      f: (x) => globalAvgPool(x),
      oracle: ([x]) => globalAvgPoolRef(x, X),
      inputs: [inp(X)],
    });
  });

  it('batch norm in inference and training mode', async () => {
    const mean = tensor([0.1, -0.2, 0.3]);
    const variance = tensor([0.5, 1.5, 0.8]);
    await checkGrad({
      label: 'batchNorm (inference)',
      f: (x, beta, gamma) => batchNorm(x, mean, variance, beta, gamma, 1e-3),
      oracle: ([x, beta, gamma]) => batchNormRef(x, 3, [0.1, -0.2, 0.3], [0.5, 1.5, 0.8], beta, gamma, 1e-3),
      inputs: [inp(X), inp([3]), inp([3], 0.5, 1.5)],
    });
    await checkGrad({
      label: 'batchNormTraining',
      f: (x, gamma, beta) => batchNormTraining(x, gamma, beta, 1e-3).y,
      oracle: ([x, gamma, beta]) => {
        const m = momentsRef(x, 3);
        return batchNormRef(x, 3, m.mean, m.variance, beta, gamma, 1e-3);
      },
      inputs: [inp(X), inp([3], 0.5, 1.5), inp([3])],
    });
    mean.dispose();
    variance.dispose();
  });
});

describe('a conv net with a residual block', () => {
  it('trains to >= 0.9 accuracy on generated images (horizontal vs vertical stripes vs blobs)', async () => {
    setSeed(8);
    const n = 240;
    const s = 12;
    const x = new Float32Array(n * s * s);
    const y = new Int32Array(n);
    const g = rng(77);
    for (let i = 0; i < n; i++) {
      const cls = i % 3;
      y[i] = cls;
      const phase = Math.floor(g() * 4);
      const cy = 3 + g() * 6;
      const cx = 3 + g() * 6;
      for (let a = 0; a < s; a++) {
        for (let b = 0; b < s; b++) {
          let v: number;
          if (cls === 0) v = (a + phase) % 4 < 2 ? 1 : 0;
          else if (cls === 1) v = (b + phase) % 4 < 2 ? 1 : 0;
          else v = (a - cy) ** 2 + (b - cx) ** 2 < 7 ? 1 : 0;
          x[(i * s + a) * s + b] = v + (g() - 0.5) * 0.3;
        }
      }
    }
    const img = input({ shape: [s, s, 1] });
    let h = new Conv2D({ filters: 8, kernelSize: 3, padding: 'same' }).apply(img);
    h = new BatchNormalization().apply(h);
    h = new ReLU().apply(h);
    const skip = h;
    h = new Conv2D({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(h);
    h = new Conv2D({ filters: 8, kernelSize: 3, padding: 'same' }).apply(h);
    h = new Add().apply([skip, h]);
    h = new ReLU().apply(h);
    h = new MaxPooling2D({ poolSize: 2 }).apply(h);
    h = new GlobalAveragePooling2D().apply(h);
    const out = new Dense({ units: 3, activation: 'softmax' }).apply(h);
    const model = new Functional({ inputs: img, outputs: out, name: 'resnet_tiny' });
    const summary = model.summary(() => {}).join('\n');
    expect(summary).toMatch(/add \(Add\)\s+\(None, 12, 12, 8\)\s+0\s+re_lu\[0\]\[0\], conv2d_2\[0\]\[0\]/);
    model.compile({
      optimizer: new Adam({ learningRate: 0.01 }),
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    });
    const xs = tensor(x, [n, s, s, 1]);
    const ys = tensor(y, [n], 'int32');
    const quiet: LogSink = { isTTY: false, write: () => {} };
    await model.fit(xs, ys, { epochs: 12, batchSize: 24, seed: 2, logSink: quiet });
    // The moving statistics were updated in training mode.
    const bn = model.layers.find((l) => l instanceof BatchNormalization) as BatchNormalization;
    const mv = await bn.movingVariance!.data();
    expect(Array.from(mv).some((v) => Math.abs(v - 1) > 1e-3)).toBe(true);
    const { accuracy } = await model.evaluate(xs, ys, { batchSize: 60 });
    expect(accuracy).toBeGreaterThanOrEqual(0.9);
    model.dispose();
    xs.dispose();
    ys.dispose();
  });
});
