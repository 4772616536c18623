import { afterEach, describe, expect, it } from 'vitest';
import { tensor, variable } from '../src/index.js';
import { applyUpdate, type UpdateRule } from '../src/kernels/optimizer.js';
import { setTuning } from '../src/kernels/tuning.js';
import { expectClose, randArray, rng } from './helpers.js';

afterEach(() => setTuning());

/** One step of each rule in float64 (Keras 3 formulas, as src/kernels/optimizer.ts). */
function stepRef(
  rule: UpdateRule,
  w: number[],
  g: number[],
  s1: number[],
  s2: number[],
  p: Record<string, number>,
) {
  for (let i = 0; i < w.length; i++) {
    if (rule === 'sgd') w[i] -= p.lr * g[i];
    else if (rule === 'momentum' || rule === 'nesterov') {
      const m = p.a * s1[i] - p.lr * g[i];
      s1[i] = m;
      w[i] += rule === 'momentum' ? m : p.a * m - p.lr * g[i];
    } else {
      const m = s1[i] + (g[i] - s1[i]) * (1 - p.a);
      const v = s2[i] + (g[i] * g[i] - s2[i]) * (1 - p.b);
      s1[i] = m;
      s2[i] = v;
      w[i] -= (p.lr * m) / (Math.sqrt(v) + p.eps);
    }
  }
}

describe('optimizer update kernels', () => {
  it('match the float64 formulas for every rule, on sizes with and without whole quads, in chunks', async () => {
    const r = rng(21);
    const p = { lr: 0.05, a: 0.9, b: 0.999, eps: 1e-7 };
    for (const rule of ['sgd', 'momentum', 'nesterov', 'adam'] as const) {
      const slots = rule === 'sgd' ? 0 : rule === 'adam' ? 2 : 1;
      // 1 and 1003: the scalar kernel; 12, 4100 and 1000 (in chunks of 256): the quad kernel.
      for (const [n, limit] of [
        [1, undefined],
        [12, undefined],
        [1003, undefined],
        [4100, undefined],
        [1000, 256],
        [1003, 256],
      ] as Array<[number, number | undefined]>) {
        setTuning({ updateChunkLimit: limit });
        const w0 = randArray(n, r);
        const s0 = [randArray(n, r), randArray(n, r, 0, 1)];
        const w = variable(tensor(w0));
        const sv = s0.slice(0, slots).map((s) => variable(tensor(s)));
        const ref = { w: Array.from(w0), s: s0.map((s) => Array.from(s)) };
        for (let step = 0; step < 2; step++) {
          const gd = randArray(n, r);
          const g = tensor(gd);
          applyUpdate(rule, w, g, sv, p);
          g.dispose();
          stepRef(rule, ref.w, Array.from(gd), ref.s[0], ref.s[1], p);
        }
        const label = `${rule} n=${n} chunk=${limit ?? 'all'}`;
        expectClose(await w.data(), ref.w, { atol: 1e-6, rtol: 1e-5 }, label);
        for (const [k, s] of sv.entries())
          expectClose(await s.data(), ref.s[k], { atol: 1e-6, rtol: 1e-5 }, label);
        for (const t of [w, ...sv]) t.dispose();
      }
    }
  });

  it('rejects a wrong number of slots and mismatched shapes', () => {
    const w = variable(tensor([1, 2, 3, 4]));
    const g = tensor([1, 1, 1, 1]);
    expect(() => applyUpdate('adam', w, g, [], { lr: 0.1 })).toThrow(
      'applyUpdate(adam): expected 2 slot variables, got 0',
    );
    expect(() => applyUpdate('sgd', w, tensor([1, 2]), [], { lr: 0.1 })).toThrow('does not match variable');
    w.dispose();
    g.dispose();
  });
});
