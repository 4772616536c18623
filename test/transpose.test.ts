import { afterEach, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DisposedTensorError,
  drainPool,
  memory,
  sync,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from '../src/index.js';
import { transpose } from '../src/kernels/transpose.js';
import { setTuning } from '../src/kernels/tuning.js';
import { randShape, rng } from './helpers.js';
import { bits, type DTypeName, poison, randData, sizeOf, transposeRef } from './oracle/movement.js';

// Transpose moves 32-bit words: every comparison is bit-exact (tolerance 0).
const DTYPES: DTypeName[] = ['float32', 'int32', 'bool'];

function shuffle(n: number, r: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

async function check(shape: number[], dtype: DTypeName, perm: number[] | undefined, r: () => number) {
  const data = randData(sizeOf(shape), dtype, r);
  const x = tensor(data, shape, dtype);
  poison(x.size);
  const y = transpose(x, perm);
  const ref = transposeRef({ data, shape }, perm);
  const label = `shape ${JSON.stringify(shape)} perm ${JSON.stringify(perm)} ${dtype}`;
  expect(y.shape, label).toEqual(ref.shape);
  expect(y.dtype).toBe(dtype);
  expect(bits(await y.data(), dtype), label).toEqual(bits(ref.data, dtype));
  x.dispose();
  y.dispose();
}

describe('transpose', () => {
  afterEach(() => setTuning());

  it('matches the oracle for random permutations of ranks 0-6 and every dtype', async () => {
    const r = rng(21);
    for (let trial = 0; trial < 56; trial++) {
      const rank = trial % 7;
      const shape = randShape(rank, r, rank > 4 ? 4 : 7);
      await check(shape, DTYPES[trial % 3], trial % 8 === 0 ? undefined : shuffle(rank, r), r);
    }
  });

  it.each(['gpu', 'cpu'] as const)(
    'swaps the last two axes (%s paths: tiled or generic kernel) for sizes on and off the 32x32 tile grid',
    async (mode) => {
      setTuning({ copyStrategy: mode });
      const r = rng(22);
      const shapes = [
        [1, 1],
        [1, 7],
        [16, 16],
        [17, 33],
        [64, 3],
        [3, 5, 17],
        [2, 1, 40],
        [2, 3, 31, 18],
        [31, 33],
        [32, 64],
        [300, 257],
      ];
      for (const [i, shape] of shapes.entries()) {
        const n = shape.length;
        const perm = [...Array(n - 2).keys(), n - 1, n - 2];
        await check(shape, DTYPES[i % 3], perm, r);
      }
      // Permutations that collapse to a batched 2-D swap, and ones that do not.
      await check([4, 5, 6], 'float32', [2, 0, 1], r);
      await check([4, 5, 6], 'float32', [1, 2, 0], r);
      await check([3, 4, 5, 6], 'int32', [2, 3, 0, 1], r);
      await check([3, 4, 5, 6], 'int32', [0, 3, 1, 2], r);
      await check([2, 1, 3, 1, 4, 5], 'float32', [5, 4, 3, 2, 1, 0], r);
    },
  );

  it('handles empty tensors and scalars', async () => {
    const e = transpose(zeros([0, 3]));
    expect(e.shape).toEqual([3, 0]);
    expect((await e.data()).length).toBe(0);
    expect(await transpose(tensor(4)).array()).toBe(4);
    expect(transpose(zeros([2, 0, 3]), [1, 2, 0]).shape).toEqual([0, 3, 2]);
  });

  it('transposes a tensor over the 128 MiB binding limit through binding windows', async () => {
    const [rows, cols] = [4097, 8192]; // 33,562,624 int32 = 134,250,496 bytes, just over 134,217,728
    const iota = new Int32Array(rows * cols);
    for (let i = 0; i < iota.length; i++) iota[i] = i;
    const x = tensor(iota, [rows, cols], 'int32');
    const y = transpose(x);
    expect(y.shape).toEqual([cols, rows]);
    const out = await y.data();
    let bad = -1;
    for (let c = 0, o = 0; c < cols && bad < 0; c++) {
      for (let rr = 0; rr < rows; rr++, o++) {
        if (out[o] !== rr * cols + c) {
          bad = o;
          break;
        }
      }
    }
    expect(bad, `first wrong element at ${bad}`).toBe(-1);
    x.dispose();
    y.dispose();
    await sync();
    drainPool();
  });

  it('rejects bad permutations naming them', () => {
    const x = zeros([2, 3, 4]);
    const msg = 'transpose: perm must be a permutation of 0..2 for a tensor of rank 3, got [0,1]';
    expect(() => transpose(x, [0, 1])).toThrow(ArgumentError);
    expect(() => transpose(x, [0, 1])).toThrow(msg);
    expect(() => transpose(x, [0, 1, 1])).toThrow(/got \[0,1,1\]/);
    expect(() => transpose(x, [0, 1, 3])).toThrow(ArgumentError);
    expect(() => transpose(x, [0, 1, -1])).toThrow(ArgumentError);
    expect(() => transpose(x, [0, 1, 1.5])).toThrow(ArgumentError);
    const d = zeros([2]);
    d.dispose();
    expect(() => transpose(d)).toThrow(DisposedTensorError);
  });

  it('leaves memory at its starting numbers after a tidy', () => {
    const x = zeros([3, 4, 5]);
    const before = memory();
    const kept: Tensor[] = [];
    tidy(() => {
      transpose(x);
      transpose(x, [0, 2, 1]);
      transpose(transpose(x, [1, 0, 2]), [2, 1, 0]);
      kept.push(transpose(zeros([0, 2])));
    });
    expect(kept[0].isDisposed).toBe(true);
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
    x.dispose();
  });
});
