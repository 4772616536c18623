import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { add, matmul, mul, softmax, sum, tensor, tidy } from '../src/index.js';
import { checkGrad } from './gradcheck.js';
import { expectClose } from './helpers.js';
import { map64 } from './oracle/autograd.js';
import { matmulOracle } from './oracle/matmul.js';
import { reduceRef, softmaxRef } from './oracle/reduce.js';

// Property tests: fast-check draws shapes and values; every property compares a GPU kernel with
// the CPU oracle (or autograd with finite differences). Runs are seeded so failures reproduce.

const dim = fc.integer({ min: 1, max: 9 });
const shape = (maxRank: number) => fc.array(dim, { minLength: 0, maxLength: maxRank });
const values = (n: number) =>
  fc.array(fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), {
    minLength: n,
    maxLength: n,
  });
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const opts = { numRuns: 25, seed: 20261125 };

/** A shape and a second shape broadcastable to it (some dims set to 1, some leading dims dropped). */
const broadcastPair = shape(4).chain((s) =>
  fc
    .tuple(
      fc.constant(s),
      fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }),
      fc.nat(s.length),
    )
    .map(([a, ones, drop]) => [a, a.map((d, i) => (ones[i] ? 1 : d)).slice(drop)] as [number[], number[]]),
);

describe('properties (fast-check)', () => {
  it('add broadcasts like NumPy for any pair of compatible shapes', async () => {
    await fc.assert(
      fc.asyncProperty(
        broadcastPair.chain(([a, b]) =>
          fc.tuple(fc.constant(a), fc.constant(b), values(size(a)), values(size(b))),
        ),
        async ([sa, sb, va, vb]) => {
          const [ta, tb] = [tensor(Float32Array.from(va), sa), tensor(Float32Array.from(vb), sb)];
          const out = add(ta, tb);
          const want = map64(
            [
              { data: va, shape: sa },
              { data: vb, shape: sb },
            ],
            (p, q) => Math.fround(p + q),
          );
          expect(out.shape).toEqual(want.shape);
          expectClose(
            await out.data(),
            want.data,
            { atol: 1e-5, rtol: 1e-6 },
            `add ${JSON.stringify(sa)}+${JSON.stringify(sb)}`,
          );
          for (const t of [ta, tb, out]) t.dispose();
        },
      ),
      opts,
    );
  });

  it('matmul matches the float64 oracle for any M, K, N and transposes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(dim, fc.integer({ min: 1, max: 40 }), dim, fc.boolean(), fc.boolean()),
        async ([m, k, n, ta, tb]) => {
          const aS = ta ? [k, m] : [m, k];
          const bS = tb ? [n, k] : [k, n];
          const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i + m));
          const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.7 + n));
          const [A, B] = [tensor(a, aS), tensor(b, bS)];
          const out = matmul(A, B, { transposeA: ta, transposeB: tb });
          const want = matmulOracle(a, aS, b, bS, { transposeA: ta, transposeB: tb });
          expectClose(
            await out.data(),
            want.data,
            { atol: 1e-5 * (1 + Math.sqrt(k)), rtol: 1e-4 },
            `matmul ${m}x${k}x${n}`,
          );
          for (const t of [A, B, out]) t.dispose();
        },
      ),
      opts,
    );
  });

  it('sum over any axes and softmax over any axis match the oracle', async () => {
    await fc.assert(
      fc.asyncProperty(
        shape(4).chain((s) => fc.tuple(fc.constant(s), values(size(s)), fc.subarray(s.map((_, i) => i)))),
        async ([s, v, axes]) => {
          const x = tensor(Float32Array.from(v), s);
          const got = await tidy(() => sum(x, axes)).data();
          expectClose(
            got,
            reduceRef('sum', v, s, axes),
            { atol: 1e-4, rtol: 1e-5 },
            `sum ${JSON.stringify(s)} axes ${axes}`,
          );
          if (s.length > 0) {
            const axis = axes.length ? axes[0] : s.length - 1;
            const p = await tidy(() => softmax(x, axis)).data();
            expectClose(
              p,
              softmaxRef('softmax', v, s, axis),
              { atol: 1e-6, rtol: 1e-5 },
              `softmax ${JSON.stringify(s)} axis ${axis}`,
            );
          }
          x.dispose();
        },
      ),
      opts,
    );
  });

  it('autograd of sum(a * b) + broadcasting matches finite differences on random shapes', async () => {
    await fc.assert(
      fc.asyncProperty(broadcastPair, async ([sa, sb]) => {
        const a = Float32Array.from({ length: size(sa) }, (_, i) => Math.sin(i * 1.3) + 0.1);
        const b = Float32Array.from({ length: size(sb) }, (_, i) => Math.cos(i * 0.9));
        await checkGrad({
          label: `mul ${JSON.stringify(sa)} * ${JSON.stringify(sb)}`,
          f: (x, y) => mul(x, y),
          oracle: ([x, y]) =>
            map64(
              [
                { data: x, shape: sa },
                { data: y, shape: sb },
              ],
              (p, q) => p * q,
            ).data,
          inputs: [
            { shape: sa, data: a },
            { shape: sb, data: b },
          ],
        });
      }),
      { ...opts, numRuns: 10 },
    );
  });
});
