import { describe, expect, it } from 'vitest';
import { valueAndGrads } from '../src/autograd/grad.js';
import { resizeBilinear } from '../src/data/resize-gpu.js';
import { sum } from '../src/kernels/reduce.js';
import {
  CenterCrop,
  layerFromConfig,
  memory,
  Normalization,
  Rescaling,
  Resizing,
  Sequential,
  type Tensor,
  tensor,
  tidy,
} from '../src/node.js';
import { expectClose, randArray, rng } from './helpers.js';

async function values(f: () => Tensor): Promise<Float32Array> {
  const before = memory().numTensors;
  const y = tidy(f);
  const v = (await y.data()) as Float32Array;
  y.dispose();
  expect(memory().numTensors, 'no tensor leaks').toBe(before);
  return v;
}

describe('Rescaling', () => {
  it('x * scale + offset, per channel too', async () => {
    const x = randArray(2 * 3 * 2, rng(1), 0, 255);
    const v = await values(() => new Rescaling({ scale: 1 / 127.5, offset: -1 }).apply(tensor(x, [2, 3, 2])));
    expectClose(
      v,
      x.map((a) => a / 127.5 - 1),
      { atol: 1e-6 },
    );
    const w = await values(() =>
      new Rescaling({ scale: [1, 2], offset: [0, 1] }).apply(tensor(x, [2, 3, 2])),
    );
    expectClose(
      w,
      x.map((a, i) => (i % 2 ? a * 2 + 1 : a)),
      { atol: 1e-4 },
    );
  });
});

describe('Normalization', () => {
  const [n, f] = [37, 3];
  const data = randArray(n * f, rng(4), -3, 10);
  const stats = () => {
    const m = new Float64Array(f);
    const v = new Float64Array(f);
    for (let i = 0; i < n; i++) for (let k = 0; k < f; k++) m[k] += data[i * f + k] / n;
    for (let i = 0; i < n; i++) for (let k = 0; k < f; k++) v[k] += (data[i * f + k] - m[k]) ** 2 / n;
    return { m, v };
  };

  it('adapt on a tensor: population mean and variance; (x - mean) / sqrt(var)', async () => {
    const l = new Normalization();
    const x = tensor(data, [n, f]);
    await l.adapt(x);
    const { m, v } = stats();
    expectClose(await l.mean!.data(), m, { atol: 1e-5, rtol: 1e-6 });
    expectClose(await l.variance!.data(), v, { atol: 1e-4, rtol: 1e-6 });
    const y = await values(() => l.apply(x));
    expectClose(
      y,
      Array.from(data, (a, i) => (a - m[i % f]) / Math.sqrt(v[i % f])),
      { atol: 1e-5, rtol: 1e-5 },
    );
    x.dispose();
    l.dispose?.();
  });

  it('adapt streams async batches of { xs, ys }, with the same statistics', async () => {
    const l = new Normalization({ axis: -1 });
    async function* batches() {
      for (let s = 0; s < n; s += 8) {
        const k = Math.min(8, n - s);
        const xs = tensor(data.slice(s * f, (s + k) * f), [k, f]);
        yield { xs, ys: xs };
      }
    }
    await l.adapt(batches());
    const { m, v } = stats();
    expectClose(await l.mean!.data(), m, { atol: 1e-5, rtol: 1e-6 });
    expectClose(await l.variance!.data(), v, { atol: 1e-4, rtol: 1e-6 });
  });

  it('given mean and variance, invert undoes it; zero variance divides by 1e-7', async () => {
    const x = tensor(data, [n, f]);
    const fwd = new Normalization({ mean: [1, 2, 3], variance: [4, 0, 9] });
    const inv = new Normalization({ mean: [1, 2, 3], variance: [4, 0, 9], invert: true });
    // build first: the weights are made then, not leaked by a call
    fwd.build([null, f]);
    inv.build([null, f]);
    const y = await values(() => fwd.apply(x));
    expect(y[1]).toBeCloseTo((data[1] - 2) / 1e-7, -2);
    const back = await values(() => inv.apply(fwd.apply(x)));
    for (let i = 0; i < n * f; i += f) expect(back[i]).toBeCloseTo(data[i], 4);
    const again = layerFromConfig({ className: 'Normalization', config: fwd.getConfig() });
    again.build([null, f]);
    expectClose(await values(() => again.apply(x)), y, { rtol: 1e-6 });
    x.dispose();
  });
});

describe('Resizing and CenterCrop', () => {
  const [b, h, w, c] = [2, 7, 5, 3];
  const data = randArray(b * h * w * c, rng(6), 0, 255);
  it('Resizing bilinear equals tf.image.resize (our GPU resizeBilinear), up and down, and crop to aspect ratio', async () => {
    for (const [oh, ow] of [
      [11, 3],
      [3, 9],
      [7, 5],
    ] as const)
      for (const crop of [false, true]) {
        const got = await values(() =>
          new Resizing({ height: oh, width: ow, cropToAspectRatio: crop }).apply(tensor(data, [b, h, w, c])),
        );
        const want = await values(() =>
          resizeBilinear(tensor(data, [b, h, w, c]), [oh, ow], { cropToAspectRatio: crop }),
        );
        expectClose(got, want, { atol: 2e-3, rtol: 1e-5 }, `${oh}x${ow} crop ${crop}`);
      }
  });

  it('Resizing is differentiable (sum of a 2x upscale: each input pixel gets 4)', async () => {
    const x = tensor(new Float32Array(b * 4 * 4 * c).fill(1), [b, 4, 4, c]);
    const layer = new Resizing({ height: 8, width: 8 });
    const { value, grads } = valueAndGrads((t: Tensor) => sum(layer.apply(t)))([x]);
    expectClose(await grads[0].data(), new Float32Array(x.size).fill(4), { atol: 1e-5 });
    for (const t of [value, ...grads, x]) t.dispose();
  });

  it('CenterCrop slices the centre; smaller inputs are cropped to the aspect ratio and resized', async () => {
    const got = await values(() => new CenterCrop({ height: 3, width: 2 }).apply(tensor(data, [b, h, w, c])));
    const at = (i: number, y: number, x: number, k: number) => data[((i * h + y) * w + x) * c + k];
    // offsets floor((7 - 3) / 2) = 2, floor((5 - 2) / 2) = 1
    expect(got[0]).toBe(at(0, 2, 1, 0));
    expect(got[((1 * 3 + 2) * 2 + 1) * c + 2]).toBe(at(1, 4, 2, 2));
    const up = await values(() => new CenterCrop({ height: 9, width: 4 }).apply(tensor(data, [b, h, w, c])));
    const want = await values(() =>
      new Resizing({ height: 9, width: 4, cropToAspectRatio: true }).apply(tensor(data, [b, h, w, c])),
    );
    expect(up).toEqual(want);
  });

  it('getConfig recreates each layer; they work inside a Sequential', async () => {
    const ls = [
      new Rescaling({ scale: 0.5, offset: 1 }),
      new Resizing({ height: 4, width: 4, interpolation: 'nearest' }),
      new CenterCrop({ height: 2, width: 2 }),
    ];
    for (const l of ls) {
      const again = layerFromConfig({ className: l.className, config: l.getConfig() });
      expect(again.getConfig()).toEqual({ ...l.getConfig(), name: again.name });
    }
    const y = await values(() => new Sequential({ layers: ls }).apply(tensor(data, [b, h, w, c])));
    expect(y.length).toBe(b * 2 * 2 * c);
  });
});
