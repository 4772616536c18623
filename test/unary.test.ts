import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DisposedTensorError,
  DTypeError,
  memory,
  randomUniform,
  sync,
  type Tensor,
  tensor,
  tidy,
} from '../src/index.js';
import {
  abs,
  ceil,
  cos,
  elu,
  exp,
  floor,
  leakyRelu,
  log,
  neg,
  reciprocal,
  relu,
  relu6,
  reluGrad,
  round,
  rsqrt,
  sigmoid,
  sign,
  sin,
  softplus,
  sqrt,
  square,
  step,
  tanh,
} from '../src/kernels/unary.js';
import { expectClose, randArray, randInts, randShape, rng, type Tol } from './helpers.js';
import { Checks, leakyReluRef, stepRef, UNARY_F32, UNARY_I32 } from './oracle/elementwise.js';

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

const OPS: Record<string, (x: Tensor) => Tensor> = {
  neg,
  abs,
  exp,
  log,
  sqrt,
  rsqrt,
  square,
  reciprocal,
  relu,
  relu6,
  sigmoid,
  tanh,
  sign,
  floor,
  ceil,
  round,
  sin,
  cos,
  softplus,
  elu,
};

// Tolerances: exact for ops that are one correctly rounded operation (or none); measured lavapipe
// errors with headroom for the transcendental ones (WGSL allows a few ULP).
const EXACT: Tol = { atol: 0, rtol: 0 };
const TOL: Record<string, Tol> = {
  neg: EXACT,
  abs: EXACT,
  square: EXACT,
  relu: EXACT,
  relu6: EXACT,
  sign: EXACT,
  floor: EXACT,
  ceil: EXACT,
  round: EXACT,
  sqrt: { atol: 0, rtol: 3e-7 },
  rsqrt: { atol: 0, rtol: 3e-7 },
  reciprocal: { atol: 0, rtol: 3e-7 },
  exp: { atol: 1e-30, rtol: 3e-6 },
  log: { atol: 1e-6, rtol: 3e-6 },
  sigmoid: { atol: 1e-7, rtol: 3e-6 },
  tanh: { atol: 0, rtol: 1e-6 },
  sin: { atol: 3e-7, rtol: 0 },
  cos: { atol: 3e-7, rtol: 0 },
  softplus: { atol: 1e-30, rtol: 3e-6 },
  elu: { atol: 0, rtol: 3e-6 },
};

/** Inputs in a range suited to the op (log/sqrt of positives, sin/cos where WGSL is accurate). */
function inputs(op: string, n: number, r: () => number): Float32Array {
  if (op === 'log' || op === 'sqrt' || op === 'rsqrt') return randArray(n, r, 1e-3, 50);
  if (op === 'sin' || op === 'cos') return randArray(n, r, -10, 10);
  if (op === 'floor' || op === 'ceil' || op === 'round')
    return randArray(n, r, -4, 4).map((v) => Math.round(v * 4) / 4);
  return randArray(n, r, -20, 20);
}

const EDGE = [
  0,
  -0,
  1,
  -1,
  0.5,
  -0.5,
  1.5,
  2.5,
  -2.5,
  6,
  7,
  100,
  -100,
  1e30,
  -1e30,
  Infinity,
  -Infinity,
  NaN,
  1e-30,
  -1e-30,
];
const INT_EDGE = [0, 1, -1, 5, 6, 7, -7, 46341, 2147483647, -2147483648];

/** Shapes: rank 0-4, size 1, sizes off the 256-lane grid, odd sizes (scalar path) and vec4 sizes. */
function shapes(r: () => number): number[][] {
  return [[], [1], [3], [255], [257], [1000], [1023], randShape(2, r), randShape(3, r), randShape(4, r, 5)];
}

describe('unary float32 ops', () => {
  for (const op of Object.keys(OPS)) {
    it(`${op} matches the oracle on random shapes and edge values`, async () => {
      const r = rng(op.length * 7919 + op.charCodeAt(0));
      const checks = new Checks();
      for (const shape of shapes(r)) {
        const x = inputs(op, size(shape), r);
        const y = OPS[op](tensor(x, shape));
        expect(y.dtype).toBe('float32');
        checks.add(
          y,
          { data: Float32Array.from(x, UNARY_F32[op]), shape },
          TOL[op],
          `${op} ${JSON.stringify(shape)}`,
        );
      }
      // WGSL sin/cos are only accurate for moderate arguments.
      const edge =
        op === 'sin' || op === 'cos' ? EDGE.filter((v) => !(Math.abs(v) > 100) || !Number.isFinite(v)) : EDGE;
      const e = new Float32Array(edge);
      checks.add(
        OPS[op](tensor(e)),
        { data: Float32Array.from(e, UNARY_F32[op]), shape: [e.length] },
        TOL[op],
        `${op} edge`,
      );
      await checks.done();
    });
  }

  it('activations keep relative precision near 0 and do not overflow for large |x|', async () => {
    const x = new Float32Array([1e-30, -1e-30, 1e-6, -1e-6, -17, -30, 80, -80, 1e4, -1e4]);
    const checks = new Checks();
    for (const op of ['tanh', 'sigmoid', 'softplus', 'elu']) {
      checks.add(
        OPS[op](tensor(x)),
        { data: Float32Array.from(x, UNARY_F32[op]), shape: [x.length] },
        TOL[op],
        op,
      );
    }
    await checks.done();
  });

  it('leakyRelu and step take alpha', async () => {
    const r = rng(5);
    const checks = new Checks();
    const expect1 = (y: Tensor, x: Float32Array, shape: number[], f: (v: number) => number, label: string) =>
      checks.add(y, { data: Float32Array.from(x, f), shape }, EXACT, label);
    for (const shape of [[], [7], [4, 64], [3, 5, 7]]) {
      const x = randArray(size(shape), r, -3, 3);
      if (x.length > 2) x[1] = 0;
      expect1(leakyRelu(tensor(x, shape)), x, shape, leakyReluRef(0.2), 'leakyRelu');
      expect1(leakyRelu(tensor(x, shape), 0.01), x, shape, leakyReluRef(0.01), 'leakyRelu .01');
      expect1(step(tensor(x, shape)), x, shape, stepRef(0), 'step');
      expect1(step(tensor(x, shape), -0.5), x, shape, stepRef(-0.5), 'step alpha');
    }
    const e = new Float32Array(EDGE);
    expect1(leakyRelu(tensor(e)), e, [e.length], leakyReluRef(0.2), 'leakyRelu edge');
    expect1(step(tensor(e)), e, [e.length], stepRef(0), 'step edge');
    await checks.done();
    const s = step(tensor([-3, 0, 2], [3], 'int32'));
    expect(s.dtype).toBe('float32');
    expect(Array.from(await s.data())).toEqual([0, 0, 1]);
  });
});

describe('unary int32 ops', () => {
  for (const op of Object.keys(UNARY_I32)) {
    it(`${op} matches the oracle for int32 (wrapping like int32)`, async () => {
      const r = rng(op.length * 31);
      const cases = shapes(r).map((shape) => ({ shape, x: randInts(size(shape), r, -50, 50) }));
      cases.push({ shape: [INT_EDGE.length], x: Int32Array.from(INT_EDGE) });
      const checks = new Checks();
      for (const { shape, x } of cases) {
        const y = OPS[op](tensor(x, shape, 'int32'));
        expect(y.dtype).toBe('int32');
        checks.add(
          y,
          { data: Int32Array.from(x, UNARY_I32[op]), shape },
          EXACT,
          `${op} int32 ${JSON.stringify(shape)}`,
        );
      }
      await checks.done();
    });
  }
});

describe('unary edge cases and errors', () => {
  it('returns empty tensors for zero-size inputs', async () => {
    const y = exp(tensor([], [0, 3]));
    expect(y.shape).toEqual([0, 3]);
    expect((await y.data()).length).toBe(0);
  });

  it('handles a tensor over the storage binding limit (chunked, size not a multiple of 4)', async () => {
    const n = 33_554_432 + 777; // > 128 MiB of float32, not a multiple of 4
    const x = randomUniform([n], -5, 5, { seed: 9 });
    const y = relu(x);
    const xs = await x.data();
    const ys = await y.data();
    const idx: number[] = [];
    for (let i = 0; i < n; i += 4099) idx.push(i);
    for (let i = 33_554_432 - 3; i < n; i += 97) idx.push(i);
    idx.push(n - 1);
    expectClose(
      idx.map((i) => ys[i]),
      idx.map((i) => UNARY_F32.relu(xs[i])),
      EXACT,
      'relu big',
    );
    x.dispose();
    y.dispose();
  });

  it('rejects bad inputs with typed errors naming the op and argument', () => {
    expect(() => exp(tensor([1, 2], [2], 'int32'))).toThrow(DTypeError);
    expect(() => exp(tensor([1, 2], [2], 'int32'))).toThrow(/exp: x must have dtype float32, got int32/);
    expect(() => neg(tensor([true]))).toThrow(/neg: x must have dtype float32 or int32, got bool/);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => relu([1, 2] as any)).toThrow(/relu: x must be a Tensor, got object/);
    expect(() => leakyRelu(tensor([1]), Number.NaN)).toThrow(ArgumentError);
    expect(() => leakyRelu(tensor([1]), Number.NaN)).toThrow(
      /leakyRelu: alpha must be a finite number, got NaN/,
    );
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => step(tensor([1]), '1' as any)).toThrow(/step: alpha/);
    expect(() => leakyRelu(tensor([1], [1], 'int32'))).toThrow(DTypeError);
    const t = tensor([1]);
    t.dispose();
    expect(() => sigmoid(t)).toThrow(DisposedTensorError);
    expect(() => sigmoid(t)).toThrow(/sigmoid: x/);
  });

  it('leaves memory() as it found it after a tidy over every op', async () => {
    const x = tensor(randArray(1000, rng(1), -2, 2), [10, 100]);
    const xi = tensor(randInts(12, rng(2), -5, 5), [3, 4], 'int32');
    const run = () =>
      tidy(() => {
        for (const f of Object.values(OPS)) f(x);
        for (const op of Object.keys(UNARY_I32)) OPS[op](xi);
        leakyRelu(x, 0.1);
        step(x);
        step(xi);
      });
    const start = memory();
    run();
    await sync();
    const after = memory();
    expect(after.numTensors).toBe(start.numTensors);
    expect(after.numBytes).toBe(start.numBytes);
    // A second run reuses the pooled buffers: nothing new is allocated.
    run();
    await sync();
    expect(memory()).toEqual(after);
    x.dispose();
    xi.dispose();
  });
});

describe('reluGrad (the one-pass gradient of relu and relu6)', () => {
  // The composed rules it replaces: relu dy * step(v) (NaN in v gives NaN), relu6
  // dy * float(v > 0 && v < 6); an infinite dy under a zero mask gives NaN, as a product does.
  const oracle = (act: 'relu' | 'relu6', d: number, v: number) => {
    if (act === 'relu') return Number.isNaN(v) ? Number.NaN : d * (v > 0 ? 1 : 0);
    return d * (v > 0 && v < 6 ? 1 : 0);
  };

  it('matches the composed formula at the kinks, for NaN and infinities, and on random odd shapes', async () => {
    const v = [-1, -0, 0, 1e-7, 0.5, 5.999, 6, 6.001, 7, Number.NaN, Number.POSITIVE_INFINITY, -3];
    const d = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, Number.POSITIVE_INFINITY];
    for (const act of ['relu', 'relu6'] as const) {
      const got = await reluGrad(tensor(d), tensor(v), act).data();
      const want = v.map((x, i) => oracle(act, d[i], x));
      expect(Array.from(got), act).toEqual(want);
      const r = rng(act === 'relu' ? 5 : 6);
      for (const shape of [[7], [3, 5, 9], [2, 1, 33, 3]]) {
        const n = size(shape);
        const dv = randArray(n, r, -2, 2);
        const vv = randArray(n, r, -2, 8);
        const out = await reluGrad(tensor(dv, shape), tensor(vv, shape), act).data();
        expect(Array.from(out)).toEqual(Array.from(vv, (x, i) => Math.fround(oracle(act, dv[i], x))));
      }
    }
  });

  it('rejects mismatched shapes and non-float inputs, naming the argument', () => {
    expect(() => reluGrad(tensor([1, 2]), tensor([1, 2, 3]), 'relu')).toThrow(ArgumentError);
    expect(() => reluGrad(tensor([1, 2]), tensor([1, 2, 3]), 'relu')).toThrow(
      'reluGrad: dy and v must have the same shape, got [2] and [3]',
    );
    expect(() => reluGrad(tensor([1], [1], 'int32'), tensor([1]), 'relu6')).toThrow(DTypeError);
    expect(() => reluGrad(tensor([1]), tensor([1], [1], 'int32'), 'relu6')).toThrow(/reluGrad: v/);
  });
});
