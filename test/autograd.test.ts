import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  abs,
  add,
  argMax,
  clipByValue,
  concat,
  cos,
  DTypeError,
  div,
  elu,
  exp,
  gather,
  grad,
  grads,
  leakyRelu,
  log,
  logSoftmax,
  logSumExp,
  matmul,
  max,
  maximum,
  mean,
  memory,
  min,
  minimum,
  mul,
  neg,
  pow,
  prod,
  reciprocal,
  relu,
  relu6,
  reshape,
  rsqrt,
  ShapeError,
  sigmoid,
  sin,
  slice,
  softmax,
  softplus,
  sparseSoftmaxCrossEntropy,
  sqrt,
  square,
  squaredDifference,
  stack,
  sub,
  sum,
  type Tensor,
  tanh,
  tensor,
  tile,
  transpose,
  valueAndGrad,
  valueAndGrads,
  variable,
  variableGrads,
  where,
  zeros,
} from '../src/index.js';
import { checkGrad } from './gradcheck.js';
import { randArray, rng } from './helpers.js';
import { map64 } from './oracle/autograd.js';
import { UNARY_F32 } from './oracle/elementwise.js';
import { matmulOracle, type OracleActivation } from './oracle/matmul.js';
import { concatRef, gatherRef, sliceRef, stackRef, tileRef, transposeRef } from './oracle/movement.js';
import { reduceRef, softmaxRef } from './oracle/reduce.js';

// Gradient checks: autograd (GPU, float32) against central finite differences of the float64
// CPU oracle, on random inputs kept away from kinks (|x| >= 0.1 for relu-like ops). Tolerance:
// |analytic - numeric| <= 2e-3 + 2e-2 |numeric| (see test/gradcheck.ts).

const r = rng(7);
/** Random values in [lo, hi] whose magnitude is at least `gap` (away from kinks at 0). */
function vals(n: number, lo = -2, hi = 2, gap = 0.1): Float32Array {
  const a = randArray(n, r, lo, hi);
  for (let i = 0; i < n; i++) if (Math.abs(a[i]) < gap) a[i] = a[i] < 0 ? -gap - r() * 0.5 : gap + r() * 0.5;
  return a;
}
const inp = (shape: number[], data?: Float32Array) => ({
  shape,
  data: data ?? vals(shape.reduce((a, b) => a * b, 1)),
});

describe('backward rules of unary ops', () => {
  const cases: Array<[string, (x: Tensor) => Tensor, (x: number) => number, [number, number]?]> = [
    ['neg', neg, UNARY_F32.neg],
    ['abs', abs, UNARY_F32.abs],
    ['exp', exp, UNARY_F32.exp],
    ['log', log, UNARY_F32.log, [0.2, 3]],
    ['sqrt', sqrt, UNARY_F32.sqrt, [0.2, 3]],
    ['rsqrt', rsqrt, UNARY_F32.rsqrt, [0.3, 3]],
    ['square', square, UNARY_F32.square],
    ['reciprocal', reciprocal, UNARY_F32.reciprocal, [0.5, 3]],
    ['relu', relu, UNARY_F32.relu],
    ['relu6', relu6, UNARY_F32.relu6, [-3, 9]],
    ['sigmoid', sigmoid, UNARY_F32.sigmoid],
    ['tanh', tanh, UNARY_F32.tanh],
    ['softplus', softplus, UNARY_F32.softplus],
    ['elu', elu, UNARY_F32.elu],
    ['sin', sin, UNARY_F32.sin],
    ['cos', cos, UNARY_F32.cos],
    ['leakyRelu', (x) => leakyRelu(x, 0.3), (x) => (x >= 0 ? x : 0.3 * x)],
  ];
  for (const [name, f, ref, range] of cases) {
    it(name, async () => {
      const [lo, hi] = range ?? [-2, 2];
      let data = vals(13, lo, hi);
      if (name === 'relu6') data = data.map((v) => (Math.abs(v - 6) < 0.1 ? 6.3 : v));
      await checkGrad({
        label: name,
        f,
        oracle: ([x]) => map64([{ data: x, shape: [13] }], ref).data,
        inputs: [inp([13], data)],
      });
    });
  }
});

describe('backward rules of binary ops (with broadcasting)', () => {
  const shapes: Array<[number[], number[]]> = [
    [
      [2, 3],
      [2, 3],
    ],
    [[2, 3], [3]],
    [
      [2, 1, 3],
      [4, 1],
    ],
    [[3], []],
  ];
  const ops: Array<[string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number, boolean?]> = [
    ['add', add, (a, b) => a + b],
    ['sub', sub, (a, b) => a - b],
    ['mul', mul, (a, b) => a * b],
    ['div', div, (a, b) => a / b, true],
    ['maximum', maximum, Math.max],
    ['minimum', minimum, Math.min],
    ['squaredDifference', squaredDifference, (a, b) => (a - b) ** 2],
    ['pow', pow, (a, b) => a ** b, true],
  ];
  for (const [name, f, ref, positive] of ops) {
    for (const [sa, sb] of shapes) {
      it(`${name} ${JSON.stringify(sa)} x ${JSON.stringify(sb)}`, async () => {
        const na = sa.reduce((p, d) => p * d, 1);
        const nb = sb.reduce((p, d) => p * d, 1);
        // Distinct magnitudes keep maximum/minimum away from ties.
        const a = positive ? vals(na, 0.5, 2) : vals(na, -2, 2);
        const b = positive ? vals(nb, 0.5, 2) : vals(nb, -2, 2).map((v) => v + 0.05);
        await checkGrad({
          label: name,
          f,
          oracle: ([x, y]) =>
            map64(
              [
                { data: x, shape: sa },
                { data: y, shape: sb },
              ],
              ref,
            ).data,
          inputs: [inp(sa, a), inp(sb, b)],
        });
      });
    }
  }

  it('where and clipByValue', async () => {
    const c = tensor([true, false, true, false, true, true], [2, 3]);
    await checkGrad({
      label: 'where',
      f: (a, b) => where(c, a, b),
      oracle: ([a, b]) =>
        map64(
          [
            { data: [1, 0, 1, 0, 1, 1], shape: [2, 3] },
            { data: a, shape: [2, 3] },
            { data: b, shape: [3] },
          ],
          (k, x, y) => (k ? x : y),
        ).data,
      inputs: [inp([2, 3]), inp([3])],
    });
    c.dispose();
    await checkGrad({
      label: 'clipByValue',
      f: (x) => clipByValue(x, -0.5, 0.7),
      oracle: ([x]) => map64([{ data: x, shape: [9] }], (v) => Math.min(0.7, Math.max(-0.5, v))).data,
      inputs: [inp([9], Float32Array.from([-1.5, -0.3, 0.2, 0.6, 1.4, -0.8, 0.45, 2, -0.1]))],
    });
  });
});

describe('backward rules of reductions and softmax', () => {
  const shape = [2, 3, 4];
  const cases: Array<[string, (x: Tensor) => Tensor, (x: Float64Array) => ArrayLike<number>]> = [
    ['sum all', (x) => sum(x), (x) => reduceRef('sum', x, shape, [0, 1, 2])],
    ['sum axis 1 keepDims', (x) => sum(x, 1, true), (x) => reduceRef('sum', x, shape, [1])],
    ['mean axes [0,2]', (x) => mean(x, [0, 2]), (x) => reduceRef('mean', x, shape, [0, 2])],
    ['max axis -1', (x) => max(x, -1), (x) => reduceRef('max', x, shape, [2])],
    ['min axis 0', (x) => min(x, 0), (x) => reduceRef('min', x, shape, [0])],
    ['prod axis 2', (x) => prod(x, 2), (x) => reduceRef('prod', x, shape, [2])],
    ['logSumExp axis 1', (x) => logSumExp(x, 1), (x) => reduceRef('logSumExp', x, shape, [1])],
    ['softmax axis -1', (x) => softmax(x, -1), (x) => softmaxRef('softmax', x, shape, 2)],
    ['softmax axis 1', (x) => softmax(x, 1), (x) => softmaxRef('softmax', x, shape, 1)],
    ['logSoftmax axis -1', (x) => logSoftmax(x, -1), (x) => softmaxRef('logSoftmax', x, shape, 2)],
  ];
  for (const [name, f, oracle] of cases) {
    it(name, async () => {
      await checkGrad({ label: name, f, oracle: ([x]) => oracle(x), inputs: [inp(shape)] });
    });
  }

  it('fused sparse softmax cross-entropy (w.r.t. logits)', async () => {
    const labels = tensor([2, 0, 4], [3], 'int32');
    const lab = [2, 0, 4];
    await checkGrad({
      label: 'sparseSoftmaxCrossEntropy',
      f: (logits) => sparseSoftmaxCrossEntropy(labels, logits),
      oracle: ([x]) => {
        const ls = softmaxRef('logSoftmax', x, [3, 5], 1);
        return lab.map((l, i) => -ls[i * 5 + l]);
      },
      inputs: [inp([3, 5], vals(15, -3, 3))],
    });
    labels.dispose();
  });
});

describe('backward rule of matmul', () => {
  const acts: OracleActivation[] = ['linear', 'relu', 'relu6', 'sigmoid', 'tanh'];
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      it(`transposeA=${transposeA} transposeB=${transposeB}`, async () => {
        const [M, K, N] = [3, 4, 5];
        const aS = transposeA ? [K, M] : [M, K];
        const bS = transposeB ? [N, K] : [K, N];
        await checkGrad({
          label: 'matmul',
          f: (a, b) => matmul(a, b, { transposeA, transposeB }),
          oracle: ([a, b]) => matmulOracle(a, aS, b, bS, { transposeA, transposeB }).data,
          inputs: [inp(aS), inp(bS)],
        });
      });
    }
  }
  for (const activation of acts) {
    it(`fused bias + ${activation}`, async () => {
      await checkGrad({
        label: `matmul+${activation}`,
        f: (a, b, bias) => matmul(a, b, { bias, activation }),
        oracle: ([a, b, bias]) => matmulOracle(a, [4, 3], b, [3, 2], { bias, activation }).data,
        // Small weights keep relu6 away from its kinks at 0 and 6 for these inputs.
        inputs: [inp([4, 3]), inp([3, 2], vals(6, -1, 1)), inp([2], Float32Array.from([0.31, -0.27]))],
        atol: 3e-3,
      });
    });
  }
  it('batched with broadcast batch dims', async () => {
    await checkGrad({
      label: 'batched matmul',
      f: (a, b) => matmul(a, b),
      oracle: ([a, b]) => matmulOracle(a, [2, 1, 3, 4], b, [3, 4, 2]).data,
      inputs: [inp([2, 1, 3, 4]), inp([3, 4, 2])],
    });
  });
});

describe('backward rules of movement ops', () => {
  const arr = (d: Float64Array, shape: number[]) => ({ data: d, shape });
  it('reshape and transpose', async () => {
    await checkGrad({
      label: 'reshape',
      f: (x) => reshape(x, [4, 3]),
      oracle: ([x]) => x,
      inputs: [inp([2, 6])],
    });
    await checkGrad({
      label: 'transpose',
      f: (x) => transpose(x, [2, 0, 1]),
      oracle: ([x]) => transposeRef(arr(x, [2, 3, 4]), [2, 0, 1]).data,
      inputs: [inp([2, 3, 4])],
    });
  });
  it('slice', async () => {
    await checkGrad({
      label: 'slice',
      f: (x) => slice(x, [1, 0, 1], [1, 2, 3]),
      oracle: ([x]) => sliceRef(arr(x, [2, 3, 4]), [1, 0, 1], [1, 2, 3]).data,
      inputs: [inp([2, 3, 4])],
    });
  });
  it('concat, stack and tile', async () => {
    await checkGrad({
      label: 'concat',
      f: (a, b) => concat([a, b], 1),
      oracle: ([a, b]) => concatRef([arr(a, [2, 3]), arr(b, [2, 2])], 1).data,
      inputs: [inp([2, 3]), inp([2, 2])],
    });
    await checkGrad({
      label: 'stack',
      f: (a, b) => stack([a, b], 1),
      oracle: ([a, b]) => stackRef([arr(a, [2, 3]), arr(b, [2, 3])], 1).data,
      inputs: [inp([2, 3]), inp([2, 3])],
    });
    await checkGrad({
      label: 'tile',
      f: (x) => tile(x, [2, 3]),
      oracle: ([x]) => tileRef(arr(x, [2, 2]), [2, 3]).data,
      inputs: [inp([2, 2])],
    });
  });
  it('gather with repeated indices, axis 0 and 1', async () => {
    const idx = tensor([2, 0, 2, 1], [2, 2], 'int32');
    const idxArr = { data: [2, 0, 2, 1], shape: [2, 2] };
    for (const axis of [0, 1]) {
      await checkGrad({
        label: `gather axis ${axis}`,
        f: (x) => gather(x, idx, axis),
        oracle: ([x]) => gatherRef(arr(x, [3, 3, 2]), idxArr, axis).data,
        inputs: [inp([3, 3, 2])],
      });
    }
    idx.dispose();
  });
});

describe('the tape', () => {
  it('accumulates gradients of a tensor used twice and gives zeros for unused inputs', async () => {
    const x = tensor([1, 2, 3]);
    const y = tensor([4, 5, 6]);
    const [gx, gy] = grads((a, _b) => sum(add(mul(a, a), a)))([x, y]);
    expect(Array.from(await gx.data())).toEqual([3, 5, 7]);
    expect(Array.from(await gy.data())).toEqual([0, 0, 0]);
    for (const t of [x, y, gx, gy]) t.dispose();
  });

  it('takes dy for non-scalar results, and valueAndGrad returns the value', async () => {
    const x = tensor([1, 2]);
    const dy = tensor([10, 100]);
    const g = grad((a) => square(a))(x, dy);
    expect(Array.from(await g.data())).toEqual([20, 400]);
    const { value, grad: g2 } = valueAndGrad((a) => sum(exp(a)))(x);
    expect((await value.data())[0]).toBeCloseTo(Math.E + Math.E ** 2, 4);
    expect(Array.from(await g2.data()).map((v) => Number(v.toFixed(4)))).toEqual(
      [Math.E, Math.E ** 2].map((v) => Number(v.toFixed(4))),
    );
    for (const t of [x, dy, g, value, g2]) t.dispose();
  });

  it('returns dy itself as a copy when f is the identity', async () => {
    const x = tensor([1, 2]);
    const dy = tensor([3, 4]);
    const g = grad((a) => a)(x, dy);
    expect(g).not.toBe(dy);
    expect(Array.from(await g.data())).toEqual([3, 4]);
    for (const t of [x, dy, g]) t.dispose();
  });

  it('frees every intermediate: memory returns to its start after the grads are disposed', async () => {
    const x = tensor(vals(12), [3, 4]);
    const w = variable(tensor(vals(8), [4, 2]));
    const before = memory();
    for (let i = 0; i < 3; i++) {
      const { value, grads: g } = variableGrads(() => sum(softmax(relu(matmul(x, w)))), [w]);
      value.dispose();
      for (const t of g.values()) t.dispose();
    }
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
    x.dispose();
    w.dispose();
  });

  it('stops at integer tensors and explains bad calls', () => {
    const x = tensor([1.5, 2.5]);
    const i = tensor([1, 2], [2], 'int32');
    expect(() => grad((a) => sum(a))(i)).toThrow(DTypeError);
    expect(() => grad((a) => a)(x)).toThrow(ShapeError);
    expect(() => grad((a) => a)(x)).toThrow(/must return a scalar/);
    // argMax has no gradient: the result does not depend on x through a differentiable path.
    expect(() => grad((a) => sum(mul(a, 0)))(x)).not.toThrow();
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => valueAndGrads((() => 3) as any)([x])).toThrow(ArgumentError);
    void argMax;
    x.dispose();
    i.dispose();
    zeros([1]).dispose();
  });
});
