import { afterEach, describe, expect, it } from 'vitest';
import { conv2d, depthwiseConv2d, memory, profile, tensor, zeros } from '../src/index.js';
import {
  autotune,
  candidates,
  pendingTuneTasks,
  resetAutotune,
  setAutotune,
  setTuneStore,
  setWinner,
} from '../src/kernels/autotune.js';
import {
  convClass,
  convTileTuned,
  depthwiseClass,
  depthwiseStripTuned,
} from '../src/kernels/autotune-conv.js';
import type { WindowDispatch } from '../src/kernels/conv-args.js';
import { withTuning } from '../src/kernels/tuning.js';
import { expectClose, randArray, rng } from './helpers.js';
import { conv2dRef, depthwiseRef } from './oracle/conv.js';

// No store: these tests never read or write a cache file.
setTuneStore(undefined);
afterEach(() => {
  setAutotune(false);
  resetAutotune();
});

const geo = (n: number, h: number, k: number, s: number): WindowDispatch => {
  const o = Math.ceil(h / s);
  const pad = Math.max(0, (o - 1) * s + k - h);
  return {
    n,
    h,
    w: h,
    oh: o,
    ow: o,
    kh: k,
    kw: k,
    sh: s,
    sw: s,
    padT: pad >> 1,
    padL: pad >> 1,
    dh: 1,
    dw: 1,
  };
};

describe('autotune: convolution families', () => {
  it('every conv tile gives the same result, equal to the oracle (windowed and pointwise)', async () => {
    for (const [xs, fs] of [
      [
        [2, 9, 9, 8],
        [3, 3, 8, 12],
      ],
      [
        [1, 7, 7, 16],
        [1, 1, 16, 20],
      ],
    ]) {
      const xv = randArray(
        xs.reduce((a, b) => a * b),
        rng(1),
      );
      const fv = randArray(
        fs.reduce((a, b) => a * b),
        rng(2),
      );
      const want = conv2dRef(xv, xs, fv, fs, 1, 'same');
      const x = tensor(xv, xs);
      const f = tensor(fv, fs);
      const outs: Float32Array[] = [];
      // Every tile on the windowed conv; the pointwise one (another kernel) with one group.
      for (const c of candidates('conv', (c) => fs[0] === 3 || c.groups === 1)) {
        const y = withTuning({ convTile: c }, () => conv2d(x, f, 1, 'same'));
        outs.push((await y.data()) as Float32Array);
        y.dispose();
      }
      expectClose(outs[0], want, { atol: 1e-5, rtol: 1e-5 });
      for (const o of outs) expect(o).toEqual(outs[0]);
      x.dispose();
      f.dispose();
    }
  });

  it('every depthwise strip gives the same result, equal to the oracle', async () => {
    const xs = [2, 11, 11, 8];
    const fs = [3, 3, 8, 1];
    const xv = randArray(2 * 11 * 11 * 8, rng(3));
    const fv = randArray(72, rng(4));
    const want = depthwiseRef(xv, xs, fv, fs, 1, 'same');
    const x = tensor(xv, xs);
    const f = tensor(fv, fs);
    const outs: Float32Array[] = [];
    for (const c of candidates('depthwise', (c) => c.rows !== 2 && c.rows !== 8)) {
      const y = withTuning({ depthwiseStrip: c }, () => depthwiseConv2d(x, f, 1, 'same'));
      outs.push((await y.data()) as Float32Array);
      y.dispose();
    }
    expectClose(outs[0], want, { atol: 1e-5, rtol: 1e-5 });
    for (const o of outs) expect(o).toEqual(outs[0]);
    x.dispose();
    f.dispose();
  });

  it('look-ups return the winner of their class; with autotune on, a miss is timed by autotune()', async () => {
    const a = geo(2, 9, 3, 1);
    setWinner('conv', convClass(a, 8, 12, false), { rows: 32, groups: 2 });
    expect(convTileTuned(a, 8, 12, false)).toEqual({ rows: 32, groups: 2 });
    expect(convTileTuned(a, 8, 12, true)).toBeUndefined(); // pointwise: another class
    expect(depthwiseClass(geo(1, 13, 3, 2), 6)).toBe('3x3s2:64x16');
    const n0 = memory().numTensors;
    setAutotune(true);
    expect(depthwiseStripTuned(geo(1, 13, 3, 2), 6)).toBeUndefined();
    expect(convTileTuned({ ...a, dh: 2, dw: 2 }, 8, 12, true)).toBeUndefined(); // dilated: not timed
    expect(pendingTuneTasks().map((t) => `${t.family}:${t.cls}`)).toEqual(['depthwise:3x3s2:64x16']);
    const res = await autotune({
      reps: 1,
      save: false,
      filter: (_, c) => (c as { rows: number }).rows === 1,
    });
    expect(res.map((r) => r.key)).toEqual(['depthwise:3x3s2:64x16']);
    expect(Object.keys(res[0].ms)).toEqual(['{"px":1,"rows":1}', '{"px":2,"rows":1}']);
    expect(depthwiseStripTuned(geo(1, 13, 3, 2), 6)).toEqual(res[0].winner);
    expect(memory().numTensors).toBe(n0);
  });

  it('conv2d and depthwiseConv2d run with the winners of their classes', async () => {
    const keys = async (fn: () => ReturnType<typeof conv2d>) => {
      const p = await profile(fn);
      p.result.dispose();
      return p.kernels.map((k) => k.kernel).join('\n');
    };
    // The conv has 3 x 3 x 24 = 216 taps: over the weight-stationary kernel's 144, so the tile kernel.
    const [x, xc, f, d] = [
      zeros([2, 9, 9, 8]),
      zeros([2, 9, 9, 24]),
      zeros([3, 3, 24, 12]),
      zeros([3, 3, 8, 1]),
    ];
    const a = geo(2, 9, 3, 1);
    const before = await keys(() => conv2d(xc, f, 1, 'same'));
    if (before.includes('"sg":8')) {
      // Subgroup tiles (lavapipe): this conv's default is 16 rows in 1 group.
      expect(before).toContain('"rows":16,"groups":1');
      setWinner('conv', convClass(a, 24, 12, false), { rows: 32, groups: 1 });
      expect(await keys(() => conv2d(xc, f, 1, 'same'))).toContain('"rows":32,"groups":1');
    }
    expect(await keys(() => depthwiseConv2d(x, d, 1, 'same'))).toContain('"px":2'); // the default
    setWinner('depthwise', depthwiseClass(a, 8), { px: 1, rows: 4 });
    const dw = await keys(() => depthwiseConv2d(x, d, 1, 'same'));
    expect(dw).toContain('"px":1');
    for (const t of [x, xc, f, d]) t.dispose();
  });
});
