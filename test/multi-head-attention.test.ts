import { describe, expect, it } from 'vitest';
import {
  composedAttention,
  dispose,
  dotProductAttention,
  layerFromConfig,
  MultiHeadAttention,
  memory,
  type Tensor,
  tensor,
  tidy,
  variableGrads,
} from '../src/index.js';
import { mul } from '../src/kernels/binary.js';
import { sum } from '../src/kernels/reduce.js';
import { expectClose, randArray, rng } from './helpers.js';
import { attentionRef } from './oracle/attention.js';

/** x [b, t, dim] @ kernel [dim, n] + bias, in float64. */
function dense(
  x: ArrayLike<number>,
  rows: number,
  dim: number,
  k: ArrayLike<number>,
  bias: ArrayLike<number>,
  n: number,
) {
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let u = 0; u < n; u++) {
      let s = bias[u];
      for (let i = 0; i < dim; i++) s += x[r * dim + i] * k[i * n + u];
      out[r * n + u] = s;
    }
  }
  return out;
}

describe('MultiHeadAttention', () => {
  it('matches projections + attention + output projection in float64, with Keras weight names', async () => {
    const [b, tq, tk, dim, heads, kd] = [2, 5, 6, 8, 2, 3];
    const r = rng(31);
    const mha = new MultiHeadAttention({ numHeads: heads, keyDim: kd, seed: 5 });
    const qx = randArray(b * tq * dim, r);
    const vx = randArray(b * tk * dim, r);
    const mask = Array.from({ length: b * tq * tk }, () => (r() < 0.7 ? 1 : 0));
    const before = memory().numTensors;
    const ins = [tensor(qx, [b, tq, dim]), tensor(vx, [b, tk, dim]), tensor(mask, [b, tq, tk], 'bool')];
    const y = tidy(() => mha.apply([ins[0], ins[1]], { attentionMask: ins[2] }));
    expect(y.shape).toEqual([b, tq, dim]);
    expect(mha.weights.map((w) => w.name!.slice(mha.name.length + 1))).toEqual([
      'query/kernel',
      'query/bias',
      'key/kernel',
      'key/bias',
      'value/kernel',
      'value/bias',
      'attention_output/kernel',
      'attention_output/bias',
    ]);
    // Random biases, so that they count.
    const w = await Promise.all(mha.weights.map((v) => v.data()));
    expect(w[0].length).toBe(dim * heads * kd);
    const biases = mha.weights.filter((v) => v.name!.endsWith('bias'));
    for (const bv of biases) {
      const t = tensor(randArray(bv.size, r), bv.shape);
      bv.assign(t);
      t.dispose();
    }
    const y2 = tidy(() => mha.apply([ins[0], ins[1]], { attentionMask: ins[2] }));
    const W = await Promise.all(mha.weights.map((v) => v.data()));
    const q = dense(qx, b * tq, dim, W[0], W[1], heads * kd);
    const k = dense(vx, b * tk, dim, W[2], W[3], heads * kd);
    const v = dense(vx, b * tk, dim, W[4], W[5], heads * kd);
    const o = attentionRef(q, k, v, { b, tq, tk, h: heads, d: kd, dv: kd }, { mask, maskBatch: true });
    const ref = dense(o, b * tq, heads * kd, W[6], W[7], dim);
    expectClose(await y2.data(), ref, { atol: 1e-5, rtol: 1e-4 });
    dispose([y, y2, ...ins]);
    const cfg = layerFromConfig({
      className: 'MultiHeadAttention',
      config: mha.getConfig(),
    }) as MultiHeadAttention;
    expect([cfg.numHeads, cfg.keyDim, cfg.valueDim]).toEqual([heads, kd, kd]);
    mha.dispose();
    expect(memory().numTensors).toBe(before);
  });

  it('causal self-attention gives a gradient for each of its 8 weights', async () => {
    const r = rng(32);
    const mha = new MultiHeadAttention({ numHeads: 4, keyDim: 8, valueDim: 6, outputShape: 12, seed: 9 });
    const x = tensor(randArray(3 * 17 * 16, r), [3, 17, 16]);
    const wOut = tensor(randArray(3 * 17 * 12, r), [3, 17, 12]);
    const loss = () => sum(mul(mha.apply(x, { useCausalMask: true }), wOut));
    mha.apply(x).dispose();
    const { value, grads } = variableGrads(loss, mha.trainableWeights);
    expect(grads.size).toBe(8);
    for (const [v, g] of grads) {
      expect(g.shape).toEqual(v.shape);
      const d = await g.data();
      expect(d.every(Number.isFinite)).toBe(true);
      expect(d.some((e) => e !== 0)).toBe(true);
    }
    dispose([value, ...grads.values(), x, wOut]);
    mha.dispose();
  });

  it('gradients of q, k and v: fused equals composed (autograd through matmul and softmax)', async () => {
    const r = rng(33);
    const shape = [2, 19, 3, 8];
    const q = tensor(randArray(2 * 19 * 3 * 8, r, -2, 2), shape);
    const k = tensor(randArray(2 * 19 * 3 * 8, r, -2, 2), shape);
    const v = tensor(randArray(2 * 19 * 3 * 8, r), shape);
    const w = tensor(randArray(2 * 19 * 3 * 8, r), shape);
    const mask = tensor(
      Array.from({ length: 2 * 19 * 19 }, () => (r() < 0.8 ? 1 : 0)),
      [2, 19, 19],
      'bool',
    );
    const { variable } = await import('../src/index.js');
    const vars = [variable(q), variable(k), variable(v)];
    for (const causal of [false, true]) {
      const f = (fn: typeof dotProductAttention) => () =>
        sum(mul(fn(vars[0], vars[1], vars[2], { causal, mask }), w));
      const g1 = variableGrads(f(dotProductAttention), vars);
      const g2 = variableGrads(f(composedAttention as typeof dotProductAttention), vars);
      for (const vv of vars) {
        expectClose(
          await g1.grads.get(vv)!.data(),
          await g2.grads.get(vv)!.data(),
          { atol: 1e-5, rtol: 1e-3 },
          `causal ${causal}`,
        );
      }
      dispose([g1.value, g2.value, ...g1.grads.values(), ...g2.grads.values()] as Tensor[]);
    }
    dispose([q, k, v, w, mask, ...vars]);
  });
});
