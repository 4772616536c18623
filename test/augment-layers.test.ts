import { describe, expect, it } from 'vitest';
import { affineResample } from '../src/kernels/augment.js';
import type { AffineAugmentation } from '../src/nn/layers/affine-chain.js';
import {
  Adam,
  Conv2D,
  Dense,
  Flatten,
  input,
  type Layer,
  layerFromConfig,
  memory,
  model,
  RandomBrightness,
  RandomContrast,
  RandomCrop,
  RandomFlip,
  RandomRotation,
  RandomTranslation,
  RandomZoom,
  Rescaling,
  Sequential,
  type Tensor,
  tensor,
  tidy,
} from '../src/node.js';
import { mulberry32 } from '../src/tensor/mulberry.js';
import { type AnyOpRecord, setRecorder } from '../src/tensor/record.js';
import { expectClose, randArray, rng } from './helpers.js';
import { affineResampleCpu, composeRows, type FillMode } from './oracle/augment.js';

const TOL = { atol: 5e-5, rtol: 1e-5 };

/** Runs `f` and returns its output values and the names of the ops it recorded. */
async function traced(f: () => Tensor): Promise<{ values: Float32Array; ops: string[] }> {
  const ops: string[] = [];
  const prev = setRecorder((r: AnyOpRecord) => ops.push(r.op));
  const before = memory().numTensors;
  let y: Tensor;
  try {
    y = tidy(f);
  } finally {
    setRecorder(prev);
  }
  const values = (await y.data()) as Float32Array;
  y.dispose();
  expect(memory().numTensors, 'no tensor leaks').toBe(before);
  return { values, ops };
}

function rowsOf(l: AffineAugmentation, b: number, h: number, w: number): number[][] {
  const p = l.plan(b, h, w)!;
  return Array.from({ length: b }, (_, i) => Array.from(p.rows.slice(i * 6, i * 6 + 6)));
}

const img = (b: number, h: number, w: number, c: number, seed = 3) =>
  randArray(b * h * w * c, rng(seed), 0, 1);

describe('geometric layers match Keras 3 maps (pixel-index coordinates, centre (size - 1) / 2)', () => {
  const [b, h, w, c] = [2, 9, 7, 2];
  const data = img(b, h, w, c);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const a = 0.1 * 2 * Math.PI;
  const cases: Array<[string, (m: FillMode) => Layer, number[]]> = [
    [
      'RandomRotation(factor [0.1, 0.1])',
      (fillMode) => new RandomRotation({ factor: [0.1, 0.1], fillMode, seed: 1 }),
      [
        Math.cos(a),
        -Math.sin(a),
        cx - cx * Math.cos(a) + cy * Math.sin(a),
        Math.sin(a),
        Math.cos(a),
        cy - cx * Math.sin(a) - cy * Math.cos(a),
      ],
    ],
    [
      'RandomZoom([-0.2, -0.2]) (zoom in)',
      (fillMode) => new RandomZoom({ heightFactor: [-0.2, -0.2], fillMode, seed: 1 }),
      [0.8, 0, cx * 0.2, 0, 0.8, cy * 0.2],
    ],
    [
      'RandomTranslation([0.2, 0.2], [-0.3, -0.3])',
      (fillMode) =>
        new RandomTranslation({ heightFactor: [0.2, 0.2], widthFactor: [-0.3, -0.3], fillMode, seed: 1 }),
      [1, 0, Math.fround(0.3 * w), 0, 1, -Math.fround(0.2 * h)],
    ],
  ];
  for (const [name, make, row] of cases)
    for (const fillMode of ['reflect', 'wrap', 'constant', 'nearest'] as const)
      it(`${name} ${fillMode}`, async () => {
        const l = make(fillMode);
        const { values } = await traced(() => l.apply(tensor(data, [b, h, w, c]), { training: true }));
        const rows32 = [Array.from(Float32Array.from(row))];
        expectClose(
          values,
          affineResampleCpu({ data, shape: [b, h, w, c], transforms: rows32, fillMode }),
          TOL,
        );
      });

  it('RandomFlip flips per image with probability 1/2, both axes together in horizontal_and_vertical', async () => {
    const n = 16;
    const x = img(n, 3, 4, 1);
    const { values } = await traced(() =>
      new RandomFlip({ seed: 5 }).apply(tensor(x, [n, 3, 4, 1]), { training: true }),
    );
    const u = mulberry32(5);
    let flipped = 0;
    for (let i = 0; i < n; i++) {
      const f = u() <= 0.5;
      flipped += +f;
      for (let y = 0; y < 3; y++)
        for (let xx = 0; xx < 4; xx++) {
          const src = f ? (2 - y) * 4 + (3 - xx) : y * 4 + xx;
          expect(values[i * 12 + y * 4 + xx]).toBe(x[i * 12 + src]);
        }
    }
    expect(flipped).toBeGreaterThan(0);
    expect(flipped).toBeLessThan(n);
  });

  it('RandomCrop crops one random window per batch in training; Keras fallback otherwise', async () => {
    const x = img(2, 9, 7, 1);
    const { values } = await traced(() =>
      new RandomCrop({ height: 4, width: 3, seed: 9 }).apply(tensor(x, [2, 9, 7, 1]), { training: true }),
    );
    const u = mulberry32(9);
    const y0 = Math.floor(u() * 6);
    const x0 = Math.floor(u() * 5);
    for (let i = 0; i < 2; i++)
      for (let y = 0; y < 4; y++)
        for (let xx = 0; xx < 3; xx++)
          expect(values[i * 12 + y * 3 + xx]).toBe(x[i * 63 + (y + y0) * 7 + xx + x0]);
    // Inference: unchanged, as Keras 3.15.
    const t = tensor(x, [2, 9, 7, 1]);
    expect(new RandomCrop({ height: 4, width: 3 }).apply(t, { training: false })).toBe(t);
    t.dispose();
  });
});

describe('composition', () => {
  const [b, h, w, c] = [3, 33, 17, 2];
  const make = () => [
    new RandomFlip({ mode: 'horizontal', seed: 11 }),
    new RandomRotation({ factor: 0.1, seed: 12, fillMode: 'constant', fillValue: 0.5 }),
    new RandomZoom({
      heightFactor: [-0.3, 0.2],
      widthFactor: 0.2,
      seed: 13,
      fillMode: 'constant',
      fillValue: 0.5,
    }),
  ];
  const data = img(b, h, w, c, 8);

  const composed = () => {
    const twins = make();
    const rs = twins.map((l) => rowsOf(l, b, h, w));
    return rs[0].map((_, i) => composeRows(composeRows(rs[0][i], rs[1][i]), rs[2][i]));
  };

  it('a Sequential flip + rotation + zoom runs one resample equal to the composed map', async () => {
    const seq = new Sequential({ layers: make() });
    const { values, ops } = await traced(() => seq.apply(tensor(data, [b, h, w, c]), { training: true }));
    expect(ops.filter((o) => o === 'affineResample')).toHaveLength(1);
    const rows = composed().map((r) => Array.from(Float32Array.from(r)));
    expectClose(
      values,
      affineResampleCpu({
        data,
        shape: [b, h, w, c],
        transforms: rows,
        fillMode: 'constant',
        fillValue: 0.5,
      }),
      TOL,
    );
  });

  it('a functional chain does too, and gives the same values as Sequential', async () => {
    const x = input({ shape: [h, w, c] });
    let y = x;
    for (const l of make()) y = l.apply(y);
    const m = model({ inputs: x, outputs: y });
    const f = await traced(() => m.apply(tensor(data, [b, h, w, c]), { training: true }));
    expect(f.ops.filter((o) => o === 'affineResample')).toHaveLength(1);
    const s = await traced(() =>
      new Sequential({ layers: make() }).apply(tensor(data, [b, h, w, c]), { training: true }),
    );
    expect(f.values).toEqual(s.values);
  });

  it('one pass is closer to the continuous transform than three passes', async () => {
    // A smooth image, and its exact value at the composed source points (inside the image).
    const fn = (x: number, y: number) => Math.sin(0.37 * x + 0.11 * y) + Math.cos(0.23 * y - 0.05 * x);
    const smooth = new Float32Array(b * h * w * c);
    for (let i = 0; i < b; i++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          for (let k = 0; k < c; k++) smooth[((i * h + y) * w + x) * c + k] = fn(x, y);
    const one = await traced(() =>
      new Sequential({ layers: make() }).apply(tensor(smooth, [b, h, w, c]), { training: true }),
    );
    const three = await traced(() => {
      let t = tensor(smooth, [b, h, w, c]);
      for (const l of make()) t = l.apply(t, { training: true });
      return t;
    });
    // rotation and zoom interpolate separately (the flip is skipped when no image flips)
    expect(three.ops.filter((o) => o === 'affineResample').length).toBeGreaterThanOrEqual(2);
    const rows = composed();
    let errOne = 0;
    let errThree = 0;
    let n = 0;
    for (let i = 0; i < b; i++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const r = rows[i];
          const sx = r[0] * x + r[1] * y + r[2];
          const sy = r[3] * x + r[4] * y + r[5];
          // interior only: where neither pipeline touches the fill
          if (sx < 3 || sy < 3 || sx > w - 4 || sy > h - 4) continue;
          const o = ((i * h + y) * w + x) * c;
          errOne += (one.values[o] - fn(sx, sy)) ** 2;
          errThree += (three.values[o] - fn(sx, sy)) ** 2;
          n++;
        }
    expect(n).toBeGreaterThan(100);
    console.log(
      `RMS error vs the continuous map: one pass ${Math.sqrt(errOne / n).toExponential(3)}, separate passes ${Math.sqrt(errThree / n).toExponential(3)} (${n} points)`,
    );
    expect(errOne).toBeLessThan(errThree);
  });

  it('layers with different fill modes split the chain', async () => {
    const seq = new Sequential({
      layers: [
        new RandomRotation({ factor: 0.1, seed: 1, fillMode: 'reflect' }),
        new RandomZoom({ heightFactor: 0.1, seed: 2, fillMode: 'wrap' }),
      ],
    });
    const { ops } = await traced(() => seq.apply(tensor(data, [b, h, w, c]), { training: true }));
    expect(ops.filter((o) => o === 'affineResample')).toHaveLength(2);
  });
});

describe('training false, seeds, configs', () => {
  const all = () => [
    new RandomFlip({ seed: 1 }),
    new RandomRotation({ factor: 0.2, seed: 1 }),
    new RandomZoom({ heightFactor: 0.2, seed: 1 }),
    new RandomTranslation({ heightFactor: 0.2, widthFactor: 0.1, seed: 1 }),
    new RandomContrast({ factor: 0.3, seed: 1 }),
    new RandomBrightness({ factor: 0.3, seed: 1 }),
  ];
  it('each layer is the identity (the same tensor) when not training', () => {
    const x = tensor(img(2, 5, 4, 3), [2, 5, 4, 3]);
    for (const l of all()) expect(l.apply(x, { training: false })).toBe(x);
    expect(new Sequential({ layers: all() }).apply(x, {})).toBe(x);
    x.dispose();
  });

  it('the same seed gives the same sequence; calls differ', async () => {
    const x = img(2, 7, 5, 3, 4);
    for (const [p, q] of all().map((l, i) => [l, all()[i]] as const)) {
      const run = async (l: Layer) =>
        (await traced(() => l.apply(tensor(x, [2, 7, 5, 3]), { training: true }))).values;
      const p1 = await run(p);
      const p2 = await run(p);
      expect(await run(q)).toEqual(p1);
      expect(await run(q)).toEqual(p2);
      expect(p2, p.className).not.toEqual(p1);
    }
  });

  it('getConfig recreates each layer', () => {
    for (const l of [...all(), new RandomCrop({ height: 2, width: 3, seed: 4 })]) {
      const again = layerFromConfig({ className: l.className, config: l.getConfig() });
      expect(again.getConfig()).toEqual({ ...l.getConfig(), name: again.name });
    }
  });

  it('rank-3 images work (one image)', async () => {
    const x = img(1, 5, 4, 2);
    const a = await traced(() =>
      new RandomRotation({ factor: 0.2, seed: 3 }).apply(tensor(x, [5, 4, 2]), { training: true }),
    );
    const bb = await traced(() =>
      new RandomRotation({ factor: 0.2, seed: 3 }).apply(tensor(x, [1, 5, 4, 2]), { training: true }),
    );
    expect(a.values).toEqual(bb.values);
  });
});

describe('RandomContrast and RandomBrightness', () => {
  const [b, h, w, c] = [3, 4, 5, 2];
  const data = randArray(b * h * w * c, rng(2), 0, 255);
  it('contrast: (x - mean) * f + mean, f in [1 - f, 1 + f], clipped', async () => {
    const { values } = await traced(() =>
      new RandomContrast({ factor: 0.5, seed: 7 }).apply(tensor(data, [b, h, w, c]), { training: true }),
    );
    const u = mulberry32(7);
    const want = new Float64Array(data.length);
    for (let i = 0; i < b; i++) {
      const f = 0.5 + u();
      for (let k = 0; k < c; k++) {
        let m = 0;
        for (let p = 0; p < h * w; p++) m += data[(i * h * w + p) * c + k];
        m /= h * w;
        for (let p = 0; p < h * w; p++) {
          const o = (i * h * w + p) * c + k;
          want[o] = Math.min(255, Math.max(0, (data[o] - m) * f + m));
        }
      }
    }
    expectClose(values, want, { atol: 2e-3, rtol: 1e-5 });
  });
  it('brightness: x + delta * (high - low), clipped to valueRange', async () => {
    const x01 = data.map((v) => v / 255);
    const { values } = await traced(() =>
      new RandomBrightness({ factor: [-0.2, 0.4], valueRange: [0, 1], seed: 8 }).apply(
        tensor(x01, [b, h, w, c]),
        {
          training: true,
        },
      ),
    );
    const u = mulberry32(8);
    const want = new Float64Array(data.length);
    for (let i = 0; i < b; i++) {
      const d = -0.2 + 0.6 * u();
      for (let p = 0; p < h * w * c; p++)
        want[i * h * w * c + p] = Math.min(1, Math.max(0, x01[i * h * w * c + p] + d));
    }
    expectClose(values, want, { atol: 1e-6, rtol: 1e-5 });
  });
});

describe('affineResample of a flip is exact', () => {
  it('nearest with integer maps copies pixels', async () => {
    const x = img(1, 3, 2, 1);
    const { values } = await traced(() =>
      affineResample(tensor(x, [1, 3, 2, 1]), tensor([-1, 0, 1, 0, 1, 0], [1, 6]), {
        interpolation: 'nearest',
      }),
    );
    expect(Array.from(values)).toEqual([x[1], x[0], x[3], x[2], x[5], x[4]]);
  });
});

describe('in a model', () => {
  it('fit trains through the augmentation layers (training mode), predict skips them, no leaks', async () => {
    const n = 16;
    const xs = tensor(randArray(n * 8 * 8 * 3, rng(21), 0, 255), [n, 8, 8, 3]);
    const ys = tensor(
      Int32Array.from({ length: n }, (_, i) => i % 2),
      [n],
      'int32',
    );
    const model = new Sequential({
      layers: [
        new Rescaling({ scale: 1 / 255, inputShape: [8, 8, 3] }),
        new RandomFlip({ seed: 1 }),
        new RandomRotation({ factor: 0.1, seed: 2 }),
        new RandomZoom({ heightFactor: 0.1, seed: 3 }),
        new RandomContrast({ factor: 0.2, valueRange: [0, 1], seed: 4 }),
        new Conv2D({ filters: 4, kernelSize: 3, activation: 'relu' }),
        new Flatten(),
        new Dense({ units: 2, activation: 'softmax' }),
      ],
    });
    model.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    await model.fit(xs, ys, { epochs: 1, batchSize: 8, verbose: 0 });
    // after the optimizer made its slots: nothing more may stay behind
    const before = memory().numTensors;
    const h = await model.fit(xs, ys, { epochs: 3, batchSize: 8, verbose: 0 });
    expect(h.history.loss.every((l) => Number.isFinite(l))).toBe(true);
    const p1 = await model.predict(xs);
    const p2 = await model.predict(xs);
    expect(await p1.data()).toEqual(await p2.data());
    p1.dispose();
    p2.dispose();
    expect(memory().numTensors).toBe(before);
    model.dispose();
    xs.dispose();
    ys.dispose();
  });
});
