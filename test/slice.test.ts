import { describe, expect, it } from 'vitest';
import { grad } from '../src/autograd/grad.js';
import { resizeBilinear } from '../src/data/resize-gpu.js';
import {
  ArgumentError,
  DisposedTensorError,
  drainPool,
  memory,
  ShapeError,
  sync,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from '../src/index.js';
import { sum } from '../src/kernels/reduce.js';
import { reshape } from '../src/kernels/reshape.js';
import { slice, split, stridedSlice, stridedSliceGrad } from '../src/kernels/slice.js';
import { checkGrad } from './gradcheck.js';
import { randShape, rng } from './helpers.js';
import {
  bits,
  type DTypeName,
  poison,
  randData,
  sizeOf,
  sliceRef,
  stridedSliceRef,
} from './oracle/movement.js';

// Slices move 32-bit words: every comparison is bit-exact (tolerance 0).
const DTYPES: DTypeName[] = ['float32', 'int32', 'bool'];
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

describe('slice', () => {
  it('matches the oracle for random blocks of ranks 0-4 (size -1 included) and every dtype', async () => {
    const r = rng(31);
    for (let trial = 0; trial < 50; trial++) {
      const rank = trial % 5;
      const shape = randShape(rank, r, 9);
      const dtype = DTYPES[trial % 3];
      const begin = shape.map((d) => int(r, 0, d));
      const size = shape.map((d, i) => (r() < 0.25 ? -1 : int(r, 0, d - begin[i])));
      const data = randData(sizeOf(shape), dtype, r);
      const x = tensor(data, shape, dtype);
      const ref = sliceRef({ data, shape }, begin, size);
      poison(sizeOf(ref.shape));
      const y = slice(x, begin, size);
      const label = `shape ${JSON.stringify(shape)} begin ${begin} size ${size}`;
      expect(y.shape, label).toEqual(ref.shape);
      expect(bits(await y.data(), dtype), label).toEqual(bits(ref.data, dtype));
    }
  });

  it('accepts TF.js shorthands: a number for axis 0, short arrays, no size', async () => {
    const x = tensor(
      Array.from({ length: 24 }, (_, i) => i),
      [4, 6],
    );
    expect(await slice(x, 1, 2).array()).toEqual(await slice(x, [1, 0], [2, 6]).array());
    expect(await slice(x, [2]).array()).toEqual(await slice(x, [2, 0], [-1, -1]).array());
    expect(await slice(x, [1, 2], [1]).array()).toEqual([[8, 9, 10, 11]]);
    expect(await slice(x, [0, 5], [-1, 1]).array()).toEqual([[5], [11], [17], [23]]);
    expect(slice(x, [4, 6], [0, 0]).shape).toEqual([0, 0]);
    expect(await slice(tensor(3), []).array()).toBe(3);
    // Rows of a matrix are one contiguous run, columns a strided read; 257 is off the grid.
    const big = tensor(randData(300 * 257, 'float32', rng(3)), [300, 257]);
    const d = await big.data();
    expect(Array.from(await slice(big, [10, 0], [200, -1]).data())).toEqual(
      Array.from(d.slice(2570, 210 * 257)),
    );
    const col = await slice(big, [0, 256], [-1, 1]).data();
    expect(Array.from(col)).toEqual(Array.from({ length: 300 }, (_, i) => d[i * 257 + 256]));
  });

  it('slices a tensor over the 128 MiB binding limit: contiguous rows and a strided column', async () => {
    const [rows, cols] = [4097, 8192]; // 33,562,624 int32 = 134,250,496 bytes, just over 134,217,728
    const iota = new Int32Array(rows * cols);
    for (let i = 0; i < iota.length; i++) iota[i] = i;
    const x = tensor(iota, [rows, cols], 'int32');
    const tail = slice(x, [rows - 2, cols - 3], [2, 3]);
    expect(await tail.array()).toEqual([
      [(rows - 1) * cols - 3, (rows - 1) * cols - 2, (rows - 1) * cols - 1],
      [rows * cols - 3, rows * cols - 2, rows * cols - 1],
    ]);
    const col = await slice(x, [0, 5], [-1, 1]).data();
    expect(col.every((v, i) => v === i * cols + 5)).toBe(true);
    const every3rd = await stridedSlice(x, [1, 7], [rows, cols], [3, 4096]).data();
    const ref = [];
    for (let i = 1; i < rows; i += 3) for (let j = 7; j < cols; j += 4096) ref.push(i * cols + j);
    expect(Array.from(every3rd)).toEqual(ref);
    x.dispose();
    await sync();
    drainPool();
  });

  it('rejects out-of-range begin/size', () => {
    const x = zeros([2, 3]);
    expect(() => slice(x, [0, 2], [1, 2])).toThrow(ArgumentError);
    expect(() => slice(x, [0, 2], [1, 2])).toThrow(
      'slice: begin[1] = 2 with size[1] = 2 is out of range for axis 1 of x with shape [2,3]',
    );
    expect(() => slice(x, [-1, 0])).toThrow(/begin\[0\] = -1/);
    expect(() => slice(x, [3, 0])).toThrow(ArgumentError);
    expect(() => slice(x, [0, 0], [1, -2])).toThrow('slice: size[1] must be >= 0 or -1 (to the end), got -2');
    expect(() => slice(x, [0, 0, 0])).toThrow(ShapeError);
    expect(() => slice(x, [0.5])).toThrow(/slice: begin must be an integer/);
    const d = zeros([2]);
    d.dispose();
    expect(() => slice(d, 0)).toThrow(DisposedTensorError);
  });
});

describe('split', () => {
  it('splits into equal parts or given sizes along any axis', async () => {
    const r = rng(32);
    for (let trial = 0; trial < 12; trial++) {
      const rank = 1 + (trial % 4);
      const shape = randShape(rank, r, 6);
      const axis = int(r, -rank, rank - 1);
      const ax = axis < 0 ? axis + rank : axis;
      const dim = shape[ax];
      const sizes: number[] = [];
      for (let left = dim; left > 0; ) {
        sizes.push(int(r, 1, left));
        left -= sizes[sizes.length - 1];
      }
      if (trial % 3 === 0 && sizes.length > 1) sizes[int(r, 0, sizes.length - 1)] = -1;
      const data = randData(sizeOf(shape), 'float32', r);
      const x = tensor(data, shape);
      const parts = split(x, trial % 2 ? sizes : 1, axis);
      let at = 0;
      for (const p of parts) {
        const begin = shape.map((_, i) => (i === ax ? at : 0));
        const size = shape.map((d, i) => (i === ax ? p.shape[ax] : d));
        const ref = sliceRef({ data, shape }, begin, size);
        expect(p.shape).toEqual(ref.shape);
        expect(bits(await p.data(), 'float32')).toEqual(bits(ref.data, 'float32'));
        at += p.shape[ax];
      }
      expect(at).toBe(dim);
    }
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
    const [a, b, c] = split(x, 3, 1);
    expect([await a.array(), await b.array(), await c.array()]).toEqual([
      [[1], [4]],
      [[2], [5]],
      [[3], [6]],
    ]);
    const [p, q] = split(x, [-1, 1], -1);
    expect([await p.array(), await q.array()]).toEqual([
      [
        [1, 2],
        [4, 5],
      ],
      [[3], [6]],
    ]);
    expect(split(x, [0, 2, 0]).map((t) => t.shape)).toEqual([
      [0, 3],
      [2, 3],
      [0, 3],
    ]);
  });

  it('rejects splits that do not fit the axis', () => {
    const x = zeros([4, 6]);
    expect(() => split(x, 4, 1)).toThrow(
      'split: numOrSizeSplits 4 must be a positive integer dividing axis 1 of size 6 (x shape [4,6])',
    );
    expect(() => split(x, 0)).toThrow(ArgumentError);
    expect(() => split(x, [1, 2])).toThrow(ShapeError);
    expect(() => split(x, [1, 2])).toThrow(
      'split: sizes [1,2] must sum to 4, the size of axis 0 of x with shape [4,6]',
    );
    expect(() => split(x, [5, -1])).toThrow(ShapeError);
    expect(() => split(x, [-1, -1])).toThrow(/at most one -1/);
    expect(() => split(x, 2, 2)).toThrow(/split: axis 2 is out of range/);
  });
});

describe('stridedSlice', () => {
  it('matches Python slicing for random begin/end/strides (negative ones included) and masks', async () => {
    const r = rng(33);
    for (let trial = 0; trial < 40; trial++) {
      const rank = 1 + (trial % 4);
      const shape = randShape(rank, r, 8);
      const dtype = DTYPES[trial % 3];
      const begin = shape.map((d) => int(r, -d - 2, d + 2));
      const end = shape.map((d) => int(r, -d - 2, d + 2));
      const strides = shape.map(() => int(r, 1, 3) * (r() < 0.35 ? -1 : 1));
      const beginMask = int(r, 0, (1 << rank) - 1) & int(r, 0, 15);
      const endMask = int(r, 0, (1 << rank) - 1) & int(r, 0, 15);
      let shrink = 0;
      if (trial % 4 === 1) {
        const a = int(r, 0, rank - 1);
        shrink = 1 << a;
        begin[a] = int(r, -shape[a], shape[a] - 1);
      }
      const data = randData(sizeOf(shape), dtype, r);
      const x = tensor(data, shape, dtype);
      const ref = stridedSliceRef({ data, shape }, begin, end, strides, beginMask, endMask, shrink);
      poison(sizeOf(ref.shape));
      const y = stridedSlice(x, begin, end, strides, beginMask, endMask, 0, 0, shrink);
      const label = `shape ${shape} begin ${begin} end ${end} strides ${strides} masks ${beginMask} ${endMask} ${shrink}`;
      expect(y.shape, label).toEqual(ref.shape);
      expect(bits(await y.data(), dtype), label).toEqual(bits(ref.data, dtype));
    }
    const x = reshape(tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), [3, 4]);
    expect(await stridedSlice(x, [0, -1], [3, 0], [2, -1]).array()).toEqual([
      [3, 2, 1],
      [11, 10, 9],
    ]);
    expect(await stridedSlice(x, [1], [2], [1], 0, 0, 0, 0, 1).array()).toEqual([4, 5, 6, 7]);
  });

  it('rejects zero strides, out-of-range shrinks and unsupported masks', () => {
    const x = zeros([2, 3]);
    expect(() => stridedSlice(x, [0, 0], [2, 3], [1, 0])).toThrow('stridedSlice: strides[1] must not be 0');
    expect(() => stridedSlice(x, [2], [3], [1], 0, 0, 0, 0, 1)).toThrow(
      'stridedSlice: begin[0] = 2 is out of range for shrinking axis 0 of size 2',
    );
    expect(() => stridedSlice(x, [0], [1], [1], 0, 0, 1)).toThrow(
      /ellipsisMask and newAxisMask are not supported/,
    );
    expect(() => stridedSlice(x, [0, 0, 0], [1, 1, 1])).toThrow(ShapeError);
  });
});

describe('stridedSlice gradient', () => {
  it('scatters dy back to the sliced positions (finite differences; negative strides, masks, shrink)', async () => {
    const cases: Array<{
      shape: number[];
      args: Parameters<typeof stridedSlice> extends [unknown, ...infer R] ? R : never;
    }> = [
      { shape: [7], args: [[1], [6], [2]] },
      {
        shape: [3, 5],
        args: [
          [0, -1],
          [3, 0],
          [2, -1],
        ],
      },
      { shape: [4, 3, 2], args: [[1, 0, 1], [3, 3, 2], [1, 2, 1], 0, 0, 0, 0, 0b001] },
      { shape: [5, 4], args: [[4, 1], [0, 4], [-2, 1], 0, 0b10] },
    ];
    const r = rng(71);
    for (const c of cases) {
      const n = sizeOf(c.shape);
      const data = Array.from({ length: n }, () => r() * 2 - 1);
      const [begin, end, strides = [], bm = 0, em = 0, , , shrink = 0] = c.args;
      await checkGrad({
        label: `stridedSlice ${JSON.stringify(c)}`,
        f: (x) => stridedSlice(x, ...c.args),
        oracle: ([x]) =>
          stridedSliceRef({ data: Float32Array.from(x), shape: c.shape }, begin, end, strides, bm, em, shrink)
            .data as ArrayLike<number>,
        inputs: [{ shape: c.shape, data }],
      });
    }
  });

  it('stridedSliceGrad has a gradient of its own: the gather of the same box', async () => {
    const box = { begin: [5, 0], size: [3, 2], strides: [-2, 2] };
    const dy = Array.from({ length: 6 }, (_, i) => i - 2.5);
    await checkGrad({
      label: 'stridedSliceGrad',
      f: (d) => stridedSliceGrad(d, [6, 3], box),
      oracle: ([d]) => {
        const out = new Float64Array(18);
        for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) out[(5 - 2 * i) * 3 + 2 * j] = d[i * 2 + j];
        return out;
      },
      inputs: [{ shape: [3, 2], data: dy }],
    });
    expect(() => stridedSliceGrad(zeros([4]), [6, 3], box)).toThrow(ShapeError);
  });
});

describe('memory', () => {
  it('returns to its starting numbers after a tidy over slice, split and stridedSlice', () => {
    const x = zeros([4, 6]);
    const before = memory();
    tidy(() => {
      slice(x, [1, 1], [2, 2]);
      slice(x, 2);
      split(x, 2, 1);
      split(x, [1, -1]);
      stridedSlice(x, [3, 0], [0, 6], [-1, 2]);
    });
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
    x.dispose();
  });
});

describe('ops marked nondiff in the gradient table', () => {
  it('a gradient through resizeBilinear names the op instead of a missing rule', () => {
    const x = tensor(new Float32Array(2 * 2 * 3).fill(1), [1, 2, 2, 3]);
    expect(() => grad((v: Tensor) => sum(resizeBilinear(v, [3, 3])))(x)).toThrow(
      "grad: op 'resizeBilinear' is not differentiable, but the result depends on it",
    );
    x.dispose();
  });
});
