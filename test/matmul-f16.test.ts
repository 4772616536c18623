import { describe, expect, it } from 'vitest';
import { ArgumentError, deviceInfo, matmul, memory, tensor } from '../src/index.js';
import { randArray, rng } from './helpers.js';
import { matmulOracle } from './oracle/matmul.js';

/*
 * matmul(..., { precision: 'f16' }): the operands are rounded to f16 (relative error <= 2^-11
 * each), products and sums are f32. So each output may differ from the float64 oracle by at most
 * about 2 * 2^-11 * sum_k |a_ik| |b_kj| (plus f32 rounding): that bound, computed by the oracle
 * on |a| and |b|, is the tolerance. An indexing or padding bug gives O(1) errors.
 */

const U = 2 ** -11;
const cases: Array<[number, number, number, boolean, boolean]> = [
  [1, 1, 1, false, false],
  [3, 5, 7, false, false], // K and N off the quad grid
  [37, 70, 45, true, false],
  [33, 9, 130, false, true],
  [64, 64, 64, true, true],
  [5, 130, 3, false, false],
];

describe('matmul precision f16', () => {
  it('adapter: lavapipe has shader-f16 (the path is tested, not the fallback)', () => {
    if (!/llvmpipe|lavapipe/i.test(deviceInfo().description)) return;
    expect(deviceInfo().features).toContain('shader-f16');
  });

  for (const [M, N, K, tA, tB] of cases) {
    it(`[${M},${K}]x[${K},${N}] tA=${tA} tB=${tB} within the f16 rounding bound`, async () => {
      const r = rng(M * 1000 + N * 10 + K);
      const as = tA ? [K, M] : [M, K];
      const bs = tB ? [N, K] : [K, N];
      const av = randArray(M * K, r, -2, 2);
      const bv = randArray(K * N, r, -2, 2);
      const biasv = randArray(N, r);
      const o = { transposeA: tA, transposeB: tB };
      const want = matmulOracle(av, as, bv, bs, { ...o, bias: biasv, activation: 'relu' }).data;
      const bound = matmulOracle(av.map(Math.abs), as, bv.map(Math.abs), bs, o).data;
      const n0 = memory().numTensors;
      const [a, b, bias] = [tensor(av, as), tensor(bv, bs), tensor(biasv, [N])];
      const y = matmul(a, b, { ...o, bias, activation: 'relu', precision: 'f16' });
      expect(y.shape).toEqual([M, N]);
      const got = await y.data();
      let worst = 0;
      for (let i = 0; i < got.length; i++) {
        const tol = 2.01 * U * bound[i] + 1e-6 * (1 + Math.abs(want[i]));
        worst = Math.max(worst, Math.abs(got[i] - want[i]) / tol);
      }
      expect(worst, 'error / bound').toBeLessThanOrEqual(1);
      for (const t of [a, b, bias, y]) t.dispose();
      expect(memory().numTensors).toBe(n0);
    });
  }

  it('rounds: f16 results differ from f32 ones (the path really is half precision)', async () => {
    if (!deviceInfo().features.includes('shader-f16')) return;
    const a = tensor(randArray(16 * 32, rng(1)), [16, 32]);
    const b = tensor(randArray(32 * 8, rng(2)), [32, 8]);
    const [h, f] = [matmul(a, b, { precision: 'f16' }), matmul(a, b)];
    expect(await h.data()).not.toEqual(await f.data());
    for (const t of [a, b, h, f]) t.dispose();
  });

  it('rejects a bad precision and batched operands', () => {
    const a = tensor([1, 2, 3, 4], [2, 2]);
    const a3 = tensor([1, 2, 3, 4], [1, 2, 2]);
    expect(() => matmul(a, a, { precision: 'f8' as never })).toThrow(ArgumentError);
    expect(() => matmul(a, a, { precision: 'f8' as never })).toThrow(
      /precision must be 'f32' or 'f16', got "f8"/,
    );
    expect(() => matmul(a3, a, { precision: 'f16' })).toThrow(
      /precision 'f16' takes rank-2 operands, got a \[1,2,2\]/,
    );
    a.dispose();
    a3.dispose();
  });
});
