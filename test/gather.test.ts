import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DeviceError,
  DisposedTensorError,
  DTypeError,
  drainPool,
  memory,
  ShapeError,
  sync,
  tensor,
  tidy,
  zeros,
} from '../src/index.js';
import { gather, oneHot } from '../src/kernels/gather.js';
import { randShape, rng } from './helpers.js';
import { bits, type DTypeName, gatherRef, oneHotRef, poison, randData, sizeOf } from './oracle/movement.js';

// gather copies 32-bit words and oneHot writes the given values: comparisons are bit-exact
// (tolerance 0).
const DTYPES: DTypeName[] = ['float32', 'int32', 'bool'];
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

describe('gather', () => {
  it('matches the oracle for random axes, batchDims, ranks 1-4 and out-of-range indices (zeros)', async () => {
    const r = rng(51);
    for (let trial = 0; trial < 50; trial++) {
      const rank = 1 + (trial % 4);
      const shape = randShape(rank, r, 6);
      const axis = int(r, 0, rank - 1);
      const batchDims = trial % 3 === 0 ? int(r, 0, axis) : 0;
      const idxShape = [...shape.slice(0, batchDims), ...randShape(int(r, 0, 2), r, 5)];
      const n = shape[axis];
      // About 1 in 8 indices out of range, negative ones included.
      const idx = Int32Array.from({ length: sizeOf(idxShape) }, () =>
        r() < 0.125 ? (r() < 0.5 ? -int(r, 1, 3) : n + int(r, 0, 3)) : int(r, 0, n - 1),
      );
      const dtype = DTYPES[trial % 3];
      const data = randData(sizeOf(shape), dtype, r);
      const ref = gatherRef({ data, shape }, { data: idx, shape: idxShape }, axis, batchDims);
      poison(sizeOf(ref.shape));
      const y = gather(
        tensor(data, shape, dtype),
        tensor(idx, idxShape, 'int32'),
        trial % 2 ? axis - rank : axis,
        batchDims,
      );
      const label = `shape ${shape} indices ${idxShape} axis ${axis} batchDims ${batchDims}`;
      expect(y.shape, label).toEqual(ref.shape);
      expect(y.dtype).toBe(dtype);
      expect(bits(await y.data(), dtype), label).toEqual(bits(ref.data, dtype));
    }
  });

  it('gathers embedding rows off the workgroup grid and from empty tensors', async () => {
    const r = rng(52);
    const data = randData(1000 * 257, 'float32', r);
    const table = tensor(data, [1000, 257]);
    const idx = Int32Array.from({ length: 37 }, () => int(r, 0, 999));
    const y = await gather(table, tensor(idx, [37], 'int32')).data();
    const ref = gatherRef({ data, shape: [1000, 257] }, { data: idx, shape: [37] }, 0);
    expect(bits(y, 'float32')).toEqual(bits(ref.data, 'float32'));
    expect(gather(table, tensor([], [0], 'int32')).shape).toEqual([0, 257]);
    const fromEmpty = gather(zeros([0, 3]), tensor([0, 1], [2], 'int32'));
    expect(await fromEmpty.array()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(await gather(tensor([5, 6, 7], [3], 'int32'), tensor(2, [], 'int32')).array()).toBe(7);
  });

  it('reads a table over the 128 MiB binding limit through windows', async () => {
    const [rows, cols] = [4097, 8192]; // 33,562,624 int32 = 134,250,496 bytes, just over 134,217,728
    const iota = new Int32Array(rows * cols);
    for (let i = 0; i < iota.length; i++) iota[i] = i;
    const x = tensor(iota, [rows, cols], 'int32');
    const idx = [0, 4096, 2048, rows, -1, 1];
    const y = await gather(x, tensor(idx, [6], 'int32')).data();
    const ref = idx.flatMap((k) =>
      Array.from({ length: cols }, (_, j) => (k >= 0 && k < rows ? k * cols + j : 0)),
    );
    expect(Array.from(y)).toEqual(ref);
    const col = await gather(x, tensor([8191, 3], [2], 'int32'), 1).data();
    expect(col.length).toBe(rows * 2);
    expect(col.every((v, i) => v === Math.floor(i / 2) * cols + [8191, 3][i % 2])).toBe(true);
    // Indices are read at data-dependent places: over the limit they are refused, naming it.
    const small = tensor([1, 2]);
    const before = memory().numTensors;
    expect(() => gather(small, x)).toThrow(DeviceError);
    expect(() => gather(small, x)).toThrow(
      `gather: indices of shape [${rows},${cols}] is ${rows * cols * 4} bytes, over the adapter's maxStorageBufferBindingSize of 134217728 bytes`,
    );
    expect(() => oneHot(x, 2)).toThrow(
      /oneHot: indices of shape \[4097,8192\] .* maxStorageBufferBindingSize/,
    );
    expect(memory().numTensors).toBe(before); // nothing allocated before refusing
    small.dispose();
    x.dispose();
    await sync();
    drainPool();
  });

  it('rejects bad indices, axes and batchDims', () => {
    const x = zeros([2, 3, 4]);
    const i = tensor([0, 1], [2], 'int32');
    expect(() => gather(x, tensor([0, 1]))).toThrow(DTypeError);
    expect(() => gather(x, tensor([0, 1]))).toThrow(
      'gather: indices must have dtype int32, got float32 (shape [2])',
    );
    expect(() => gather(x, i, 3)).toThrow(ArgumentError);
    expect(() => gather(x, i, 3)).toThrow(/gather: axis 3 is out of range for a tensor of rank 3/);
    expect(() => gather(x, i, 0, 1)).toThrow(/gather: batchDims 1 must be an integer in \[0, 0\]/);
    expect(() => gather(x, i, 1, 2)).toThrow(ArgumentError);
    expect(() => gather(x, tensor([0, 1, 0], [3, 1], 'int32'), 2, 1)).toThrow(ShapeError);
    expect(() => gather(x, tensor([0, 1, 0], [3, 1], 'int32'), 2, 1)).toThrow(
      'gather: the 1 batch dims of x [2,3,4] and indices [3,1] must match (axis 0: 2 vs 3)',
    );
    expect(() => gather(tensor(1), i)).toThrow(ArgumentError);
    const d = zeros([2]);
    d.dispose();
    expect(() => gather(x, d)).toThrow(DisposedTensorError);
  });
});

describe('oneHot', () => {
  it('matches the oracle for random indices of ranks 0-3, every dtype, custom on/off values', async () => {
    const r = rng(53);
    for (let trial = 0; trial < 20; trial++) {
      const shape = randShape(trial % 4, r, 6);
      const depth = int(r, 1, 300);
      const idx = Int32Array.from({ length: sizeOf(shape) }, () => int(r, -2, depth + 1));
      const dtype = DTYPES[trial % 3];
      const [on, off] = trial % 2 ? [1, 0] : dtype === 'bool' ? [0, 1] : [-2.5, 7];
      const expected = oneHotRef({ data: idx, shape }, depth, on, off);
      const x = tensor(idx, shape, 'int32');
      poison(sizeOf(expected.shape));
      const y = trial % 2 ? oneHot(x, depth, undefined, undefined, dtype) : oneHot(x, depth, on, off, dtype);
      const want = dtype === 'int32' ? Array.from(expected.data, Math.trunc) : expected.data;
      expect(y.shape).toEqual(expected.shape);
      expect(y.dtype).toBe(dtype);
      expect(bits(await y.data(), dtype)).toEqual(bits(want, dtype));
    }
    expect(oneHot(tensor([1, 2], [2], 'int32'), 3).dtype).toBe('float32');
    expect(oneHot(tensor([1, 2], [2], 'int32'), 0).shape).toEqual([2, 0]);
  });

  it('writes an output over the 128 MiB binding limit in chunks', async () => {
    const idx = Int32Array.from({ length: 4097 }, (_, i) => (i * 7) % 8192);
    const y = oneHot(tensor(idx, [4097], 'int32'), 8192); // 134,250,496 bytes, just over 134,217,728
    const d = await y.data();
    let bad = -1;
    for (let i = 0; i < d.length && bad < 0; i++)
      if (d[i] !== (i % 8192 === idx[Math.floor(i / 8192)] ? 1 : 0)) bad = i;
    expect(bad, `first wrong element ${bad}`).toBe(-1);
    y.dispose();
    await sync();
    drainPool();
  });

  it('rejects bad indices, depth and dtype', () => {
    const i = tensor([0, 1], [2], 'int32');
    expect(() => oneHot(tensor([0, 1]), 2)).toThrow(
      'oneHot: indices must have dtype int32, got float32 (shape [2])',
    );
    expect(() => oneHot(i, -1)).toThrow('oneHot: depth must be a non-negative integer, got -1');
    expect(() => oneHot(i, 2.5)).toThrow(ArgumentError);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => oneHot(i, 2, 1, 0, 'float16' as any)).toThrow(DTypeError);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => oneHot(i, 2, '1' as any)).toThrow(/onValue and offValue must be numbers/);
  });
});

describe('memory', () => {
  it('returns to its starting numbers after a tidy over gather and oneHot', () => {
    const x = zeros([4, 3]);
    const i = tensor([3, 0, 9], [3], 'int32');
    const before = memory();
    tidy(() => {
      gather(x, i);
      gather(x, i, 1);
      oneHot(i, 5);
      gather(oneHot(i, 4), i, 1);
    });
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
    x.dispose();
    i.dispose();
  });
});
