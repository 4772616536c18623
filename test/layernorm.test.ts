import { describe, expect, it } from 'vitest';
import {
  Dense,
  dispose,
  Embedding,
  GroupNormalization,
  LayerNormalization,
  layerFromConfig,
  layerNorm,
  memory,
  PositionEmbedding,
  type Tensor,
  TokenAndPositionEmbedding,
  tensor,
  tidy,
  variableGrads,
} from '../src/index.js';
import { mul } from '../src/kernels/binary.js';
import { sum } from '../src/kernels/reduce.js';
import { groupNorm } from '../src/nn/layers/layer-norm.js';
import { checkGrad } from './gradcheck.js';
import { expectClose, randArray, rng } from './helpers.js';
import { groupNormRef, layerNormRef } from './oracle/norm.js';

const TOL = { atol: 2e-5, rtol: 2e-5 };

describe('layerNorm', () => {
  const r = rng(3);
  for (const shape of [[1], [3, 5], [2, 3, 64], [7, 130], [2, 2, 3, 4]]) {
    it(`forward on ${JSON.stringify(shape)} with and without gamma/beta`, async () => {
      const n = shape[shape.length - 1];
      const size = shape.reduce((a, b) => a * b, 1);
      const x = randArray(size, r, -3, 3).map((v, i) => v + (i % 3) * 10);
      const g = randArray(n, r, 0.5, 1.5);
      const b = randArray(n, r, -1, 1);
      const before = memory().numTensors;
      const [y1, y2] = tidy(() => {
        const xt = tensor(x, shape);
        return [layerNorm(xt), layerNorm(xt, { gamma: tensor(g, [n]), beta: tensor(b, [n]), epsilon: 1e-5 })];
      });
      expectClose(await y1.data(), layerNormRef(x, n), TOL, 'plain');
      expectClose(await y2.data(), layerNormRef(x, n, g, b, 1e-5), TOL, 'affine');
      y1.dispose();
      y2.dispose();
      expect(memory().numTensors).toBe(before);
    });
  }

  it('normalizes over the last two axes with axis [-2, -1]', async () => {
    const x = randArray(2 * 3 * 4, r);
    const g = randArray(12, r);
    const y = tidy(() => layerNorm(tensor(x, [2, 3, 4]), { axis: [-2, -1], gamma: tensor(g, [3, 4]) }));
    expectClose(await y.data(), layerNormRef(x, 12, g), TOL);
    y.dispose();
  });

  it('gradients of x, gamma and beta match finite differences', async () => {
    const x = randArray(3 * 6, r, -2, 2);
    const g = randArray(6, r, 0.5, 1.5);
    const b = randArray(6, r);
    await checkGrad({
      f: (xt, gt, bt) => layerNorm(xt, { gamma: gt, beta: bt }),
      oracle: ([xs, gs, bs]) => layerNormRef(xs, 6, gs, bs),
      inputs: [
        { shape: [3, 6], data: x },
        { shape: [6], data: g },
        { shape: [6], data: b },
      ],
      label: 'layerNorm',
    });
    await checkGrad({
      f: (xt) => layerNorm(xt, { axis: [-2, -1] }),
      oracle: ([xs]) => layerNormRef(xs, 6),
      inputs: [{ shape: [3, 2, 3], data: x }],
      label: 'layerNorm no affine, two axes',
    });
  });
});

describe('normalization layers', () => {
  it('LayerNormalization: Keras defaults, weights, config', async () => {
    const r = rng(5);
    const x = randArray(2 * 4 * 8, r, -2, 2);
    const l = new LayerNormalization();
    const y = tidy(() => l.apply(tensor(x, [2, 4, 8])));
    expect(l.weights.map((w) => w.name)).toEqual([`${l.name}/gamma`, `${l.name}/beta`]);
    expectClose(await y.data(), layerNormRef(x, 8), TOL);
    const l2 = layerFromConfig({
      className: 'LayerNormalization',
      config: l.getConfig(),
    }) as LayerNormalization;
    expect(l2.epsilon).toBe(1e-3);
    y.dispose();
    l.dispose();
  });

  it('GroupNormalization: forward against the oracle and gradients by finite differences', async () => {
    const r = rng(6);
    const x = randArray(2 * 3 * 2 * 4, r, -2, 2);
    const l = new GroupNormalization({ groups: 2 });
    const y = tidy(() => l.apply(tensor(x, [2, 3, 2, 4])));
    const gamma = [1, 1, 1, 1];
    const beta = [0, 0, 0, 0];
    expectClose(await y.data(), groupNormRef(x, 2, 6, 4, 2, gamma, beta), TOL);
    y.dispose();
    l.dispose();
    const g = randArray(4, r, 0.5, 1.5);
    const b = randArray(4, r);
    await checkGrad({
      f: (xt, gt, bt) => groupNorm(xt, 2, gt, bt),
      oracle: ([xs, gs, bs]) => groupNormRef(xs, 2, 3, 4, 2, gs, bs),
      inputs: [
        { shape: [2, 3, 4], data: x.slice(0, 24) },
        { shape: [4], data: g },
        { shape: [4], data: b },
      ],
      label: 'groupNorm',
    });
  });
});

describe('embeddings', () => {
  it('Embedding gathers rows, masks zeros, and its gradient sums into the table', async () => {
    const e = new Embedding({ inputDim: 5, outputDim: 3, maskZero: true, seed: 1 });
    const ids = tensor([0, 2, 2, 4, 1, 0], [2, 3], 'int32');
    const y = e.apply(ids);
    expect(y.shape).toEqual([2, 3, 3]);
    const table = await e.embeddings!.data();
    const got = await y.data();
    const want = [0, 2, 2, 4, 1, 0].flatMap((i) => Array.from(table.slice(i * 3, i * 3 + 3)));
    expectClose(got, want, { atol: 0, rtol: 0 });
    const m = e.computeMask(ids)!;
    expect(Array.from(await m.data())).toEqual([0, 1, 1, 1, 1, 0]);
    // d/dtable of sum(y * w): each row of w added into the row of its id.
    const w = randArray(2 * 3 * 3, rng(1));
    const wt = tensor(w, [2, 3, 3]);
    const { value, grads } = variableGrads(() => sum(mul(e.apply(ids), wt)), [e.embeddings!]);
    const dTable = await grads.get(e.embeddings!)!.data();
    const want2 = new Float64Array(15);
    [0, 2, 2, 4, 1, 0].forEach((id, k) => {
      for (let d = 0; d < 3; d++) want2[id * 3 + d] += w[k * 3 + d];
    });
    expectClose(dTable, want2, { atol: 1e-6, rtol: 1e-6 });
    dispose([value, wt, ...grads.values()]);
    for (const t of [ids, y, m]) t.dispose();
    e.dispose();
  });

  it('PositionEmbedding broadcasts positions; TokenAndPositionEmbedding adds them', async () => {
    const p = new PositionEmbedding({ sequenceLength: 6, seed: 2 });
    const x = tensor(randArray(2 * 4 * 3, rng(2)), [2, 4, 3]);
    const y = p.apply(x);
    expect(y.shape).toEqual([2, 4, 3]);
    const table = await p.embeddings!.data();
    const want = [...table.slice(0, 12), ...table.slice(0, 12)];
    expectClose(await y.data(), want, { atol: 0, rtol: 0 });
    const tp = new TokenAndPositionEmbedding({
      vocabularySize: 7,
      sequenceLength: 5,
      embeddingDim: 4,
      seed: 3,
    });
    const ids = tensor([1, 2, 3, 6, 5, 4], [2, 3], 'int32');
    const z = tp.apply(ids);
    expect(tp.weights.length).toBe(2);
    expect(tp.getConfig().embeddingsInitializer).toBe('randomUniform');
    const tg = new TokenAndPositionEmbedding({
      vocabularySize: 7,
      sequenceLength: 5,
      embeddingDim: 4,
      embeddingsInitializer: 'ones',
    });
    tidy(() => tg.apply(ids)).dispose();
    expect(Array.from(await tg.tokens.embeddings!.data()).every((v) => v === 1)).toBe(true);
    tg.dispose();
    const tok = await tp.tokens.embeddings!.data();
    const pos = await tp.positionsLayer.embeddings!.data();
    const ref = [1, 2, 3, 6, 5, 4].flatMap((id, k) =>
      Array.from({ length: 4 }, (_, d) => tok[id * 4 + d] + pos[(k % 3) * 4 + d]),
    );
    expectClose(await z.data(), ref, { atol: 1e-7, rtol: 1e-6 });
    for (const t of [x, y, ids, z] as Tensor[]) t.dispose();
    p.dispose();
    tp.dispose();
  });

  it('Dense applies to the last axis of rank-3 and rank-4 inputs, with a gelu epilogue', async () => {
    const d = new Dense({ units: 3, activation: 'gelu', seed: 4 });
    const xs = randArray(2 * 2 * 2 * 5, rng(4));
    const y = tidy(() => d.apply(tensor(xs, [2, 2, 2, 5])));
    expect(y.shape).toEqual([2, 2, 2, 3]);
    const k = await d.kernel!.data();
    const erf = (await import('./oracle/activations-ext.js')).ACTIVATION_REFS.gelu;
    const ref: number[] = [];
    for (let r = 0; r < 8; r++) {
      for (let u = 0; u < 3; u++) {
        let s = 0;
        for (let i = 0; i < 5; i++) s += xs[r * 5 + i] * k[i * 3 + u];
        ref.push(erf(s));
      }
    }
    expectClose(await y.data(), ref, { atol: 1e-5, rtol: 1e-4 });
    y.dispose();
    d.dispose();
  });
});
