import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DeviceError,
  DisposedTensorError,
  DTypeError,
  memory,
  type Tensor,
  tensor,
  tidy,
} from '../src/index.js';
import { all, any, argMax, argMin, logSumExp, max, mean, min, prod, sum } from '../src/kernels/reduce.js';
import { logSoftmax, softmax } from '../src/kernels/softmax.js';
import { setTuning } from '../src/kernels/tuning.js';
import { expectClose, randArray, randInts, randShape, rng } from './helpers.js';
import { argRef, type ReduceKind, reducedShape, reduceRef } from './oracle/reduce.js';

type Axis = number | number[] | undefined;
type ReduceFn = (x: Tensor, axis?: Axis, keepDims?: boolean) => Tensor;
const FNS: Record<ReduceKind, ReduceFn> = { sum, mean, max, min, prod, any, all, logSumExp };

function normAxes(axis: Axis, rank: number): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === 'number' ? [axis] : axis;
  return list
    .map((a) => (a < 0 ? a + rank : a))
    .filter((a) => a < rank)
    .sort((a, b) => a - b);
}

function randAxis(rank: number, r: () => number): Axis {
  const u = r();
  if (u < 0.2 || rank === 0) return undefined;
  if (u < 0.5) return Math.floor(r() * rank) - (r() < 0.5 ? rank : 0);
  const pick = Array.from({ length: rank }, (_, i) => i).filter(() => r() < 0.5);
  return pick.map((a) => (r() < 0.3 ? a - rank : a));
}

/** Float32 sums: allow 1e-6 of the sum of |x| over the largest group (a few ulps per level). */
function sumTol(x: ArrayLike<number>, shape: number[], axes: number[]) {
  const abs = reduceRef('sum', Array.from(x, Math.abs), shape, axes);
  return { atol: 1e-6 * Math.max(1, ...abs), rtol: 1e-5 };
}

async function check(kind: ReduceKind, x: Tensor, vals: ArrayLike<number>, axis: Axis, keepDims: boolean) {
  const shape = [...x.shape];
  const axes = normAxes(axis, shape.length);
  const out = FNS[kind](x, axis, keepDims);
  const label = `${kind} ${x.dtype} ${JSON.stringify(shape)} axis ${JSON.stringify(axis)} keepDims ${keepDims}`;
  expect(out.shape, label).toEqual(reducedShape(shape, axes, keepDims));
  const int = x.dtype !== 'float32';
  const expected = reduceRef(kind, vals, shape, axes, int);
  const got = await out.data();
  if (int && kind !== 'mean' && kind !== 'logSumExp') expect(Array.from(got), label).toEqual(expected);
  else if (kind === 'sum' || kind === 'mean') {
    const t = sumTol(vals, shape, axes);
    const R = axes.reduce((p, a) => p * shape[a], 1);
    expectClose(got, expected, kind === 'mean' ? { atol: t.atol / R, rtol: 1e-5 } : t, label);
  } else expectClose(got, expected, { atol: 1e-5, rtol: 1e-5 }, label);
  out.dispose();
}

// Kernel shapes as chosen on lavapipe (choose() in reduce.ts: tree when outputs < 64 and R > 4096).
// Under the GPU policy most of them become trees, some with three passes ([1 << 20]).
const SHAPE_CASES: Array<[number[], Axis]> = [
  [[1], undefined],
  [[257], 0], // lane, one output
  [[5000], undefined], // tree, 2 slices + second pass
  [[1 << 20], undefined], // tree, 64 slices + second pass
  [[3, 70000], 1], // few long contiguous rows: tree
  [[70000, 3], 0], // few long strided rows: tree
  [[300, 700], 0], // strided, lane (64)
  [[3000, 40], 1], // many short rows: lane (64)
  [[16, 9000], -1], // lane (8) over long rows
  [[8, 9000], -1], // tree, 3 slices
  [
    [5, 1, 7, 1, 1300],
    [1, 2, 4],
  ], // merged into one reduced group of 9100: tree
  [
    [40, 3, 150],
    [0, 2],
  ], // tree over two reduced groups
  [[2, 5000, 2], 1], // tree with two kept groups
  [
    [2, 3000, 4],
    [0, 2],
  ], // lane over two reduced groups
  [
    [9, 2000, 3],
    [-3, -1],
  ],
];

async function checkShapes(kinds: readonly ReduceKind[], seed: number) {
  const r = rng(seed);
  for (const [shape, axis] of SHAPE_CASES) {
    const n = shape.reduce((p, d) => p * d, 1);
    const vals = randArray(n, r, -1, 1);
    const x = tensor(vals, shape);
    for (const kind of kinds) await check(kind, x, vals, axis, false);
    if (typeof axis === 'number') {
      const a = axis < 0 ? axis + shape.length : axis;
      expect(Array.from(await argMax(x, axis).data())).toEqual(argRef('argMax', vals, shape, a));
      expect(Array.from(await argMin(x, axis).data())).toEqual(argRef('argMin', vals, shape, a));
    }
    x.dispose();
  }
}

describe('reductions against the oracle', () => {
  it('float32: every op on random shapes of rank 0-4 and random axes', async () => {
    const r = rng(1);
    for (let i = 0; i < 24; i++) {
      const shape = randShape(i % 5, r, 6);
      const vals = randArray(
        shape.reduce((p, d) => p * d, 1),
        r,
        -2,
        2,
      );
      const x = tensor(vals, shape);
      const axis = randAxis(shape.length, r);
      const keepDims = r() < 0.5;
      for (const kind of ['sum', 'mean', 'max', 'min', 'prod', 'logSumExp'] as const) {
        await check(kind, x, vals, axis, keepDims);
      }
      const a = shape.length ? Math.floor(r() * shape.length) : 0;
      if (shape.length) {
        for (const k of ['argMax', 'argMin'] as const) {
          const out = (k === 'argMax' ? argMax : argMin)(x, a);
          expect(Array.from(await out.data()), `${k} ${JSON.stringify(shape)} ${a}`).toEqual(
            argRef(k, vals, shape, a),
          );
        }
      }
      x.dispose();
    }
  });

  it('int32 and bool: dtypes follow TF.js, sums and products wrap', async () => {
    const r = rng(2);
    for (let i = 0; i < 12; i++) {
      const shape = randShape(1 + (i % 4), r, 6);
      const n = shape.reduce((p, d) => p * d, 1);
      const ints = randInts(n, r, -9, 10);
      const x = tensor(ints, shape, 'int32');
      const axis = randAxis(shape.length, r);
      for (const kind of ['sum', 'mean', 'max', 'min', 'prod', 'logSumExp'] as const) {
        await check(kind, x, ints, axis, false);
      }
      const bools = randInts(n, r, 0, 2);
      const b = tensor(bools, shape, 'bool');
      for (const kind of ['any', 'all', 'sum', 'max', 'min'] as const)
        await check(kind, b, bools, axis, true);
      const a = Math.floor(r() * shape.length);
      expect(Array.from(await argMax(x, a).data())).toEqual(argRef('argMax', ints, shape, a));
      expect(Array.from(await argMin(b, a).data())).toEqual(argRef('argMin', bools, shape, a));
    }
    const ix = tensor([1, 2], [2], 'int32');
    const bx = tensor([true, false, true]);
    expect([sum(ix).dtype, mean(ix).dtype, max(ix).dtype, prod(ix).dtype]).toEqual([
      'int32',
      'float32',
      'int32',
      'int32',
    ]);
    expect([sum(bx).dtype, prod(bx).dtype, max(bx).dtype, any(bx).dtype, mean(bx).dtype]).toEqual([
      'int32',
      'int32',
      'bool',
      'bool',
      'float32',
    ]);
    expect(await mean(ix).array()).toBe(1.5);
    expect(await sum(tensor([2147483647, 1], [2], 'int32')).array()).toBe(-2147483648);
    expect(await prod(tensor([65536, 65536, 3], [3], 'int32')).array()).toBe(0);
  });

  it('covers every kernel shape: lane, tree, multi-slice, strided and multi-group reductions', async () => {
    await checkShapes(['sum', 'mean', 'max', 'min', 'logSumExp'], 3);
    // prod over many factors near 1 stays finite and matches.
    const pv = randArray(5000, rng(33), 0.999, 1.001);
    await check('prod', tensor(pv, [5000]), pv, undefined, false);
  });

  it('the GPU-tuned kernel choice (forced on lavapipe) gives the same results', async () => {
    setTuning({ kernelPolicy: 'gpu' });
    try {
      // The combining code of each op is covered above; this checks the GPU launch shapes (wg 256,
      // three-pass trees, workgroups over strided and multi-group reductions) with sum and argMax.
      await checkShapes(['sum'], 4);
    } finally {
      setTuning();
    }
  });

  it('argMax/argMin return the first index of ties, also across slices and workgroups', async () => {
    const n = 100000;
    const v = new Float32Array(n).fill(1);
    v[77777] = 5;
    v[99999] = 5;
    v[3] = -5;
    v[50000] = -5;
    const x = tensor(v);
    expect(await argMax(x).array()).toBe(77777);
    expect(await argMin(x).array()).toBe(3);
    expect(await argMax(tensor(new Float32Array(1000).fill(2))).array()).toBe(0);
    const t = tensor([
      [3, 1, 3],
      [0, 0, 0],
    ]);
    expect(await argMax(t, 1).array()).toEqual([0, 0]);
    expect(await argMax(t).array()).toEqual([0, 0, 0]);
    expect(await argMin(t, -1).array()).toEqual([1, 0]);
  });

  it('propagates NaN and infinities; logSumExp is stable for huge and infinite values', async () => {
    const NaN_ = Number.NaN;
    const inf = Number.POSITIVE_INFINITY;
    const x = tensor([1, NaN_, 3, -inf, 2, 7, inf, 0], [2, 4]);
    expect(Array.from(await max(x, 1).data())).toEqual([NaN_, inf]);
    expect(Array.from(await min(x, 1).data())).toEqual([NaN_, 0]);
    expect(Array.from(await max(x, 0).data())).toEqual([2, NaN_, inf, 0]);
    expect(Array.from(await argMax(x, 1).data())).toEqual([1, 2]);
    expect(Array.from(await argMin(x, 1).data())).toEqual([1, 3]);
    expect(Array.from(await sum(tensor([inf, 1, -inf])).data())).toEqual([NaN_]);
    expect(await max(tensor([-inf, -inf])).array()).toBe(-inf);
    const big = tensor(
      [
        [1e4, 1e4, 0],
        [-1e4, -1e4, -1e4],
        [1e4, -1e4, 5],
        [-inf, -inf, -inf],
        [inf, 1, 2],
        [88, 89, 90],
      ],
      [6, 3],
    );
    const lse = await logSumExp(big, 1).data();
    expectClose(
      lse,
      [1e4 + Math.log(2), -1e4 + Math.log(3), 1e4, -inf, inf, 90 + Math.log(1 + Math.exp(-1) + Math.exp(-2))],
      {
        atol: 1e-3,
        rtol: 1e-6,
      },
    );
    const lseKeep = logSumExp(tensor(new Float32Array(20000).fill(1e4)), [0], true);
    expect(lseKeep.shape).toEqual([1]);
    expectClose(await lseKeep.data(), [1e4 + Math.log(20000)], { atol: 2e-3, rtol: 0 });
  });

  it('follows NumPy on empty inputs: identities, or an error naming the empty axis', async () => {
    expect(await sum(tensor([], [0])).array()).toBe(0);
    expect(await prod(tensor([], [0])).array()).toBe(1);
    expect(Number.isNaN(await mean(tensor([], [0])).array())).toBe(true);
    const e = tensor([], [2, 0, 3]);
    expect(await sum(e, 1).array()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(sum(e, 1, true).shape).toEqual([2, 1, 3]);
    expect(await sum(tensor([], [0], 'int32')).array()).toBe(0);
    expect(await any(tensor([], [0], 'bool')).array()).toBe(0);
    expect(await all(tensor([], [0], 'bool')).array()).toBe(1);
    expect(await logSumExp(tensor([], [0])).array()).toBe(Number.NEGATIVE_INFINITY);
    expect(max(e, 0).shape).toEqual([0, 3]); // no outputs: nothing to reduce
    expect(argMax(e, 2).shape).toEqual([2, 0]);
    expect(() => max(e, 1)).toThrow(ArgumentError);
    expect(() => max(e)).toThrow(/max: cannot reduce over axis 1 of size 0 \(x has shape \[2,0,3\]\)/);
    expect(() => min(e, [1, 2])).toThrow(/axis 1 of size 0/);
    expect(() => argMax(e, 1)).toThrow(/argMax: cannot reduce over axis 1 of size 0/);
    expect(() => argMin(tensor([], [0]))).toThrow(ArgumentError);
  });

  it('reduces scalars and over no axes as a (dtype-converting) copy', async () => {
    expect(await sum(tensor(3)).array()).toBe(3);
    expect(await sum(tensor(3), 0).array()).toBe(3);
    expect(sum(tensor(3), 0, true).shape).toEqual([]);
    expect(await mean(tensor(4, [], 'int32')).array()).toBe(4);
    const x = tensor([true, false, true]);
    const s = sum(x, []);
    expect([s.dtype, s.shape]).toEqual(['int32', [3]]);
    expect(Array.from(await s.data())).toEqual([1, 0, 1]);
    expect(() => argMax(tensor(3))).toThrow(/argMax: axis 0 is out of range for a tensor of rank 0/);
  });

  it('rejects bad arguments with typed errors naming op and argument', () => {
    const x = tensor([1, 2, 3, 4], [2, 2]);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    const bad = [1, 2] as any;
    expect(() => sum(bad)).toThrow(DTypeError);
    expect(() => sum(bad)).toThrow(/sum: x must be a Tensor/);
    expect(() => sum(x, 2)).toThrow(ArgumentError);
    expect(() => sum(x, 2)).toThrow(/sum: axis 2 is out of range for a tensor of rank 2/);
    expect(() => mean(x, [-3])).toThrow(/mean: axis -3 is out of range/);
    expect(() => max(x, [0, -2])).toThrow(/max: axis -2 is repeated/);
    expect(() => min(x, 0.5)).toThrow(/min: axis 0.5/);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => prod(x, 0, 'yes' as any)).toThrow(/prod: keepDims must be a boolean, got yes/);
    expect(() => any(x)).toThrow(DTypeError);
    expect(() => all(x)).toThrow(/all: x must have dtype bool, got float32 \(shape \[2,2\]\)/);
    expect(() => logSumExp(tensor([true]))).toThrow(
      /logSumExp: x must have dtype float32 or int32, got bool/,
    );
    expect(() => argMax(x, 2)).toThrow(/argMax: axis 2 is out of range for a tensor of rank 2/);
    expect(() => argMin(x, -3)).toThrow(ArgumentError);
    const d = tensor([1]);
    d.dispose();
    expect(() => sum(d)).toThrow(DisposedTensorError);
    expect(() => argMax(d)).toThrow(/argMax: x/);
  });

  it('leaves memory() as it found it after a tidy over every op', async () => {
    const x = tensor(randArray(20000, rng(4)), [4, 5000]);
    const b = tensor(randInts(60, rng(5), 0, 2), [6, 10], 'bool');
    const e = tensor([], [2, 0]);
    const before = memory();
    let count = 0;
    tidy(() => {
      const fs: Tensor[] = [];
      for (const f of [sum, mean, max, min, prod, logSumExp]) fs.push(f(x), f(x, 1, true), f(x, 0));
      fs.push(any(b, 1), all(b), argMax(x, 1), argMin(x));
      fs.push(sum(e, 1), prod(e), softmax(x), logSoftmax(x, 0));
      count = fs.length;
      return undefined;
    });
    expect(count).toBeGreaterThan(20);
    const after = memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    // Outputs kept by tidy are the only new tensors.
    const kept = tidy(() => sum(x, 0));
    expect(memory().numTensors).toBe(before.numTensors + 1);
    kept.dispose();
    expect(memory().numBytes).toBe(before.numBytes);
  });
});

describe('tensors over the 128 MiB binding limit', () => {
  // 2^25 + 100 floats: just over maxStorageBufferBindingSize (2^27 bytes) on lavapipe.
  const N = 33554532;

  it('reduces all axes and leading axes in chunks; other axes throw naming the limit', async () => {
    // Values drawn from a 256-entry table by a hash of the index, so that sums come from counts.
    const table = randArray(256, rng(6), -1, 1);
    const count = new Float64Array(256);
    const v = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      const h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b);
      const k = (h ^ (h >>> 15)) & 255;
      v[i] = table[k];
      count[k]++;
    }
    let s = 0;
    let e = 0; // sum of exp(v - 7)
    for (let k = 0; k < 256; k++) {
      s += count[k] * table[k];
      e += count[k] * Math.exp(table[k] - 7);
    }
    // A tie for the maximum in the first and the second chunk (the first wins); the minimum in
    // the second chunk.
    for (const [i, val] of [
      [100, 7],
      [N - 10, 7],
      [N - 3, -7],
    ]) {
      s += val - v[i];
      e += Math.exp(val - 7) - Math.exp(v[i] - 7);
      v[i] = val;
    }
    const x = tensor(v);
    const before = memory().numTensors;
    const got = tidy(() => [sum(x), mean(x), max(x), min(x), argMax(x), argMin(x), logSumExp(x)]);
    const [gs, gm, gmax, gmin, gam, gan, glse] = await Promise.all(got.map((t) => t.array()));
    expect(Math.abs((gs as number) - s)).toBeLessThan(1); // sum of |x| is 1.7e7: 6e-8 relative
    expect(Math.abs((gm as number) - s / N)).toBeLessThan(1e-7);
    expect([gmax, gmin, gam, gan]).toEqual([7, -7, 100, N - 3]);
    expectClose([glse as number], [7 + Math.log(e)], { atol: 1e-4, rtol: 0 });
    for (const t of got) t.dispose();
    expect(memory().numTensors).toBe(before);
    x.dispose();

    // [N/3, 3] over axis 0: chunk starts are not 64-aligned (the kernel skips `base` elements).
    const M = 3;
    const y = tensor(v, [N / M, M]);
    const cols = [0, 0, 0];
    for (let i = 0; i < N; i++) cols[i % M] += v[i];
    expectClose(await sum(y, 0).data(), cols, { atol: 1, rtol: 0 });
    const colArg = [0, 1, 2].map((c) => {
      let best = 0;
      for (let i = c; i < N; i += M) if (v[i] > v[best * M + c]) best = (i - c) / M;
      return best;
    });
    expect(Array.from(await argMax(y, 0).data())).toEqual(colArg);
    const live = memory().numTensors;
    expect(() => sum(y, 1)).toThrow(DeviceError);
    expect(() => argMax(y, 1)).toThrow(/argMax: x of shape \[11184844,3\].*maxStorageBufferBindingSize/);
    expect(() => logSumExp(y, [1], true)).toThrow(DeviceError);
    expect(() => sum(y, 1)).toThrow(
      /sum: x of shape \[11184844,3\] is 134218128 bytes, over the adapter's maxStorageBufferBindingSize of 134217728/,
    );
    expect(() => softmax(y)).toThrow(/softmax: logits .* maxStorageBufferBindingSize/);
    expect(memory().numTensors).toBe(live); // nothing allocated before the errors
    y.dispose();

    // [12, N/12] over axis 0: wide rows, chunks of 11 rows and 1 row merged elementwise.
    const W = N / 12;
    const z = tensor(v, [12, W]);
    const [zmin, zarg] = await Promise.all([min(z, 0).data(), argMin(z, 0).data()]);
    let bad = -1;
    for (let i = 0; i < W && bad < 0; i++) {
      let m = v[i];
      let am = 0;
      for (let row = 1; row < 12; row++) {
        if (v[row * W + i] < m) {
          m = v[row * W + i];
          am = row;
        }
      }
      if (zmin[i] !== m || zarg[i] !== am) bad = i;
    }
    expect(bad).toBe(-1);
    expect([zmin[W - 3], zarg[W - 3]]).toEqual([-7, 11]);
    z.dispose();
  });
});
