import { afterEach, describe, expect, it } from 'vitest';
import { tensor, zeros } from '../src/index.js';
import type { Activation } from '../src/kernels/activation.js';
import { conv2d, conv2dBackpropInput } from '../src/kernels/conv.js';
import { dispatchPointwiseWs, pointwiseMatmulPlan, pointwiseWsPlan } from '../src/kernels/conv-pointwise.js';
import { setTuning, withTuning } from '../src/kernels/tuning.js';
import { partialSums } from '../src/kernels/ws-codegen.js';
import { deviceFacts } from '../src/tensor/device-info.js';
import { ArgumentError } from '../src/tensor/errors.js';
import { emptyTensor } from '../src/tensor/tensor.js';
import { expectClose, randArray, rng } from './helpers.js';
import { dispatchedKernels } from './kernel-helpers.js';
import { conv2dBackpropInputRef, conv2dRef } from './oracle/conv.js';

// The weight-stationary pointwise kernel (src/kernels/conv-pointwise.ts) needs a fixed subgroup
// size (lavapipe: 8 lanes, 16 with 512-bit vectors); elsewhere the plan declines and these
// tests of the kernel itself are skipped.
const lanes = deviceFacts().fixedSubgroupLanes;
const WS = 'conv2d_pointwise_ws';

afterEach(() => setTuning());

// [n, h, w] x cin -> co: pixel counts off any run length, Cin from one quad to the limit of 144
// (the lane-spread loads then cover 1-5 quads per lane), Cout under one lane's quads, across
// blocks of lanes and with idle lanes in the last block.
const CASES: [number[], number, number][] = [
  [[1, 1, 1], 4, 4],
  [[2, 7, 5], 8, 12],
  [[1, 33, 17], 12, 40],
  [[3, 20, 21], 20, 100],
  [[1, 9, 13], 36, 148],
  [[2, 11, 7], 64, 36],
  [[1, 5, 3], 16, 200],
  [[1, 13, 9], 144, 24],
  [[1, 9, 7], 24, 144], // 5 quads per lane, one block with 4 idle quads
  [[2, 6, 5], 64, 384], // 4 quads per lane, 3 blocks
  [[1, 7, 9], 96, 200], // 3 quads per lane, 3 blocks, idle quads
];

/** [n, h, w] x cin -> co with an activation. */
type PointwiseCase = [number[], number, number, Activation];

/**
 * Each case as a 1x1 conv (bias where `bias(i)`) against the float64 oracle with the
 * weight-stationary switch on, where `kernel` must be what ran, and off, where it must not be
 * (the tile kernel's result then agrees).
 */
async function checkBothWays(
  cases: PointwiseCase[],
  kernel: string,
  seed: number,
  bias: (i: number) => boolean,
): Promise<void> {
  for (const [i, [shape, cin, co, act]] of cases.entries()) {
    const r = rng(seed + i);
    const xs = [...shape, cin];
    const fs = [1, 1, cin, co];
    const xd = randArray(
      xs.reduce((a, b) => a * b),
      r,
      -2,
      2,
    );
    const fd = randArray(cin * co, r);
    const bd = bias(i) ? randArray(co, r) : undefined;
    const label = `x ${JSON.stringify(xs)} -> ${co} ${act}${bd ? ' +bias' : ''}`;
    const run = () =>
      conv2d(tensor(xd, xs), tensor(fd, fs), 1, 'valid', {
        ...(bd ? { bias: tensor(bd, [co]) } : {}),
        activation: act,
      });
    const on = await withTuning({ convWeightStationary: 'on' }, () => dispatchedKernels(run));
    expect(on.kernels, label).toContain(kernel);
    expectClose(
      on.data,
      conv2dRef(xd, xs, fd, fs, 1, 'valid', bd, act),
      { atol: 3e-6 * cin, rtol: 1e-5 },
      label,
    );
    const off = await withTuning({ convWeightStationary: 'off' }, () => dispatchedKernels(run));
    expect(off.kernels, label).not.toContain(kernel);
    expectClose(on.data, off.data, { atol: 3e-6 * cin, rtol: 1e-5 }, label);
  }
}

describe.skipIf(lanes === 0)('weight-stationary pointwise conv', () => {
  it('matches the float64 oracle with bias and activations, and is the kernel that ran', async () => {
    const acts: Activation[] = [
      'linear',
      'relu6',
      'relu',
      'linear',
      'relu6',
      'tanh',
      'linear',
      'relu6',
      'relu6',
      'linear',
      'relu',
    ];
    const cases = CASES.map(([shape, cin, co], i): PointwiseCase => [shape, cin, co, acts[i]]);
    await checkBothWays(cases, WS, 100, (i) => i % 2 === 1);
  });

  it("takes the input gradients of pointwise convs with Cout <= 144 (the kernel's Cin)", async () => {
    // dx [2,9,7,40] = dy [2,9,7,24] x filter[40,24]^T: the kernel runs with Cin 24 -> 40.
    const r = rng(7);
    const xs = [2, 9, 7, 40];
    const fs = [1, 1, 40, 24];
    const dyd = randArray(2 * 9 * 7 * 24, r);
    const fd = randArray(40 * 24, r);
    const { kernels, data } = await withTuning({ convWeightStationary: 'on' }, () =>
      dispatchedKernels(() =>
        conv2dBackpropInput(tensor(dyd, [2, 9, 7, 24]), tensor(fd, fs), xs, 1, 'valid'),
      ),
    );
    expect(kernels).toContain(WS);
    expectClose(data, conv2dBackpropInputRef(dyd, fd, fs, xs, 1, 'valid'), { atol: 1e-4, rtol: 1e-5 });
  });

  it('splits the sums of one-quad lanes into partial sums and stores unguarded only without idle lanes', async () => {
    // [shape, cin, co]: the partial sums and `full` constants the dispatch must carry (sg 8).
    const cases: [number[], number, number, number, boolean][] = [
      [[1, 13, 9], 144, 24, 4, false], // C 1, Cin >= 64: 4 partial sums; 6 of 8 quads
      [[2, 5, 7], 64, 32, 4, true], // C 1, one full block
      [[1, 7, 3], 36, 32, 1, true], // Cin < 64: one chain
      [[1, 9, 7], 24, 144, 1, false], // C 5, 4 idle quads
      [[2, 6, 5], 64, 384, 1, true], // C 4, 3 full blocks
    ];
    for (const [i, [shape, cin, co, ps, full]] of cases.entries()) {
      const r = rng(300 + i);
      const xs = [...shape, cin];
      const xd = randArray(
        xs.reduce((a, b) => a * b),
        r,
        -2,
        2,
      );
      const fd = randArray(cin * co, r);
      const bd = randArray(co, r);
      const label = `x ${JSON.stringify(xs)} -> ${co}`;
      const { keys, data } = await withTuning({ convWeightStationary: 'on' }, () =>
        dispatchedKernels(() =>
          conv2d(tensor(xd, xs), tensor(fd, [1, 1, cin, co]), 1, 'valid', {
            bias: tensor(bd, [co]),
            activation: 'relu6',
          }),
        ),
      );
      const key = keys.find((k) => k.startsWith(WS)) ?? '';
      if (lanes === 8) {
        expect(key.includes(`"ps":${ps}`), `${label}: ${key}`).toBe(ps > 1);
        expect(key.includes('"full":true'), `${label}: ${key}`).toBe(full);
      }
      expectClose(
        data,
        conv2dRef(xd, xs, fd, [1, 1, cin, co], 1, 'valid', bd, 'relu6'),
        { atol: 3e-6 * cin, rtol: 1e-5 },
        label,
      );
    }
  });

  it('gives the same sums with any forced number of partial sums', async () => {
    // Cin 36: 9 quads; 3, 5 and 8 partial sums do not divide it, 8 leaves chains of 4-5 terms.
    const r = rng(11);
    const xs = [1, 7, 5, 36];
    const xd = randArray(7 * 5 * 36, r, -2, 2);
    const fd = randArray(36 * 20, r);
    const ref = conv2dRef(xd, xs, fd, [1, 1, 36, 20], 1, 'valid');
    for (const ps of [1, 2, 3, 5, 8]) {
      const { keys, data } = await withTuning({ convWeightStationary: 'on', wsPartialSums: ps }, () =>
        dispatchedKernels(() => conv2d(tensor(xd, xs), tensor(fd, [1, 1, 36, 20]), 1, 'valid')),
      );
      const key = keys.find((k) => k.startsWith(WS)) ?? '';
      expect(key.includes(`"ps":${ps}`), key).toBe(ps > 1);
      expectClose(data, ref, { atol: 1e-4, rtol: 1e-5 }, `${ps} partial sums`);
    }
  });

  it('walks more pixel runs than one grid dimension holds', async () => {
    // 70,000 runs of one pixel: the runs spill into workgroup_id.z.
    const m = 70_000;
    const r = rng(9);
    const xd = randArray(m * 4, r);
    const fd = randArray(16, r);
    const x = tensor(xd, [m, 4]);
    const f = tensor(fd, [4, 4]);
    const y = emptyTensor([m, 4], 'float32');
    dispatchPointwiseWs({ x, f, y, act: 'linear', m, cin: 4, co: 4 }, { c: 1, px: 1 }, lanes);
    expectClose(await y.data(), conv2dRef(xd, [1, 1, m, 4], fd, [1, 1, 4, 4], 1, 'valid'), {
      atol: 1e-5,
      rtol: 1e-5,
    });
    for (const t of [x, f, y]) t.dispose();
  });
});

describe('pointwiseWsPlan', () => {
  it('declines what the kernel does not cover, and follows the switch', () => {
    withTuning({ convWeightStationary: 'on' }, () => {
      expect(pointwiseWsPlan(1000, 148, 24, 8)).toBeUndefined(); // Cin > 144
      expect(pointwiseWsPlan(1000, 6, 8, 8)).toBeUndefined(); // Cin % 4
      expect(pointwiseWsPlan(1000, 8, 6, 8)).toBeUndefined(); // Cout % 4
      expect(pointwiseWsPlan(1000, 8, 8, 0)).toBeUndefined(); // no fixed subgroup size
      expect(pointwiseWsPlan(1000, 8, 8, 8)).toBeDefined();
    });
    withTuning({ convWeightStationary: 'off' }, () => expect(pointwiseWsPlan(1000, 8, 8, 8)).toBeUndefined());
    // 'auto' follows the adapter class.
    const auto = pointwiseWsPlan(1000, 8, 8, 8);
    expect(auto !== undefined).toBe(deviceFacts().adapterClass === 'software');
  });

  it('keeps the resident weights small and the pixel runs long enough', () => {
    withTuning({ convWeightStationary: 'on' }, () => {
      for (const cin of [4, 16, 24, 32, 64, 96, 144])
        for (const co of [4, 96, 144, 384])
          for (const m of [1, 2304, 294_912]) {
            const p = pointwiseWsPlan(m, cin, co, 8);
            expect(p).toBeDefined();
            if (!p) continue;
            expect(p.c).toBeGreaterThanOrEqual(1);
            expect(p.c).toBeLessThanOrEqual(5);
            expect(p.c === 1 || p.c * cin <= 288).toBe(true);
            expect(p.c).toBeLessThanOrEqual(Math.ceil(co / 32)); // no block wider than Cout needs
            // As few blocks as the limits allow, with the smallest C that reaches them.
            const blocks = (c: number) => Math.ceil(co / 4 / (c * 8));
            const most = Math.max(1, Math.min(5, Math.floor(288 / cin)));
            expect(blocks(p.c)).toBe(blocks(most));
            if (p.c > 1) expect(blocks(p.c - 1)).toBeGreaterThan(blocks(p.c));
            expect(p.px).toBeGreaterThanOrEqual(64);
            expect(p.px).toBeLessThanOrEqual(512);
          }
    });
  });

  it('takes 4 partial sums for one-quad lanes over at least 64 channels, else 1, or the forced count', () => {
    expect(partialSums(144, 1)).toBe(4);
    expect(partialSums(64, 1)).toBe(4);
    expect(partialSums(60, 1)).toBe(1);
    expect(partialSums(96, 3)).toBe(1);
    expect(partialSums(144, 2)).toBe(1);
    withTuning({ wsPartialSums: 3 }, () => expect(partialSums(16, 5)).toBe(3));
    for (const bad of [0, 9, 2.5, Number.NaN])
      expect(() => withTuning({ wsPartialSums: bad }, () => 0)).toThrow(
        /withTuning: wsPartialSums must be an integer from 1 to 8/,
      );
    expect(() => setTuning({ wsPartialSums: -1 })).toThrow(ArgumentError);
  });

  it('leaves a conv with a forced tile to the tile kernel', async () => {
    const x = zeros([1, 4, 4, 8]);
    const f = zeros([1, 1, 8, 8]);
    const { kernels } = await withTuning(
      { convWeightStationary: 'on', convTile: { rows: 8, groups: 1 } },
      () => dispatchedKernels(() => conv2d(x, f, 1, 'valid')),
    );
    expect(kernels).not.toContain(WS);
    x.dispose();
    f.dispose();
  });
});

// Pointwise convs of 145-320 input channels take the weight-stationary matmul on CPU adapters
// (pointwiseMatmulPlan): pixel counts off its runs, Cin that splits K into several chunks or one,
// Cout across blocks of lanes with idle lanes, and each activation its epilogue takes.
const MM_CASES: PointwiseCase[] = [
  [[1, 13, 11], 160, 96, 'relu6'], // K 160: two chunks of 80
  [[2, 5, 7], 192, 36, 'linear'], // K 192: two chunks of 96; 9 column quads
  [[1, 6, 6], 320, 200, 'relu'], // K 320: four chunks of 80; idle lanes in the last block
  [[1, 3, 3], 164, 8, 'linear'], // K 164 = 4 x 41: forced, 41 chunks of 4
  [[1, 17, 15], 576, 96, 'linear'], // K 576: six chunks of 96; 255 pixels, partial sums over 4 runs
];

describe.skipIf(lanes === 0)('pointwise convs through the weight-stationary matmul', () => {
  it('match the float64 oracle with bias and activations, and run as matmul_ws', async () => {
    await checkBothWays(MM_CASES, 'matmul_ws', 300, (i) => i % 2 === 0);
    // Without the switch, a K that only chunks of 4 divide goes to the tile kernel.
    expect(pointwiseMatmulPlan(2304, 164, 8, false, 'linear', lanes)).toBeUndefined();
  });

  it('take the input gradients of pointwise convs with Cout 145-320', async () => {
    // dx [1,7,9,48] = dy [1,7,9,192] x filter[48,192]^T: the product runs with K = 192.
    const r = rng(17);
    const xs = [1, 7, 9, 48];
    const fs = [1, 1, 48, 192];
    const dyd = randArray(7 * 9 * 192, r);
    const fd = randArray(48 * 192, r);
    const { kernels, data } = await withTuning({ convWeightStationary: 'on' }, () =>
      dispatchedKernels(() =>
        conv2dBackpropInput(tensor(dyd, [1, 7, 9, 192]), tensor(fd, fs), xs, 1, 'valid'),
      ),
    );
    expect(kernels).toContain('matmul_ws');
    expectClose(data, conv2dBackpropInputRef(dyd, fd, fs, xs, 1, 'valid'), { atol: 1e-4, rtol: 1e-5 });
  });
});

describe('pointwiseMatmulPlan', () => {
  it('takes Cin > 144 with the epilogues the kernel has, and follows the switch', () => {
    withTuning({ convWeightStationary: 'on' }, () => {
      expect(pointwiseMatmulPlan(2304, 160, 960, true, 'relu6', 8)).toBeDefined();
      expect(pointwiseMatmulPlan(2304, 320, 1280, true, 'relu', 8)).toBeDefined();
      expect(pointwiseMatmulPlan(2304, 144, 960, true, 'linear', 8)).toBeUndefined(); // the conv's own kernel
      expect(pointwiseMatmulPlan(2304, 960, 320, true, 'linear', 8)).toBeDefined();
      expect(pointwiseMatmulPlan(2304, 160, 960, true, 'tanh', 8)).toBeUndefined(); // no such epilogue
      expect(pointwiseMatmulPlan(2304, 160, 962, true, 'linear', 8)).toBeUndefined(); // Cout % 4
      expect(pointwiseMatmulPlan(2304, 160, 960, true, 'linear', 0)).toBeUndefined(); // no fixed lanes
    });
    withTuning({ convWeightStationary: 'off' }, () =>
      expect(pointwiseMatmulPlan(2304, 160, 960, false, 'linear', 8)).toBeUndefined(),
    );
    // 'auto' follows the adapter class, and wants at least 128 rows.
    const auto = pointwiseMatmulPlan(2304, 160, 960, false, 'linear', 8);
    expect(auto !== undefined).toBe(deviceFacts().adapterClass === 'software');
    expect(pointwiseMatmulPlan(100, 160, 960, false, 'linear', 8)).toBeUndefined();
    // Above 320 input channels only where the matmul keeps its partial sums privately (lavapipe).
    const wide = pointwiseMatmulPlan(2304, 576, 96, false, 'linear', 8);
    expect(wide !== undefined).toBe(deviceFacts().lavapipe);
    if (wide) expect(wide.rows).toBeGreaterThanOrEqual(wide.px);
  });
});
