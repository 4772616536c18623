import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { batchNorm, deviceInfo, memory, tensor } from '../src/index.js';
import { fileTuneStore } from '../src/io/tune-store.js';
import {
  autotune,
  bucket,
  candidates,
  pendingTuneTasks,
  resetAutotune,
  setAutotune,
  setTuneStore,
  setWinner,
  tunedWinners,
} from '../src/kernels/autotune.js';
import { chooseTile, matmul, matmulClass } from '../src/kernels/matmul.js';
import { adapterKey, parseTuneCache, serializeTuneCache } from '../src/kernels/tune-cache.js';
import { subgroupLanes, withTuning } from '../src/kernels/tuning.js';
import { VERSION } from '../src/version.js';
import { expectClose, randArray, rng } from './helpers.js';
import { matmulOracle } from './oracle/matmul.js';

// Every test points the cache folder at a fresh temp folder.
let dir = '';
const saved = process.env.XDG_CACHE_HOME;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-tune-'));
  process.env.XDG_CACHE_HOME = dir;
  setTuneStore(fileTuneStore);
  resetAutotune();
});
afterEach(() => {
  setAutotune(false);
  resetAutotune();
  rmSync(join(dir, 'wgsl-nn'), { recursive: true, force: true });
});
afterAll(() => {
  process.env.XDG_CACHE_HOME = saved;
  rmSync(dir, { recursive: true, force: true });
});

const here = () => adapterKey(deviceInfo());
const cacheFile = () => fileTuneStore.where(here());
function writeCache(text: string): void {
  mkdirSync(dirname(cacheFile()), { recursive: true });
  writeFileSync(cacheFile(), text);
}
const sg = () => subgroupLanes('matmul');

describe('autotune cache', () => {
  it('shape classes bucket sizes by powers of 4, capped at 65536', () => {
    expect([0, 1, 4, 5, 17, 4097, 1e9].map(bucket)).toEqual([4, 4, 4, 16, 64, 16384, 65536]);
    expect(matmulClass(1, 300, 70000)).toBe('4x1024x65536');
  });

  it('the library version is package.json', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });

  it('round-trips winners through the file', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    setAutotune(true);
    // batchNorm exists on every adapter; the matmul tile only where subgroup tiles run.
    const x = tensor(randArray(40 * 12, rng(1)), [40, 12]);
    const m = tensor(new Float32Array(12), [12]);
    const v = tensor(new Float32Array(12).fill(1), [12]);
    batchNorm(x, m, v).dispose();
    expect(pendingTuneTasks().map((t) => t.cls)).toEqual(['64x16']);
    const res = await autotune({ reps: 1, filter: (_, c) => (c as { rows: number }).rows <= 16 });
    expect(res.map((r) => r.key)).toEqual(['batchNorm:64x16']);
    expect(Object.keys(res[0].ms)).toEqual(['{"rows":8}', '{"rows":16}']);
    const text = readFileSync(cacheFile(), 'utf8');
    resetAutotune();
    expect(tunedWinners().get('batchNorm:64x16')).toEqual(res[0].winner);
    expect(JSON.parse(text).library).toBe(VERSION);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
    for (const t of [x, m, v]) t.dispose();
  });

  it('ignores a corrupt cache with one warning', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const good = serializeTuneCache(here(), new Map([['batchNorm:64x16', { rows: 8 }]]));
    for (const bad of [good.slice(0, 40), '', '[1,2]', 'null']) {
      resetAutotune();
      writeCache(bad);
      expect(tunedWinners().size).toBe(0);
      expect(tunedWinners().size).toBe(0);
    }
    expect(warn).toHaveBeenCalledTimes(4);
    expect(String(warn.mock.calls[0][0])).toMatch(/ignoring the tuning cache .*tuning-.*\.json: not JSON/);
    warn.mockRestore();
  });

  it('ignores a stale cache: other version, other adapter, unknown keys or values', () => {
    const a = here();
    const good = JSON.parse(serializeTuneCache(a, new Map([['batchNorm:64x16', { rows: 8 }]])));
    const cases: Array<[unknown, RegExp]> = [
      [{ ...good, library: '0.0.1' }, /made by wgsl-nn 0\.0\.1/],
      [{ ...good, adapter: { ...a, description: 'another GPU' } }, /another adapter/],
      [{ ...good, extra: 1 }, /unknown keys extra/],
      [{ ...good, winners: { 'fft:4x4': { rows: 8 } } }, /unknown key "fft:4x4"/],
      [{ ...good, winners: { 'batchNorm:64x16': { rows: 7 } } }, /not a batchNorm candidate/],
      [{ ...good, winners: { 'batchNorm:64x16': { rows: 8, px: 1 } } }, /not a batchNorm candidate/],
      [{ ...good, winners: { 'matmul:4x4x4': { mr: 32, s: 1 } } }, /not a matmul candidate/],
    ];
    for (const [file, why] of cases) {
      const got = parseTuneCache(JSON.stringify(file), a);
      expect('reason' in got && got.reason, JSON.stringify(file)).toMatch(why);
    }
    expect(parseTuneCache(JSON.stringify(good), a)).toEqual({
      winners: new Map([['batchNorm:64x16', { rows: 8 }]]),
    });
    // Through the store: ignored as a whole, one warning.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    resetAutotune();
    writeCache(JSON.stringify({ ...good, library: '0.0.1' }));
    expect(tunedWinners().size).toBe(0);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/made by wgsl-nn 0\.0\.1, this is/);
    // The same file with this version is used.
    resetAutotune();
    writeCache(JSON.stringify(good));
    expect(tunedWinners().get('batchNorm:64x16')).toEqual({ rows: 8 });
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });
});

describe('autotune winners', () => {
  it('applies a winner to the matmul tile of its shape class (and the switch overrides it)', () => {
    if (sg() === 0) return; // portable kernel: no tile choices on this adapter
    const def = chooseTile(100, 40, 30);
    const other = { mr: def.mr === 16 ? 32 : 16, s: 2, rowsX: !def.rowsX };
    setWinner('matmul', matmulClass(100, 40, 30), other);
    expect(chooseTile(100, 40, 30)).toEqual({ ...def, ...other });
    expect(chooseTile(2000, 40, 30)).toEqual(chooseTile(2000, 40, 30)); // another class: untouched
    withTuning({ matmulTile: { mr: 4 } }, () => expect(chooseTile(100, 40, 30).mr).toBe(4));
  });

  it('every matmul candidate gives the same product, equal to the oracle', async () => {
    const [M, N, K] = [37, 70, 45]; // off every tile grid
    const r = rng(3);
    const av = randArray(M * K, r);
    const bv = randArray(K * N, r);
    const want = matmulOracle(av, [M, K], bv, [K, N]).data;
    const a = tensor(av, [M, K]);
    const b = tensor(bv, [K, N]);
    const n0 = memory().numTensors;
    let first: Float32Array | undefined;
    // Each candidate is a pipeline to compile (seconds on a loaded lavapipe): every mr, every s and
    // both walk orders, not their whole product.
    const cands =
      sg() === 0
        ? []
        : candidates(
            'matmul',
            (c) =>
              (c.s === 1 && !c.rowsX) || (c.mr === 16 && c.s === 2) || (c.mr === 4 && c.s === 4 && c.rowsX),
          );
    for (const c of cands) {
      const y = withTuning({ matmulTile: c }, () => matmul(a, b));
      const got = (await y.data()) as Float32Array;
      y.dispose();
      expectClose(got, want, { atol: 1e-5, rtol: 1e-5 }, JSON.stringify(c));
      if (first) expect(got, JSON.stringify(c)).toEqual(first);
      first ??= got;
    }
    expect(memory().numTensors).toBe(n0);
    a.dispose();
    b.dispose();
  });

  it('every batch-norm candidate gives the same result', async () => {
    const x = tensor(randArray(300 * 8, rng(4)), [300, 8]);
    const m = tensor(randArray(8, rng(5)), [8]);
    const v = tensor(randArray(8, rng(6), 0.5, 2), [8]);
    const outs: Float32Array[] = [];
    for (const c of candidates('batchNorm')) {
      const y = withTuning({ batchNormRows: c.rows }, () => batchNorm(x, m, v));
      outs.push((await y.data()) as Float32Array);
      y.dispose();
    }
    for (const o of outs) expect(o).toEqual(outs[0]);
    for (const t of [x, m, v]) t.dispose();
  });

  it('times the noted matmul classes and keeps the fastest', async () => {
    if (sg() === 0) return;
    setAutotune(true);
    const a = tensor(randArray(20 * 8, rng(7)), [20, 8]);
    const b = tensor(randArray(8 * 24, rng(8)), [8, 24]);
    matmul(a, b).dispose();
    setAutotune(false);
    const res = await autotune({ reps: 1, save: false, filter: (_, c) => (c as { s: number }).s === 1 });
    expect(res).toHaveLength(1);
    expect(res[0].key).toBe(`matmul:${matmulClass(20, 24, 8)}`);
    const ms = Object.entries(res[0].ms);
    expect(ms).toHaveLength(6);
    const best = ms.reduce((x, y) => (y[1] < x[1] ? y : x));
    expect(res[0].winner).toEqual(JSON.parse(best[0]));
    expect(tunedWinners().get(res[0].key)).toEqual(res[0].winner);
    a.dispose();
    b.dispose();
  });

  it('rejects bad arguments', async () => {
    expect(() => setAutotune(1 as unknown as boolean)).toThrow(/setAutotune: on must be a boolean, got 1/);
    await expect(autotune({ reps: 0 })).rejects.toThrow(/autotune: reps must be a positive integer, got 0/);
    expect(() => setWinner('batchNorm', '4x4', { rows: 3 })).toThrow(/not a batchNorm candidate/);
  });
});
