import { afterEach, describe, expect, it } from 'vitest';
import { matmul, tensor } from '../src/index.js';
import type { Activation } from '../src/kernels/activation.js';
import { pendingTuneTasks, resetAutotune, setAutotune } from '../src/kernels/autotune.js';
import type { Epilogue } from '../src/kernels/matmul-variants.js';
import { matmulWsPlan } from '../src/kernels/matmul-ws.js';
import { setTuning, setWeightStationary, tuning, withTuning } from '../src/kernels/tuning.js';
import { deviceFacts } from '../src/tensor/device-info.js';
import { expectClose, randArray, rng } from './helpers.js';
import { dispatchedKernels } from './kernel-helpers.js';
import { matmulOracle } from './oracle/matmul.js';

// The weight-stationary matmul (src/kernels/matmul-ws.ts) needs a fixed subgroup size (lavapipe);
// elsewhere its plan declines and the kernel tests are skipped.
const lanes = deviceFacts().fixedSubgroupLanes;
const WS = 'matmul_ws';

afterEach(() => setTuning());

interface Case {
  a: number[];
  b: number[];
  bias?: boolean;
  act?: Activation;
}

// Rows off any run length and under one run, columns across lane blocks with idle lanes in the
// last, K with chunks of 128, 100 (K = 200), 36 (K = 36: one chunk) and 4 (forced), batches
// (workgroup_id.z) with B shared or not, bias and each cheap activation.
const CASES: Case[] = [
  { a: [1, 4], b: [4, 4] },
  { a: [7, 36], b: [36, 12], bias: true, act: 'relu6' },
  { a: [129, 200], b: [200, 68], act: 'relu' },
  { a: [300, 384], b: [384, 260], bias: true },
  { a: [3, 65, 128], b: [3, 128, 36], bias: true, act: 'relu' },
  { a: [2, 130, 256], b: [256, 20] },
];

describe.skipIf(lanes === 0)('weight-stationary matmul', () => {
  it('matches the float64 oracle and is the kernel that ran', async () => {
    for (const [i, c] of CASES.entries()) {
      const r = rng(50 + i);
      const ad = randArray(
        c.a.reduce((x, y) => x * y),
        r,
      );
      const bd = randArray(
        c.b.reduce((x, y) => x * y),
        r,
      );
      const n = c.b[c.b.length - 1];
      const k = c.b[c.b.length - 2];
      const biasd = c.bias ? randArray(n, r) : undefined;
      const label = `${JSON.stringify(c.a)} x ${JSON.stringify(c.b)} ${c.act ?? 'linear'}${c.bias ? ' +bias' : ''}`;
      const f = () =>
        matmul(tensor(ad, c.a), tensor(bd, c.b), {
          ...(biasd ? { bias: tensor(biasd, [n]) } : {}),
          ...(c.act ? { activation: c.act } : {}),
        });
      const on = await withTuning({ matmulWeightStationary: 'on' }, () => dispatchedKernels(f));
      expect(on.kernels, label).toContain(WS);
      const want = matmulOracle(ad, c.a, bd, c.b, { bias: biasd, activation: c.act });
      const tol = { atol: 2e-6 * Math.sqrt(k) + 1e-6, rtol: 1e-5 };
      expectClose(on.data, want.data, tol, label);
      const off = await withTuning({ matmulWeightStationary: 'off' }, () => dispatchedKernels(f));
      expect(off.kernels, label).not.toContain(WS);
      expectClose(on.data, off.data, tol, label);
    }
  });

  it('accumulates k-windows when the product is split over the binding limit', async () => {
    // An 8192-element window limit splits K (and rows, columns) into chunks: after the first
    // k-window the kernel adds to C (its acc epilogue), the last applies bias and activation.
    const r = rng(61);
    const [M, K, N] = [140, 256, 64];
    const ad = randArray(M * K, r);
    const bd = randArray(K * N, r);
    const biasd = randArray(N, r);
    const { kernels, data } = await withTuning(
      { matmulWeightStationary: 'on', matmulWindowLimit: 8192 },
      () =>
        dispatchedKernels(() =>
          matmul(tensor(ad, [M, K]), tensor(bd, [K, N]), { bias: tensor(biasd, [N]), activation: 'relu6' }),
        ),
    );
    expect(kernels.filter((k) => k === WS).length).toBeGreaterThan(1);
    const want = matmulOracle(ad, [M, K], bd, [K, N], { bias: biasd, activation: 'relu6' });
    expectClose(data, want.data, { atol: 1e-4, rtol: 1e-5 });
  });

  it('leaves a forced tile (how the autotuner times tiles) to the tile kernel, and notes no tuning task', async () => {
    const r = rng(63);
    const ad = randArray(256 * 64, r);
    const bd = randArray(64 * 64, r);
    const f = () => matmul(tensor(ad, [256, 64]), tensor(bd, [64, 64]));
    const forced = await withTuning({ matmulWeightStationary: 'on', matmulTile: { mr: 16 } }, () =>
      dispatchedKernels(f),
    );
    expect(forced.kernels).not.toContain(WS);
    expect(forced.kernels).toContain('matmul_tile');
    // With autotuning on, a product the weight-stationary kernel takes leaves no tile class to time.
    resetAutotune();
    setAutotune(true);
    try {
      const ws = await withTuning({ matmulWeightStationary: 'on' }, () => dispatchedKernels(f));
      expect(ws.kernels).toContain(WS);
      expect(pendingTuneTasks().map((t) => `${t.family}:${t.cls}`)).toEqual([]);
    } finally {
      setAutotune(false);
      resetAutotune();
    }
  });

  it('leaves transposed operands and costly activations to the tile kernel', async () => {
    const r = rng(62);
    const ad = randArray(128 * 64, r);
    const bd = randArray(64 * 64, r);
    await withTuning({ matmulWeightStationary: 'on' }, async () => {
      for (const f of [
        () => matmul(tensor(ad, [64, 128]), tensor(bd, [64, 64]), { transposeA: true }),
        () => matmul(tensor(ad, [128, 64]), tensor(bd, [64, 64]), { transposeB: true }),
        () => matmul(tensor(ad, [128, 64]), tensor(bd, [64, 64]), { activation: 'sigmoid' }),
      ]) {
        const { kernels } = await dispatchedKernels(f);
        expect(kernels).not.toContain(WS);
      }
    });
  });
});

describe('setWeightStationary', () => {
  it('sets both switches, and auto restores the default', () => {
    setWeightStationary('off');
    expect(tuning().convWeightStationary).toBe('off');
    expect(tuning().matmulWeightStationary).toBe('off');
    setWeightStationary('auto');
    expect(tuning().convWeightStationary).toBe('auto');
    expect(tuning().matmulWeightStationary).toBe('auto');
  });
});

describe('matmulWsPlan', () => {
  const plain: Epilogue = { acc: false, last: true, bias: false, act: 'linear' };

  it('chunks K by its largest divisor of at most 128, and declines what it does not cover', () => {
    withTuning({ matmulWeightStationary: 'on' }, () => {
      expect(matmulWsPlan(2048, 2048, 2048, 1, plain, 8)?.kc).toBe(128);
      expect(matmulWsPlan(256, 64, 200, 1, plain, 8)?.kc).toBe(100);
      expect(matmulWsPlan(256, 64, 36, 1, plain, 8)?.kc).toBe(36);
      expect(matmulWsPlan(256, 64, 4, 1, plain, 8)?.kc).toBe(4);
      expect(matmulWsPlan(256, 64, 6, 1, plain, 8)).toBeUndefined(); // K % 4
      expect(matmulWsPlan(256, 6, 64, 1, plain, 8)).toBeUndefined(); // N % 4
      expect(matmulWsPlan(256, 64, 64, 1, plain, 0)).toBeUndefined(); // no fixed subgroup size
      expect(matmulWsPlan(256, 64, 64, 1, { ...plain, act: 'tanh' }, 8)).toBeUndefined();
      // A costly activation on a k-window that is not the last one is not applied there.
      expect(matmulWsPlan(256, 64, 64, 1, { ...plain, last: false, act: 'tanh' }, 8)).toBeDefined();
    });
    withTuning({ matmulWeightStationary: 'off' }, () =>
      expect(matmulWsPlan(2048, 2048, 2048, 1, plain, 8)).toBeUndefined(),
    );
    const software = deviceFacts().adapterClass === 'software';
    // 'auto': software adapters, M >= 128, chunks of >= 32.
    expect(matmulWsPlan(2048, 2048, 2048, 1, plain, 8) !== undefined).toBe(software);
    expect(matmulWsPlan(64, 2048, 2048, 1, plain, 8)).toBeUndefined();
    expect(matmulWsPlan(2048, 2048, 4 * 37, 1, plain, 8)).toBeUndefined(); // only chunks of 4 or 148
  });

  it('runs 64-512 rows, never more than M, with the column quads per lane that idle fewest lanes', () => {
    withTuning({ matmulWeightStationary: 'on' }, () => {
      for (const M of [1, 100, 128, 2048, 100_000])
        for (const N of [4, 64, 96, 160, 2048]) {
          const p = matmulWsPlan(M, N, 256, 1, plain, 8);
          expect(p).toBeDefined();
          if (!p) continue;
          expect(p.px).toBeLessThanOrEqual(Math.min(512, M));
          expect(p.px).toBeGreaterThanOrEqual(Math.min(64, M));
          // 2 quads per lane unless 3 or 1 leave fewer idle lanes (N = 96: 3; N = 4, 160: 1).
          expect(p.c).toBe(({ 4: 1, 96: 3, 160: 1 } as Record<number, number>)[N] ?? 2);
          // K 256 is two chunks: on lavapipe the partial sums of a run stay private.
          if (p.rows) expect(p.px).toBeLessThanOrEqual(Math.min(256, p.rows));
          expect(p.rows > 0).toBe(deviceFacts().lavapipe);
        }
    });
  });

  it('keeps partial sums privately only with several chunks and no accumulation into C', () => {
    withTuning({ matmulWeightStationary: 'on' }, () => {
      const lava = deviceFacts().lavapipe;
      const rows = (M: number, K: number, e: Epilogue = plain) => matmulWsPlan(M, 64, K, 1, e, 8)?.rows;
      expect(rows(2048, 128)).toBe(0); // one chunk
      expect(rows(2048, 256, { ...plain, acc: true })).toBe(0);
      expect(rows(16384, 256)).toBe(lava ? 256 : 0); // runs of 256: 64 of them
      expect(rows(2048, 256)).toBe(lava ? 64 : 0); // runs of 64, enough of them for the threads
      expect(rows(100, 256)).toBe(lava ? 64 : 0); // runs of 64 and 36 rows
      expect(rows(1, 256)).toBe(lava ? 64 : 0);
    });
  });
});
