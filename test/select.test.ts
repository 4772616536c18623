import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DisposedTensorError,
  type DType,
  DTypeError,
  memory,
  ShapeError,
  sync,
  type Tensor,
  tensor,
  tidy,
} from '../src/index.js';
import { clipByValue, where } from '../src/kernels/select.js';
import { expectClose, randArray, randInts, randShape, rng } from './helpers.js';
import { broadcastMap, Checks, clipRef, whereRef } from './oracle/elementwise.js';

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const EXACT = { atol: 0, rtol: 0 };

function values(dtype: DType, n: number, r: () => number): Float32Array | Int32Array {
  if (dtype === 'float32') return randArray(n, r, -10, 10);
  if (dtype === 'int32') return randInts(n, r, -100, 100);
  return randInts(n, r, 0, 2);
}

describe('where', () => {
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    it(`selects ${dtype} values with condition, a and b broadcast together`, async () => {
      const r = rng(dtype.length * 3);
      const s = randShape(3, r, 5);
      const triples: number[][][] = [
        [[], [], []],
        [[5], [5], [5]],
        [[1000], [1000], [1000]],
        [[3, 1], [1, 4], []],
        [[2, 3, 4], [4], [3, 1]],
        [[4], [2, 1, 4], [3, 4]],
        [[1], [257], [1]],
        [s, s.map((d) => (r() < 0.5 ? 1 : d)), s.slice(1)],
      ];
      const checks = new Checks();
      for (const [sc, sa, sb] of triples) {
        const c = { data: randInts(size(sc), r, 0, 2), shape: sc };
        const a = { data: values(dtype, size(sa), r), shape: sa };
        const b = { data: values(dtype, size(sb), r), shape: sb };
        const y = where(tensor(c.data, sc, 'bool'), tensor(a.data, sa, dtype), tensor(b.data, sb, dtype));
        expect(y.dtype).toBe(dtype);
        checks.add(
          y,
          broadcastMap([c, a, b], dtype, whereRef),
          EXACT,
          `where ${JSON.stringify([sc, sa, sb])}`,
        );
      }
      // Numbers take the dtype of the tensor operand.
      const c = { data: randInts(12, r, 0, 2), shape: [3, 4] };
      const a = { data: values(dtype, 4, r), shape: [4] };
      const k = dtype === 'float32' ? -0.5 : 1;
      const ct = tensor(c.data, c.shape, 'bool');
      const at = tensor(a.data, a.shape, dtype);
      checks.add(where(ct, at, k), broadcastMap([c, a, k], dtype, whereRef), EXACT, 'where number b');
      checks.add(where(ct, k, at), broadcastMap([c, k, a], dtype, whereRef), EXACT, 'where number a');
      await checks.done();
    });
  }

  it('rejects bad arguments with typed errors naming them', () => {
    const c = tensor([true, false]);
    const f = tensor([1, 2]);
    expect(() => where(f, f, f)).toThrow(DTypeError);
    expect(() => where(f, f, f)).toThrow(/where: condition must have dtype bool, got float32/);
    expect(() => where(c, f, tensor([1, 2], [2], 'int32'))).toThrow(
      /where: a has dtype float32 but b has dtype int32/,
    );
    expect(() => where(c, f, tensor([1, 2, 3]))).toThrow(ShapeError);
    expect(() => where(c, f, tensor([1, 2, 3]))).toThrow(
      /where: shapes condition \[2\], a \[2\], b \[3\] cannot be broadcast together/,
    );
    expect(() => where(tensor([true, false, true]), f, 1)).toThrow(/condition \[3\], a \[2\]/);
    expect(() => where(c, 1, 2)).toThrow(ArgumentError);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => where([true] as any, f, f)).toThrow(/where: condition must be a Tensor/);
    const d = tensor([1, 2]);
    d.dispose();
    expect(() => where(c, d, f)).toThrow(DisposedTensorError);
  });
});

describe('clipByValue', () => {
  it('clamps float32 and int32 values (NaN stays NaN)', async () => {
    const r = rng(11);
    for (const shape of [[], [1], [7], [1024], [3, 5, 7]]) {
      const x = randArray(size(shape), r, -5, 5);
      const y = clipByValue(tensor(x, shape), -1.5, 2);
      expect(y.shape).toEqual(shape);
      expectClose(
        await y.data(),
        Float32Array.from(x, clipRef(-1.5, 2)),
        { atol: 0, rtol: 0 },
        `clip ${shape}`,
      );
      const xi = randInts(size(shape), r, -20, 20);
      const yi = clipByValue(tensor(xi, shape, 'int32'), -3, 4.9);
      expect(yi.dtype).toBe('int32');
      expectClose(
        await yi.data(),
        Int32Array.from(xi, clipRef(-3, 4)),
        { atol: 0, rtol: 0 },
        `clip int ${shape}`,
      );
    }
    const e = new Float32Array([NaN, Infinity, -Infinity, 0, -0, 1e30, 0.25]);
    expectClose(
      await clipByValue(tensor(e), 0.25, 0.25).data(),
      Float32Array.from(e, clipRef(0.25, 0.25)),
      {},
      'edge',
    );
    expectClose(
      await clipByValue(tensor(e), -Infinity, 1).data(),
      Float32Array.from(e, clipRef(-Infinity, 1)),
      {},
      'infinite bound',
    );
  });

  it('rejects bad arguments with typed errors naming them', () => {
    const x = tensor([1, 2]);
    expect(() => clipByValue(x, 2, 1)).toThrow(ArgumentError);
    expect(() => clipByValue(x, 2, 1)).toThrow(/clipByValue: min \(2\) must be <= max \(1\)/);
    expect(() => clipByValue(x, Number.NaN, 1)).toThrow(/clipByValue: min must be a number, got NaN/);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => clipByValue(x, 0, '1' as any)).toThrow(/clipByValue: max must be a number/);
    expect(() => clipByValue(tensor([true]), 0, 1)).toThrow(
      /clipByValue: x must have dtype float32 or int32, got bool/,
    );
  });
});

describe('select memory', () => {
  it('leaves memory() as it found it after a tidy over every op', async () => {
    const c = tensor([true, false, true], [3, 1]);
    const a = tensor([1, 2, 3, 4], [4]);
    const b = tensor([5], [1]);
    const run = () =>
      tidy(() => {
        where(c, a, b);
        where(c, a, 0);
        where(c, 1, a);
        clipByValue(a, 1, 3);
      });
    const start = memory();
    run();
    await sync();
    const after = memory();
    expect([after.numTensors, after.numBytes]).toEqual([start.numTensors, start.numBytes]);
    run();
    await sync();
    expect(memory()).toEqual(after);
    for (const t of [c, a, b] as Tensor[]) t.dispose();
  });
});
