import { describe, expect, it } from 'vitest';
import { DisposedTensorError, type DType, DTypeError, memory, sync, tensor, tidy } from '../src/index.js';
import { cast } from '../src/kernels/cast.js';
import { randArray, randInts, randShape, rng } from './helpers.js';
import { Checks, castRef } from './oracle/elementwise.js';

const DTYPES: DType[] = ['float32', 'int32', 'bool'];
const F32_EDGE = [
  0,
  -0,
  0.5,
  -0.5,
  0.99,
  -0.99,
  1.5,
  -2.7,
  1e-30,
  123456.75,
  3e9,
  -3e9,
  2147483520,
  -2147483648,
  Infinity,
  -Infinity,
  NaN,
];
const I32_EDGE = [0, 1, -1, 7, -7, 16777217, 2147483647, -2147483648];

function values(dtype: DType, n: number, r: () => number): Float32Array | Int32Array {
  if (dtype === 'float32') return randArray(n, r, -100, 100);
  if (dtype === 'int32') return randInts(n, r, -1000, 1000);
  return randInts(n, r, 0, 2);
}

describe('cast', () => {
  for (const from of DTYPES) {
    for (const to of DTYPES) {
      it(`${from} -> ${to} matches the oracle`, async () => {
        const r = rng(from.length * 17 + to.length);
        const shapes = [[], [1], [7], [256], [1001], randShape(2, r), randShape(3, r), randShape(4, r, 5)];
        const edge = from === 'float32' ? F32_EDGE : from === 'int32' ? I32_EDGE : [0, 1];
        const cases = shapes.map((s) => ({
          shape: s,
          x: values(
            from,
            s.reduce((a, b) => a * b, 1),
            r,
          ),
        }));
        cases.push({
          shape: [edge.length],
          x: from === 'float32' ? new Float32Array(edge) : Int32Array.from(edge),
        });
        const checks = new Checks();
        for (const { shape, x } of cases) {
          const y = cast(tensor(x, shape, from), to);
          expect(y.dtype).toBe(to);
          const exp = Array.from(x, (v) => castRef(v, to));
          // int32 -> float32 rounds to the nearest float, as Float32Array does.
          const data = to === 'float32' ? Float32Array.from(exp) : Int32Array.from(exp);
          checks.add(y, { data, shape }, { atol: 0, rtol: 0 }, `${from}->${to} ${JSON.stringify(shape)}`);
        }
        await checks.done();
      });
    }
  }

  it('returns a view for the same dtype, independent of the input lifetime', async () => {
    const x = tensor([1.5, -2]);
    const y = cast(x, 'float32');
    expect(y).not.toBe(x);
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1.5, -2]);
    y.dispose();
    const e = cast(tensor([], [0, 2]), 'int32');
    expect(e.shape).toEqual([0, 2]);
    expect(e.dtype).toBe('int32');
  });

  it('rejects bad arguments with typed errors', () => {
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => cast(tensor([1]), 'float64' as any)).toThrow(DTypeError);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => cast(tensor([1]), 'float64' as any)).toThrow(
      /cast: dtype must be one of float32, int32, bool, got "float64"/,
    );
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => cast(3 as any, 'int32')).toThrow(/cast: x must be a Tensor, got number/);
    const t = tensor([1]);
    t.dispose();
    expect(() => cast(t, 'bool')).toThrow(DisposedTensorError);
  });

  it('leaves memory() as it found it after a tidy over every conversion', async () => {
    const xs = DTYPES.map((d) => tensor(values(d, 30, rng(1)), [5, 6], d));
    const run = () =>
      tidy(() => {
        for (const x of xs) for (const d of DTYPES) cast(x, d);
      });
    const start = memory();
    run();
    await sync();
    const after = memory();
    expect([after.numTensors, after.numBytes]).toEqual([start.numTensors, start.numBytes]);
    run();
    await sync();
    expect(memory()).toEqual(after);
    for (const x of xs) x.dispose();
  });
});
