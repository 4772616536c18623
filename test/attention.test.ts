import { describe, expect, it } from 'vitest';
import { dotProductAttention, memory, type Tensor, tensor, tidy, valueAndGrads } from '../src/index.js';
import { setAttentionPortable } from '../src/kernels/attention.js';
import { mul } from '../src/kernels/binary.js';
import { sum } from '../src/kernels/reduce.js';
import { checkGrad } from './gradcheck.js';
import { expectClose, randArray, rng } from './helpers.js';
import { type AttnShape, attentionRef } from './oracle/attention.js';

const TOL = { atol: 2e-5, rtol: 1e-4 };

function data(s: AttnShape, seed: number) {
  const r = rng(seed);
  return {
    q: randArray(s.b * s.tq * s.h * s.d, r, -2, 2),
    k: randArray(s.b * s.tk * s.h * s.d, r, -2, 2),
    v: randArray(s.b * s.tk * s.h * s.dv, r, -1, 1),
  };
}

describe('dotProductAttention forward', () => {
  const shapes: Array<[string, AttnShape]> = [
    ['tiny', { b: 1, tq: 1, tk: 1, h: 1, d: 1, dv: 1 }],
    ['ragged', { b: 2, tq: 5, tk: 7, h: 3, d: 4, dv: 6 }],
    ['several tiles and workgroups', { b: 1, tq: 70, tk: 83, h: 2, d: 16, dv: 8 }],
    ['head dim 64', { b: 2, tq: 33, tk: 33, h: 2, d: 64, dv: 64 }],
    ['head dims 32 and 64', { b: 2, tq: 9, tk: 14, h: 3, d: 32, dv: 64 }],
  ];
  for (const [label, s] of shapes) {
    for (const causal of [false, true]) {
      it(`${label}${causal ? ', causal' : ''}`, async () => {
        const { q, k, v } = data(s, s.tq + s.d);
        const before = memory().numTensors;
        const y = tidy(() =>
          dotProductAttention(
            tensor(q, [s.b, s.tq, s.h, s.d]),
            tensor(k, [s.b, s.tk, s.h, s.d]),
            tensor(v, [s.b, s.tk, s.h, s.dv]),
            { causal },
          ),
        );
        expect(y.shape).toEqual([s.b, s.tq, s.h, s.dv]);
        expectClose(await y.data(), attentionRef(q, k, v, s, { causal }), TOL, label);
        y.dispose();
        expect(memory().numTensors).toBe(before);
      });
    }
  }

  it('the subgroup kernels (head dims a multiple of 4 lanes) agree with the portable ones', async () => {
    const s = { b: 2, tq: 13, tk: 13, h: 2, d: 32, dv: 32 };
    const { q, k, v } = data(s, 5);
    const w = randArray(2 * 13 * 2 * 32, rng(6));
    const m = Array.from({ length: 2 * 13 * 13 }, (_, i) => (i % 7 === 3 ? 0 : 1));
    const run = async (portable: boolean, causal: boolean, masked: boolean) => {
      setAttentionPortable(portable);
      try {
        const ts = [tensor(q, [2, 13, 2, 32]), tensor(k, [2, 13, 2, 32]), tensor(v, [2, 13, 2, 32])];
        const wt = tensor(w, [2, 13, 2, 32]);
        const mt = tensor(m, [2, 13, 13], 'bool');
        const { value, grads } = valueAndGrads((a: Tensor, b: Tensor, c: Tensor) =>
          sum(mul(dotProductAttention(a, b, c, { causal, mask: masked ? mt : undefined }), wt)),
        )(ts);
        const out = await Promise.all([value, ...grads].map((t) => t.data()));
        for (const t of [value, ...grads, ...ts, wt, mt]) t.dispose();
        return out;
      } finally {
        setAttentionPortable(false);
      }
    };
    for (const [causal, masked] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const a = await run(false, causal, masked);
      const b = await run(true, causal, masked);
      for (const [i, x] of a.entries()) {
        expectClose(x, b[i], { atol: 1e-5, rtol: 1e-4 }, `causal ${causal} masked ${masked} #${i}`);
      }
    }
  });

  it('masks per batch (bool) and shared (float), with a fully masked row averaging v as Keras', async () => {
    const s = { b: 2, tq: 4, tk: 5, h: 2, d: 3, dv: 2 };
    const { q, k, v } = data(s, 9);
    const r = rng(10);
    const m = Array.from({ length: 2 * 4 * 5 }, () => (r() < 0.6 ? 1 : 0));
    for (let j = 0; j < 5; j++) m[5 + j] = 0; // batch 0, query 1: nothing to attend to
    const shared = m.slice(0, 20);
    const [y1, y2] = tidy(() => {
      const qt = tensor(q, [2, 4, 2, 3]);
      const kt = tensor(k, [2, 5, 2, 3]);
      const vt = tensor(v, [2, 5, 2, 2]);
      return [
        dotProductAttention(qt, kt, vt, { mask: tensor(m, [2, 4, 5], 'bool') }),
        dotProductAttention(qt, kt, vt, { mask: tensor(shared, [1, 4, 5]), scale: 0.7 }),
      ];
    });
    expectClose(await y1.data(), attentionRef(q, k, v, s, { mask: m, maskBatch: true }), TOL, 'batch mask');
    expectClose(await y2.data(), attentionRef(q, k, v, s, { mask: shared, scale: 0.7 }), TOL, 'shared mask');
    y1.dispose();
    y2.dispose();
  });
});

describe('dotProductAttention gradients (finite differences)', () => {
  const s = { b: 2, tq: 3, tk: 4, h: 2, d: 3, dv: 2 };
  const { q, k, v } = data(s, 21);
  const inputs = [
    { shape: [2, 3, 2, 3], data: q },
    { shape: [2, 4, 2, 3], data: k },
    { shape: [2, 4, 2, 2], data: v },
  ];
  it('head dim 32 (the subgroup kernels where the adapter has them), causal', async () => {
    const s3 = { b: 1, tq: 5, tk: 5, h: 1, d: 32, dv: 32 };
    const r = rng(23);
    await checkGrad({
      f: (a, b, c) => dotProductAttention(a, b, c, { causal: true }),
      oracle: ([a, b, c]) => attentionRef(a, b, c, s3, { causal: true }),
      inputs: [0, 1, 2].map(() => ({ shape: [1, 5, 1, 32], data: randArray(5 * 32, r, -1, 1) })),
      label: 'attention d=32',
    });
  });
  it('plain', async () => {
    await checkGrad({
      f: (a, b, c) => dotProductAttention(a, b, c),
      oracle: ([a, b, c]) => attentionRef(a, b, c, s),
      inputs,
      label: 'attention',
    });
  });
  it('causal, Tq = Tk', async () => {
    const s2 = { ...s, tq: 4 };
    const q2 = randArray(2 * 4 * 2 * 3, rng(22), -2, 2);
    await checkGrad({
      f: (a, b, c) => dotProductAttention(a, b, c, { causal: true }),
      oracle: ([a, b, c]) => attentionRef(a, b, c, s2, { causal: true }),
      inputs: [{ shape: [2, 4, 2, 3], data: q2 }, inputs[1], inputs[2]],
      label: 'causal attention',
    });
  });
  it('masked, including a fully masked row', async () => {
    const m = [1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0];
    const mt = tensor(m, [2, 3, 4], 'bool');
    await checkGrad({
      f: (a, b, c) => dotProductAttention(a, b, c, { mask: mt }),
      oracle: ([a, b, c]) => attentionRef(a, b, c, s, { mask: m, maskBatch: true }),
      inputs,
      label: 'masked attention',
    });
    mt.dispose();
  });
});
