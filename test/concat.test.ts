import { afterEach, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DisposedTensorError,
  DTypeError,
  drainPool,
  fill,
  memory,
  ShapeError,
  sync,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from '../src/index.js';
import { concat, stack, tile } from '../src/kernels/concat.js';
import { slice } from '../src/kernels/slice.js';
import { setTuning } from '../src/kernels/tuning.js';
import { randShape, rng } from './helpers.js';
import {
  type Arr,
  bits,
  concatRef,
  type DTypeName,
  poison,
  randData,
  sizeOf,
  stackRef,
  tileRef,
} from './oracle/movement.js';

// Copies of 32-bit words: every comparison is bit-exact (tolerance 0).
const DTYPES: DTypeName[] = ['float32', 'int32', 'bool'];
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

function make(shape: number[], dtype: DTypeName, r: () => number): [Tensor, Arr] {
  const data = randData(sizeOf(shape), dtype, r);
  return [tensor(data, shape, dtype), { data, shape }];
}

async function expectEqual(y: Tensor, ref: Arr, dtype: DTypeName, label: string) {
  expect(y.shape, label).toEqual(ref.shape);
  expect(y.dtype, label).toBe(dtype);
  expect(bits(await y.data(), dtype), label).toEqual(bits(ref.data, dtype));
}

describe('concat', () => {
  afterEach(() => setTuning());

  it('matches the oracle for 1-4 tensors of ranks 1-4 along every axis, empty parts included', async () => {
    const r = rng(41);
    for (let trial = 0; trial < 40; trial++) {
      const rank = 1 + (trial % 4);
      const base = randShape(rank, r, 6);
      const axis = int(r, -rank, rank - 1);
      const ax = axis < 0 ? axis + rank : axis;
      const dtype = DTYPES[trial % 3];
      const parts = Array.from({ length: int(r, 1, 4) }, () =>
        make(
          base.map((d, i) => (i === ax ? int(r, 0, 5) : d)),
          dtype,
          r,
        ),
      );
      const ref = concatRef(
        parts.map((p) => p[1]),
        ax,
      );
      poison(sizeOf(ref.shape));
      const y = concat(
        parts.map((p) => p[0]),
        axis,
      );
      await expectEqual(y, ref, dtype, `shapes ${parts.map((p) => JSON.stringify(p[1].shape))} axis ${axis}`);
    }
  });

  it.each(['cpu', 'gpu'] as const)(
    'covers the %s copy paths: contiguous blocks, a few rows, many rows, sizes off the grid',
    async (mode) => {
      setTuning({ copyStrategy: mode });
      const r = rng(42);
      for (const [rows, a, b] of [
        [1, 1000, 257],
        [3, 300, 5],
        [16, 64, 65],
        [17, 64, 65],
        [300, 1, 2],
      ]) {
        const [x, xr] = make([rows, a], 'float32', r);
        const [y, yr] = make([rows, b], 'float32', r);
        await expectEqual(concat([x, y], 1), concatRef([xr, yr], 1), 'float32', `rows ${rows}`);
        await expectEqual(concat([x, x], 0), concatRef([xr, xr], 0), 'float32', `rows ${rows}`);
      }
      const [one, oneRef] = make([2, 3], 'int32', r);
      const copy = concat([one]);
      expect(copy).not.toBe(one);
      await expectEqual(copy, oneRef, 'int32', 'single tensor');
    },
  );

  it('concatenates into and out of tensors over the 128 MiB binding limit', async () => {
    const [rows, cols] = [4097, 8192]; // 33,562,624 floats = 134,250,496 bytes, just over 134,217,728
    const big = fill([rows - 1, cols], 2);
    const small = tensor(randData(cols, 'float32', rng(4)), [1, cols]);
    const out = concat([big, small], 0); // two buffer copies
    expect(out.shape).toEqual([rows, cols]);
    expect(bits(await slice(out, [rows - 2, 0], [2, -1]).data(), 'float32')).toEqual(
      bits([...new Array(cols).fill(2), ...(await small.data())], 'float32'),
    );
    const col = tensor(
      Array.from({ length: rows }, (_, i) => -i),
      [rows, 1],
    );
    const wide = concat([out, col], 1); // out is read through windows, wide written through windows
    expect(wide.shape).toEqual([rows, cols + 1]);
    const last = await slice(wide, [0, cols - 1], [-1, 2]).data();
    for (let i = 0; i < rows; i++) {
      const left = i === rows - 1 ? (await small.data())[cols - 1] : 2;
      if (last[2 * i] !== left || last[2 * i + 1] !== -i)
        expect.fail(`row ${i}: ${last[2 * i]}, ${last[2 * i + 1]}`);
    }
    for (const t of [big, small, out, col, wide]) t.dispose();
    await sync();
    drainPool();
  });

  it('rejects mismatched dtypes and shapes naming the offending tensor', () => {
    const a = zeros([2, 3]);
    expect(() => concat([a, zeros([2, 4]), zeros([3, 3])], 1)).toThrow(ShapeError);
    expect(() => concat([a, zeros([2, 4]), zeros([3, 3])], 1)).toThrow(
      'concat: tensors[2] has shape [3,3], which does not match tensors[0] shape [2,3] on the axes other than axis 1',
    );
    expect(() => concat([a, zeros([2, 3, 1])])).toThrow(/tensors\[1\] has shape \[2,3,1\]/);
    expect(() => concat([a, zeros([2, 3], 'int32')])).toThrow(DTypeError);
    expect(() => concat([a, zeros([2, 3], 'int32')])).toThrow(
      'concat: tensors[1] has dtype int32 (shape [2,3]) but tensors[0] has dtype float32; all must match',
    );
    expect(() => concat([])).toThrow(ArgumentError);
    expect(() => concat([a], 2)).toThrow(/concat: axis 2 is out of range/);
    expect(() => concat([tensor(1), tensor(2)])).toThrow(ShapeError);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => concat([a, 3 as any])).toThrow(/concat: tensors\[1\] must be a Tensor/);
    const d = zeros([2, 3]);
    d.dispose();
    expect(() => concat([a, d])).toThrow(DisposedTensorError);
  });
});

describe('stack', () => {
  it('matches the oracle for 1-4 tensors of ranks 0-3 along every new axis', async () => {
    const r = rng(43);
    for (let trial = 0; trial < 24; trial++) {
      const rank = trial % 4;
      const shape = randShape(rank, r, 5);
      const axis = int(r, -(rank + 1), rank);
      const dtype = DTYPES[trial % 3];
      const parts = Array.from({ length: int(r, 1, 4) }, () => make(shape, dtype, r));
      const ref = stackRef(
        parts.map((p) => p[1]),
        axis < 0 ? axis + rank + 1 : axis,
      );
      poison(sizeOf(ref.shape));
      const y = stack(
        parts.map((p) => p[0]),
        axis,
      );
      await expectEqual(y, ref, dtype, `shape ${shape} axis ${axis}`);
    }
    expect(stack([zeros([0, 2]), zeros([0, 2])], 1).shape).toEqual([0, 2, 2]);
  });

  it('rejects mismatched shapes and dtypes naming the offending tensor', () => {
    expect(() => stack([zeros([2]), zeros([2]), zeros([3])])).toThrow(
      'stack: tensors[2] has shape [3] but tensors[0] has shape [2]; all must match',
    );
    expect(() => stack([zeros([2]), zeros([2], 'bool')])).toThrow(DTypeError);
    expect(() => stack([zeros([2])], 2)).toThrow(ArgumentError);
    expect(() => stack([])).toThrow(ArgumentError);
  });
});

describe('tile', () => {
  it('matches the oracle for random reps of ranks 0-4', async () => {
    const r = rng(44);
    for (let trial = 0; trial < 25; trial++) {
      const rank = trial % 5;
      const shape = randShape(rank, r, 5);
      const reps = shape.map(() => int(r, trial % 7 === 3 ? 0 : 1, 3));
      const dtype = DTYPES[trial % 3];
      const [x, xr] = make(shape, dtype, r);
      const ref = tileRef(xr, reps);
      poison(sizeOf(ref.shape));
      await expectEqual(tile(x, reps), ref, dtype, `shape ${shape} reps ${reps}`);
    }
  });

  it('writes an output over the 128 MiB binding limit through binding windows', async () => {
    const x = tensor(
      Array.from({ length: 4097 * 2 }, (_, i) => i),
      [4097, 2],
      'int32',
    );
    const y = tile(x, [1, 4096]); // [4097, 8192]: 134,250,496 bytes, just over 134,217,728
    const d = await y.data();
    let bad = -1;
    for (let i = 0; i < d.length && bad < 0; i++) if (d[i] !== 2 * Math.floor(i / 8192) + (i % 2)) bad = i;
    expect(bad, `first wrong element ${bad}`).toBe(-1);
    x.dispose();
    y.dispose();
    await sync();
    drainPool();
  });

  it('rejects reps that do not match the rank', () => {
    const x = zeros([2, 3]);
    expect(() => tile(x, [2])).toThrow(ArgumentError);
    expect(() => tile(x, [2])).toThrow(
      'tile: reps must have 2 non-negative integers (one per axis of x with shape [2,3]), got [2]',
    );
    expect(() => tile(x, [1, -1])).toThrow(ArgumentError);
    expect(() => tile(x, [1, 1.5])).toThrow(ArgumentError);
  });
});

describe('memory', () => {
  it('returns to its starting numbers after a tidy over concat, stack and tile', () => {
    const x = zeros([2, 3]);
    const before = memory();
    tidy(() => {
      concat([x, x], 0);
      concat([x, x, x], 1);
      stack([x, x], 1);
      tile(x, [2, 3]);
      tile(stack([x]), [1, 1, 2]);
    });
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
    x.dispose();
  });
});
