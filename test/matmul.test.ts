import { afterEach, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  DeviceError,
  DisposedTensorError,
  DTypeError,
  deviceInfo,
  ShapeError,
  type Tensor,
  tensor,
  zeros,
} from '../src/index.js';
import { ACTIVATIONS, type Activation } from '../src/kernels/activation.js';
import { chooseTile, matmul, planChunks } from '../src/kernels/matmul.js';
import { setTuning, withTuning } from '../src/kernels/tuning.js';
import { type OpRecord, setRecorder } from '../src/tensor/record.js';
import { expectClose, randArray, rng } from './helpers.js';
import { matmulOracle, matmulOracleAt } from './oracle/matmul.js';

// float32 accumulation over K terms of size <= 1: error grows with K. Indexing bugs give O(1) errors.
const tolFor = (K: number) => ({ atol: 1e-5 * (1 + Math.sqrt(K)), rtol: 1e-4 });

interface Case {
  M: number;
  N: number;
  K: number;
  tA?: boolean;
  tB?: boolean;
  bias?: boolean;
  act?: Activation;
  aBatch?: number[];
  bBatch?: number[];
}

async function check(c: Case, r: () => number, label = ''): Promise<void> {
  const { M, N, K, tA = false, tB = false } = c;
  const aShape = [...(c.aBatch ?? []), ...(tA ? [K, M] : [M, K])];
  const bShape = [...(c.bBatch ?? []), ...(tB ? [N, K] : [K, N])];
  const av = randArray(
    aShape.reduce((x, y) => x * y, 1),
    r,
  );
  const bv = randArray(
    bShape.reduce((x, y) => x * y, 1),
    r,
  );
  const biasV = c.bias ? randArray(N, r) : undefined;
  const opts = { transposeA: tA, transposeB: tB, activation: c.act };
  const a = tensor(av, aShape);
  const b = tensor(bv, bShape);
  const bias = biasV ? tensor(biasV) : undefined;
  const out = matmul(a, b, { ...opts, bias });
  const ref = matmulOracle(av, aShape, bv, bShape, { ...opts, bias: biasV });
  expect(out.shape, label).toEqual(ref.shape);
  expectClose(await out.data(), ref.data, tolFor(K), `${label} ${JSON.stringify(c)}`);
  for (const t of [a, b, bias, out]) t?.dispose();
}

afterEach(() => setTuning());

describe('matmul rank 2', () => {
  it('matches the oracle on odd sizes with every transpose combination', async () => {
    const r = rng(1);
    for (const [M, N, K] of [
      [1, 1, 1],
      [3, 7, 1],
      [1, 65, 7],
      [7, 3, 65],
      [65, 33, 17],
      [17, 70, 257],
      [257, 9, 3],
      [33, 129, 64],
    ]) {
      for (const tA of [false, true]) for (const tB of [false, true]) await check({ M, N, K, tA, tB }, r);
    }
  });

  it('covers every tile height (4, 16, 32, 64 rows) with vec4 operands and partial row blocks', async () => {
    const r = rng(11);
    for (const M of [4, 12, 16, 40, 96]) {
      expect([4, 16, 32, 64]).toContain(chooseTile(M, 64, 68).mr);
      for (const tA of [false, true]) {
        for (const tB of [false, true]) await check({ M, N: 64, K: 68, tA, tB, bias: true, act: 'relu' }, r);
      }
    }
    const t = chooseTile(40, 64, 68);
    expect(t.mr).toBe(t.sg > 0 ? 32 : 4);
    // 64 rows: the default of 16-lane subgroups on a software adapter (512-bit lavapipe), forced
    // here so that every width runs it (a partial last row block: 96 = 64 + 32).
    if (t.sg > 0) {
      for (const tA of [false, true])
        await withTuning({ matmulTile: { mr: 64 } }, () =>
          check({ M: 96, N: 64, K: 68, tA, bias: true, act: 'relu' }, r),
        );
    }
  });

  it('fuses bias and every activation, including large pre-activations', async () => {
    const r = rng(2);
    // Tile kernel and split-K reduce epilogues, with and without bias (each a separate pipeline).
    for (const act of ACTIVATIONS) {
      await check({ M: 5, N: 37, K: 9, bias: true, act }, r, act);
      await check({ M: 20, N: 3, K: 300, bias: true, act, tA: true }, r, act);
    }
    await check({ M: 5, N: 37, K: 9, act: 'tanh', tB: true }, r);
    // N a multiple of 4: C stored as vec4 rows (its own epilogue), also batched and partial blocks.
    for (const act of ACTIVATIONS) await check({ M: 37, N: 36, K: 9, bias: true, act }, r, `vec4 C ${act}`);
    await check(
      { M: 19, N: 68, K: 33, tA: true, act: 'relu6', aBatch: [3], bBatch: [3] },
      r,
      'vec4 C batched',
    );
    await check({ M: 20, N: 3, K: 300, act: 'sigmoid' }, r);
    // tanh and sigmoid saturate without NaN for |x| of about 100.
    const a = tensor(new Float32Array(64).fill(1), [1, 64]);
    const b = tensor(new Float32Array(128).fill(2), [64, 2]);
    const bias = tensor([0, -256]);
    expect(Array.from(await matmul(a, b, { bias, activation: 'tanh' }).data())).toEqual([1, -1]);
    expect(Array.from(await matmul(a, b, { bias, activation: 'sigmoid' }).data())).toEqual([1, 0]);
    expect(Array.from(await matmul(a, b, { bias, activation: 'relu6' }).data())).toEqual([6, 0]);
  });

  it('handles skinny products (few output columns, long K) with the split-K kernel', async () => {
    const r = rng(3);
    await check({ M: 64, N: 5, K: 1280, bias: true, act: 'relu' }, r);
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        await check({ M: 9, N: 3, K: 203, tA, tB, bias: tB }, r);
        await check({ M: 4, N: 8, K: 64, tA, tB, act: 'sigmoid' }, r);
      }
    }
    await check({ M: 1, N: 1, K: 4099 }, r);
  });

  it('runs the portable kernel (no subgroups) on the same cases', async () => {
    setTuning({ matmulPortable: true });
    expect(chooseTile(100, 100, 100).sg).toBe(0);
    const r = rng(4);
    for (const [M, N, K] of [
      [1, 1, 1],
      [7, 65, 3],
      [65, 257, 17],
      [64, 5, 300],
    ]) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) await check({ M, N, K, tA, tB, bias: true, act: 'relu6' }, r);
      }
    }
  });

  it('propagates NaN and infinities like the oracle', async () => {
    const av = [1, Number.POSITIVE_INFINITY, 2, 0, -1, 3, Number.NaN, 1, 0.5, 2, 1, -2];
    const bv = [1, 2, 0, -1, 1, 0, 2, 1, 1, 0, 0, 3];
    for (const [aShape, bShape, tA] of [
      [[3, 4], [4, 3], false],
      [[4, 3], [4, 3], true],
    ] as const) {
      const out = await matmul(tensor(av, aShape), tensor(bv, bShape), { transposeA: tA }).data();
      expectClose(out, matmulOracle(av, aShape, bv, bShape, { transposeA: tA }).data);
    }
  });

  it('returns empty outputs, and act(bias) when K is 0', async () => {
    expect(matmul(zeros([0, 3]), zeros([3, 4])).shape).toEqual([0, 4]);
    expect(matmul(zeros([2, 3]), zeros([3, 0])).shape).toEqual([2, 0]);
    expect(matmul(zeros([2, 3, 0]), zeros([2, 3, 4]), { transposeA: true }).shape).toEqual([2, 0, 4]);
    const out = matmul(zeros([2, 0]), zeros([0, 3]), { bias: tensor([1, -2, 3]), activation: 'relu' });
    expect(await out.array()).toEqual([
      [1, 0, 3],
      [1, 0, 3],
    ]);
  });
});

describe('matmul batched', () => {
  it('broadcasts batch dims like NumPy', async () => {
    const r = rng(5);
    const cases: Case[] = [
      { M: 3, N: 5, K: 7, aBatch: [4], bBatch: [4] },
      { M: 9, N: 33, K: 5, aBatch: [2, 1], bBatch: [3], tA: true },
      { M: 17, N: 2, K: 65, aBatch: [3], bBatch: [], tB: true, bias: true, act: 'tanh' },
      { M: 4, N: 40, K: 8, aBatch: [], bBatch: [2, 3], tA: true, tB: true },
      { M: 5, N: 6, K: 7, aBatch: [2, 1, 3, 1], bBatch: [1, 2, 1, 2], bias: true, act: 'relu' },
      { M: 1, N: 1, K: 1, aBatch: [70000], bBatch: [1] },
    ];
    for (const c of cases) await check(c, r);
  });

  // 2 x 4096 x 4097 float32 = 134250496 bytes, just over lavapipe's 128 MiB binding limit.
  it.skipIf(deviceInfo().limits.maxStorageBufferBindingSize !== 128 * 1024 * 1024)(
    'refuses batched operands over the binding limit',
    () => {
      const big = zeros([2, 4096, 4097]);
      try {
        expect(() => matmul(big, zeros([2, 4097, 1]))).toThrow(DeviceError);
        expect(() => matmul(big, zeros([4097, 1]))).toThrow(
          /matmul: a of shape \[2,4096,4097\] is 134250496 bytes, over the adapter's maxStorageBufferBindingSize/,
        );
      } finally {
        big.dispose();
      }
    },
  );
});

describe('matmul over the binding limit', () => {
  it('splits rows, columns and K into windows and accumulates k-chunks', async () => {
    const r = rng(6);
    // A limit of 8192 elements forces chunks along every dimension on small matrices (each case
    // runs 2-24 dispatches): rows and k of A, k and columns of B, rows and columns of C.
    setTuning({ matmulWindowLimit: 8192 });
    const cases: Case[] = [
      { M: 70, N: 300, K: 90 },
      { M: 70, N: 300, K: 90, tA: true, tB: true, bias: true, act: 'sigmoid' },
      { M: 33, N: 5, K: 2000, tA: true, bias: true, act: 'relu' },
      { M: 33, N: 5, K: 2000, tB: true },
      { M: 2, N: 9000, K: 3, bias: true, act: 'tanh' },
      { M: 9000, N: 2, K: 3, tA: true },
    ];
    for (const c of cases) await check(c, r);
  });

  it('plans chunks whose operand slices fit', () => {
    for (const [M, N, K, tA, tB] of [
      [64, 500, 110592, false, false],
      [110592, 500, 64, true, false],
      [64, 110592, 500, false, true],
      [5000, 7000, 3000, true, true],
    ] as const) {
      const limit = 33554432 - 64;
      const { mc, nc, kc } = planChunks(M, N, K, tA, tB, limit);
      const lda = tA ? M : K;
      const ldb = tB ? K : N;
      expect((tA ? (kc - 1) * lda + mc : (mc - 1) * lda + kc) <= limit).toBe(true);
      expect((tB ? (nc - 1) * ldb + kc : (kc - 1) * ldb + nc) <= limit).toBe(true);
      expect((mc - 1) * N + nc <= limit).toBe(true);
      expect(mc * nc * kc).toBeGreaterThan(0);
    }
  });

  it('computes Dense(110592 -> 500) forward and both backward products', async () => {
    // x [64, 110592] (28 MB), w [110592, 500] (221 MB, over the 128 MiB binding limit).
    const r = rng(7);
    const K = 110592;
    const N = 500;
    const M = 64;
    const xv = randArray(M * K, r);
    const wv = randArray(K * N, r);
    const dyv = randArray(M * N, r);
    const x = tensor(xv, [M, K]);
    const w = tensor(wv, [K, N]);
    const dy = tensor(dyv, [M, N]);
    // Sums of 110592 products have magnitude ~100; float32 error stays well under 0.05 (a wrong
    // window or offset gives errors of order 100).
    const tol = { atol: 0.05, rtol: 1e-4 };
    const sample = async (t: Tensor, rows: number, cols: number, at: (i: number, j: number) => number) => {
      const d = await t.data();
      const got: number[] = [];
      const want: number[] = [];
      const rs = rng(8);
      for (let s = 0; s < 60; s++) {
        const i = s < 4 ? [0, rows - 1, 0, rows - 1][s] : Math.floor(rs() * rows);
        const j = s < 4 ? [0, cols - 1, cols - 1, 0][s] : Math.floor(rs() * cols);
        got.push(d[i * cols + j]);
        want.push(at(i, j));
      }
      expectClose(got, want, tol);
    };
    const y = matmul(x, w);
    expect(y.shape).toEqual([M, N]);
    await sample(y, M, N, (i, j) => matmulOracleAt(xv, wv, M, N, K, i, j));
    y.dispose();
    const dw = matmul(x, dy, { transposeA: true }); // [110592, 500]: the output is over the limit
    expect(dw.shape).toEqual([K, N]);
    await sample(dw, K, N, (i, j) => matmulOracleAt(xv, dyv, K, N, M, i, j, { transposeA: true }));
    dw.dispose();
    const dx = matmul(dy, w, { transposeB: true }); // b^T with b over the limit
    expect(dx.shape).toEqual([M, K]);
    await sample(dx, M, K, (i, j) => matmulOracleAt(dyv, wv, M, K, N, i, j, { transposeB: true }));
    for (const t of [dx, x, w, dy]) t.dispose();
  });
});

describe('matmul errors and recording', () => {
  it('rejects bad arguments with typed errors naming both shapes', () => {
    const a = zeros([2, 3]);
    const b = zeros([4, 5]);
    expect(() => matmul(a, b)).toThrow(ShapeError);
    expect(() => matmul(a, b)).toThrow(
      'matmul: inner dimensions differ: a [2,3] (K=3, transposeA=false) vs b [4,5] (K=4, transposeB=false)',
    );
    expect(() => matmul(a, zeros([2, 5]), { transposeA: true })).not.toThrow();
    expect(() => matmul(zeros([3]), b)).toThrow(/matmul: a must have rank >= 2, got shape \[3\]/);
    expect(() => matmul(a, zeros([3]))).toThrow(/matmul: b must have rank >= 2/);
    expect(() => matmul(zeros([2, 2, 3]), zeros([3, 3, 4]))).toThrow(
      /batch dimensions of a \[2,2,3\] and b \[3,3,4\] cannot be broadcast/,
    );
    expect(() => matmul(zeros([2, 3], 'int32'), zeros([3, 4]))).toThrow(DTypeError);
    expect(() => matmul(a, zeros([3, 4], 'bool'))).toThrow(/matmul: b must have dtype float32, got bool/);
    expect(() => matmul(a, zeros([3, 4]), { bias: zeros([3]) })).toThrow(
      /matmul: bias must have shape \[4\] \(N of the product\), got \[3\]/,
    );
    expect(() => matmul(a, zeros([3, 4]), { bias: zeros([4], 'int32') })).toThrow(DTypeError);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => matmul(a, zeros([3, 4]), { activation: 'gelu' as any })).toThrow(ArgumentError);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => matmul(a, zeros([3, 4]), { transposeA: 1 as any })).toThrow(/transposeA must be a boolean/);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => matmul(a, [[1]] as any)).toThrow(/matmul: b must be a Tensor/);
    const d = zeros([3, 4]);
    d.dispose();
    expect(() => matmul(a, d)).toThrow(DisposedTensorError);
  });

  it('records the op with its inputs and attributes', () => {
    const seen: OpRecord[] = [];
    const prev = setRecorder((rec) => seen.push(rec));
    try {
      const a = zeros([2, 3]);
      const b = zeros([4, 3]);
      const bias = zeros([4]);
      const out = matmul(a, b, { transposeB: true, bias, activation: 'relu' });
      expect(seen).toHaveLength(1);
      expect(seen[0].op).toBe('matmul');
      expect(seen[0].inputs).toEqual([a, b, bias]);
      expect(seen[0].output).toBe(out);
      expect(seen[0].attrs).toEqual({ transposeA: false, transposeB: true, activation: 'relu' });
    } finally {
      setRecorder(prev);
    }
  });
});
