import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DisposedTensorError,
  DTypeError,
  fill,
  memory,
  ShapeError,
  sync,
  tensor,
  tidy,
  zeros,
} from '../src/index.js';
import { expandDims, reshape, squeeze } from '../src/kernels/reshape.js';
import { slice } from '../src/kernels/slice.js';
import { rng } from './helpers.js';
import { bits, type DTypeName, randData, sizeOf } from './oracle/movement.js';

// Views never touch values: every comparison is bit-exact (tolerance 0).
const DTYPES: DTypeName[] = ['float32', 'int32', 'bool'];

/** A random factorisation of n into `rank` dims. */
function factor(n: number, rank: number, r: () => number): number[] {
  const dims = new Array<number>(rank).fill(1);
  let rest = n;
  for (let p = 2; rest > 1; ) {
    if (rest % p === 0) {
      dims[Math.floor(r() * rank)] *= p;
      rest /= p;
    } else p++;
  }
  return dims;
}

describe('reshape', () => {
  it('keeps the values in row-major order for random shapes, ranks 0-4, with -1 inferred', async () => {
    const r = rng(11);
    for (let trial = 0; trial < 30; trial++) {
      const n = [1, 6, 24, 60, 257, 720][trial % 6];
      const dtype = DTYPES[trial % 3];
      const from = factor(n, 1 + (trial % 4), r);
      const to = factor(n, trial % 5 === 0 && n === 1 ? 0 : 1 + Math.floor(r() * 4), r);
      const data = randData(n, dtype, r);
      const x = tensor(data, from, dtype);
      const spec = to.length > 0 && r() < 0.5 ? to.map((d, i) => (i === 0 ? -1 : d)) : to;
      const y = reshape(x, spec);
      expect(y.shape).toEqual(to);
      expect(y.dtype).toBe(dtype);
      expect(bits(await y.data(), dtype)).toEqual(bits(data, dtype));
    }
    expect(await reshape(tensor([5]), []).array()).toBe(5);
    expect(reshape(zeros([0, 3]), [3, -1, 2]).shape).toEqual([3, 0, 2]);
  });

  it('returns a view: no new bytes, and disposing either side leaves the other intact', async () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const before = memory();
    const v = reshape(x, [3, 2]);
    expect(memory().numTensors).toBe(before.numTensors + 1);
    expect(memory().numBytes).toBe(before.numBytes);
    v.dispose();
    // If the view had freed the shared buffer, these allocations of the same size could take it.
    const others = [fill([2, 3], 9), fill([6], 7), zeros([3, 2])];
    expect(Array.from(await x.data())).toEqual([1, 2, 3, 4, 5, 6]);
    const w = expandDims(x, 1);
    x.dispose();
    const more = [fill([2, 3], 8), fill([6], 5)];
    expect(Array.from(await w.data())).toEqual([1, 2, 3, 4, 5, 6]);
    w.dispose();
    for (const t of [...others, ...more]) t.dispose();
    expect(memory().numTensors).toBe(before.numTensors - 1);
    expect(memory().numBytes).toBe(before.numBytes - 24);
  });

  it('reshapes a tensor over the 128 MiB binding limit (a view, no kernel)', async () => {
    const n = 4097 * 8192; // 33,562,624 floats = 134,250,496 bytes, just over 134,217,728
    const x = fill([4097, 8192], 3);
    const bytes = memory().numBytes;
    const v = reshape(x, [-1]);
    expect(v.shape).toEqual([n]);
    expect(memory().numBytes).toBe(bytes);
    const tail = slice(v, [n - 5], [5]); // a contiguous slice: a buffer copy, no binding limit
    expect(Array.from(await tail.data())).toEqual([3, 3, 3, 3, 3]);
    for (const t of [x, v, tail]) t.dispose();
    await sync();
  });

  it('rejects bad shapes naming both shapes and sizes', () => {
    const x = zeros([2, 3]);
    expect(() => reshape(x, [4])).toThrow(ShapeError);
    expect(() => reshape(x, [4])).toThrow(
      'reshape: cannot reshape x of shape [2,3] (6 elements) into shape [4] (4 elements)',
    );
    expect(() => reshape(x, [4, -1])).toThrow(
      /cannot infer the -1 in shape \[4,-1\] for x of shape \[2,3\] \(6 elements\)/,
    );
    expect(() => reshape(x, [0, -1])).toThrow(ShapeError);
    expect(() => reshape(x, [-1, -1])).toThrow(ArgumentError);
    expect(() => reshape(x, [-1, -1])).toThrow(/more than one -1/);
    expect(() => reshape(x, [2.5, 2])).toThrow(/reshape: shape must be an array/);
    expect(() => reshape(x, [-2, -3])).toThrow(ArgumentError);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => reshape([1, 2] as any, [2])).toThrow(DTypeError);
    const d = zeros([2]);
    d.dispose();
    expect(() => reshape(d, [2])).toThrow(DisposedTensorError);
    expect(() => reshape(d, [2])).toThrow(/reshape: x/);
  });
});

describe('expandDims and squeeze', () => {
  it('insert and remove size-1 axes at every position, negative axes included', async () => {
    const r = rng(12);
    for (let rank = 0; rank <= 4; rank++) {
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(r() * 4));
      const data = randData(sizeOf(shape), 'float32', r);
      const x = tensor(data, shape);
      for (let axis = -(rank + 1); axis <= rank; axis++) {
        const y = expandDims(x, axis);
        const expected = [...shape];
        expected.splice(axis < 0 ? axis + rank + 1 : axis, 0, 1);
        expect(y.shape).toEqual(expected);
        expect(bits(await y.data(), 'float32')).toEqual(bits(data, 'float32'));
        const back = squeeze(y, axis);
        expect(back.shape).toEqual(shape);
      }
    }
    expect(expandDims(zeros([2, 3])).shape).toEqual([1, 2, 3]);
  });

  it('squeeze removes every size-1 axis by default (or an empty list), or the given ones', async () => {
    const x = tensor([1, 2, 3], [1, 3, 1, 1], 'int32');
    expect(squeeze(x).shape).toEqual([3]);
    expect(squeeze(x, []).shape).toEqual([3]);
    expect(squeeze(x, 0).shape).toEqual([3, 1, 1]);
    expect(squeeze(x, [-1, 2]).shape).toEqual([1, 3]);
    expect(Array.from(await squeeze(x, [0, 3]).data())).toEqual([1, 2, 3]);
    expect(squeeze(zeros([1, 1])).shape).toEqual([]);
    expect(squeeze(zeros([2, 3])).shape).toEqual([2, 3]);
    expect(squeeze(zeros([]), 0).shape).toEqual([]);
  });

  it('reject bad axes', () => {
    const x = zeros([2, 1, 3]);
    expect(() => expandDims(x, 4)).toThrow(ArgumentError);
    expect(() => expandDims(x, -5)).toThrow(
      'expandDims: axis -5 is out of range [-4, 3] for x of shape [2,1,3]',
    );
    expect(() => expandDims(x, 0.5)).toThrow(ArgumentError);
    expect(() => squeeze(x, 0)).toThrow(ShapeError);
    expect(() => squeeze(x, 0)).toThrow(
      'squeeze: cannot squeeze axis 0 of x with shape [2,1,3]: its size is 2, not 1',
    );
    expect(() => squeeze(x, 3)).toThrow(ArgumentError);
    expect(() => squeeze(x, 3)).toThrow(/squeeze: axis 3 is out of range/);
    expect(() => squeeze(x, [1, 1])).toThrow(/repeated/);
  });
});

describe('memory', () => {
  it('returns to its starting numbers after a tidy over reshape, expandDims and squeeze', () => {
    const x = zeros([2, 1, 3]);
    const before = memory();
    tidy(() => {
      reshape(x, [3, 2]);
      reshape(reshape(x, [-1]), [1, 6]);
      expandDims(squeeze(x), -1);
      squeeze(expandDims(x, 0), [0, 2]);
    });
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
    expect(x.isDisposed).toBe(false);
    x.dispose();
  });
});
