import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { setTuning } from '../src/kernels/tuning.js';
import {
  Adagrad,
  Adam,
  AdamW,
  cosineDecay,
  Dense,
  exponentialDecay,
  inverseTimeDecay,
  type LogSink,
  loadCheckpoint,
  loadModel,
  memory,
  Nadam,
  type Optimizer,
  optimizerFromConfig,
  piecewiseConstantDecay,
  polynomialDecay,
  RMSprop,
  Sequential,
  SGD,
  saveCheckpoint,
  setSeed,
  tensor,
  variable,
} from '../src/node.js';
import { expectClose, randArray, rng } from './helpers.js';
import { type OracleOptimizer, oracleSchedules, oracleTrain } from './oracle/optimizers.js';

afterEach(() => setTuning());
const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-opt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Make = () => Optimizer;
const schedule = () => exponentialDecay({ initialLearningRate: 0.05, decaySteps: 2, decayRate: 0.5 });

/** Optimizer configs, ours beside the float64 oracle of the Keras formulas. */
const CASES: Array<[string, Make, OracleOptimizer]> = [
  ['RMSprop', () => new RMSprop({ learningRate: 0.01 }), { name: 'RMSprop', learningRate: 0.01 }],
  [
    'RMSprop momentum',
    () => new RMSprop({ learningRate: 0.01, momentum: 0.5, rho: 0.8 }),
    { name: 'RMSprop', learningRate: 0.01, momentum: 0.5, rho: 0.8 },
  ],
  [
    'RMSprop centered',
    () => new RMSprop({ learningRate: 0.01, centered: true }),
    { name: 'RMSprop', learningRate: 0.01, centered: true },
  ],
  [
    'RMSprop centered momentum clipvalue',
    () => new RMSprop({ learningRate: 0.01, centered: true, momentum: 0.9, clipvalue: 0.5 }),
    { name: 'RMSprop', learningRate: 0.01, centered: true, momentum: 0.9, clipvalue: 0.5 },
  ],
  ['Adagrad', () => new Adagrad({ learningRate: 0.1 }), { name: 'Adagrad', learningRate: 0.1 }],
  [
    'Adagrad acc0 clipnorm',
    () => new Adagrad({ learningRate: 0.1, initialAccumulatorValue: 0.5, clipnorm: 1 }),
    { name: 'Adagrad', learningRate: 0.1, initialAccumulatorValue: 0.5, clipnorm: 1 },
  ],
  ['Nadam', () => new Nadam({ learningRate: 0.02 }), { name: 'Nadam', learningRate: 0.02 }],
  [
    'Nadam schedule globalClipnorm',
    () => new Nadam({ learningRate: schedule(), beta1: 0.8, globalClipnorm: 1.5 }),
    { name: 'Nadam', learningRate: schedule(), beta1: 0.8, globalClipnorm: 1.5 },
  ],
  ['AdamW', () => new AdamW({ learningRate: 0.02 }), { name: 'AdamW', learningRate: 0.02 }],
  [
    'AdamW amsgrad wd 0.1 schedule',
    () => new AdamW({ learningRate: schedule(), weightDecay: 0.1, amsgrad: true }),
    { name: 'AdamW', learningRate: schedule(), weightDecay: 0.1, amsgrad: true },
  ],
  [
    'Adam amsgrad clipnorm',
    () => new Adam({ learningRate: 0.02, amsgrad: true, clipnorm: 0.7 }),
    { name: 'Adam', learningRate: 0.02, amsgrad: true, clipnorm: 0.7 },
  ],
  [
    'SGD nesterov weightDecay globalClipnorm',
    () => new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01, globalClipnorm: 2 }),
    { name: 'SGD', learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01, globalClipnorm: 2 },
  ],
];

async function runOurs(make: Make, w0: Float32Array[], gs: Float32Array[][]): Promise<Float32Array[]> {
  const opt = make();
  const vars = w0.map((w) => {
    const t = tensor(w);
    const v = variable(t);
    t.dispose();
    return v;
  });
  for (const step of gs) {
    const g = step.map((x) => tensor(x));
    opt.applyGradients(vars.map((v, k) => [v, g[k]] as [typeof v, (typeof g)[0]]));
    for (const t of g) t.dispose();
  }
  const out = await Promise.all(vars.map((v) => v.data() as Promise<Float32Array>));
  for (const v of vars) v.dispose();
  opt.dispose();
  return out;
}

describe('optimizers against the float64 Keras formulas', () => {
  it('every rule, 4 steps, scalar and vec4 paths, in chunks, with clipping, weight decay and schedules', async () => {
    const before = memory().numTensors;
    const r = rng(5);
    // 7 and 1003: the scalar kernel; 12 and 4100: the quad kernel; chunk 256 splits the big ones.
    const sizes = [7, 12, 1003, 4100];
    for (const limit of [undefined, 256]) {
      setTuning({ updateChunkLimit: limit });
      for (const [label, make, oracle] of CASES) {
        const w0 = sizes.map((n) => randArray(n, r));
        const gs = Array.from({ length: 4 }, () => sizes.map((n) => randArray(n, r, -0.3, 0.3)));
        const ours = await runOurs(make, w0, gs);
        const ref = oracleTrain(
          oracle,
          w0.map((w) => Array.from(w)),
          gs.map((s) => s.map((g) => Array.from(g))),
        );
        for (const [k, w] of ours.entries())
          expectClose(w, ref[k], { atol: 2e-6, rtol: 1e-5 }, `${label} n=${sizes[k]} chunk=${limit}`);
      }
    }
    expect(memory().numTensors).toBe(before);
  });

  it('clipnorm wins over clipvalue (as Keras), and a zero gradient is not scaled to NaN', async () => {
    const w0 = [new Float32Array([1, 2, 3, 4, 5])];
    const g = [[new Float32Array([3, 4, 0, 0, 0])], [new Float32Array(5)]];
    const ours = await runOurs(() => new SGD({ learningRate: 1, clipnorm: 1, clipvalue: 0.1 }), w0, g);
    // ||g|| = 5: g becomes [0.6, 0.8, 0, 0, 0]; clipvalue is not applied.
    expectClose(ours[0], [0.4, 1.2, 3, 4, 5], { atol: 1e-6, rtol: 1e-6 }, 'clipnorm');
    const decayed = await runOurs(() => new SGD({ learningRate: 0.5, weightDecay: 0.2 }), w0, [
      [new Float32Array(5)],
    ]);
    expectClose(decayed[0], [0.9, 1.8, 2.7, 3.6, 4.5], { atol: 1e-6, rtol: 1e-6 }, 'weight decay');
    // excludeFromWeightDecay: by variable and by name pattern, as Keras.
    const vs = ['dense/kernel', 'dense/bias', 'other/kernel'].map((name) => {
      const t = tensor([1, 2]);
      const v = variable(t, { name });
      t.dispose();
      return v;
    });
    const opt = new SGD({ learningRate: 0.5, weightDecay: 0.2 });
    opt.excludeFromWeightDecay({ varList: [vs[2]], varNames: ['bias$'] });
    const zero = tensor([0, 0]);
    opt.applyGradients(vs.map((v) => [v, zero] as [typeof v, typeof zero]));
    expect(await Promise.all(vs.map((v) => v.data()))).toEqual([
      new Float32Array([0.9, 1.8]),
      new Float32Array([1, 2]),
      new Float32Array([1, 2]),
    ]);
    for (const t of [...vs, zero]) t.dispose();
  });
});

describe('schedules', () => {
  it('match the Keras formulas at several steps, through warmup, boundaries and cycles', () => {
    const steps = [0, 1, 2, 5, 9, 10, 11, 15, 25, 100];
    const cos = cosineDecay({ initialLearningRate: 0.1, decaySteps: 10, alpha: 0.1 });
    const warm = cosineDecay({ initialLearningRate: 0, decaySteps: 10, warmupTarget: 0.2, warmupSteps: 5 });
    const poly = polynomialDecay({ initialLearningRate: 0.1, decaySteps: 10, power: 2 });
    const cyc = polynomialDecay({
      initialLearningRate: 0.1,
      decaySteps: 4,
      endLearningRate: 0.01,
      cycle: true,
    });
    const inv = inverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 3, decayRate: 0.5 });
    const invS = inverseTimeDecay({
      initialLearningRate: 0.1,
      decaySteps: 3,
      decayRate: 0.5,
      staircase: true,
    });
    const pw = piecewiseConstantDecay({ boundaries: [2, 10], values: [1, 0.5, 0.1] });
    for (const s of steps) {
      expect(cos(s)).toBeCloseTo(oracleSchedules.cosine(s, 0.1, 10, 0.1), 12);
      expect(warm(s)).toBeCloseTo(oracleSchedules.cosine(s, 0, 10, 0, 0.2, 5), 12);
      expect(poly(s)).toBeCloseTo(oracleSchedules.polynomial(s, 0.1, 10, 1e-4, 2), 12);
      expect(cyc(s)).toBeCloseTo(oracleSchedules.polynomial(s, 0.1, 4, 0.01, 1, true), 12);
      expect(inv(s)).toBeCloseTo(oracleSchedules.inverseTime(s, 0.1, 3, 0.5), 12);
      expect(invS(s)).toBeCloseTo(oracleSchedules.inverseTime(s, 0.1, 3, 0.5, true), 12);
    }
    expect([0, 2, 3, 10, 11].map(pw)).toEqual([1, 1, 0.5, 0.5, 0.1]);
    // Warmup is linear from initialLearningRate; the cosine starts at the target; the floor is alpha.
    for (const [s, v] of [
      [0, 0],
      [1, 0.04],
      [5, 0.2],
      [15, 0],
    ])
      expect(warm(s)).toBeCloseTo(v, 15);
    expect(cos(10)).toBeCloseTo(0.01, 12);
  });
});

describe('configs and checkpoints', () => {
  it('every optimizer recreates from getConfig, schedules included', () => {
    const opts: Optimizer[] = [
      new RMSprop({ learningRate: 0.01, rho: 0.8, momentum: 0.5, centered: true, clipnorm: 2 }),
      new Adagrad({ initialAccumulatorValue: 0.3, epsilon: 1e-6, weightDecay: 0.01 }),
      new Nadam({
        learningRate: cosineDecay({
          initialLearningRate: 0.1,
          decaySteps: 5,
          name: 'c',
          warmupTarget: 0.2,
          warmupSteps: 2,
        }),
      }),
      new AdamW({
        amsgrad: true,
        globalClipnorm: 1,
        learningRate: piecewiseConstantDecay({ boundaries: [3], values: [0.1, 0.01] }),
      }),
      new SGD({
        momentum: 0.9,
        clipvalue: 0.5,
        learningRate: polynomialDecay({ initialLearningRate: 0.1, decaySteps: 4 }),
      }),
      new Adam({ learningRate: inverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 4, decayRate: 1 }) }),
    ];
    for (const o of opts) {
      const again = optimizerFromConfig(JSON.parse(JSON.stringify(o.getConfig())));
      expect(again.constructor).toBe(o.constructor);
      expect(again.getConfig()).toEqual(o.getConfig());
      for (const s of [0, 1, 3, 7]) {
        again.iterations = s;
        o.iterations = s;
        expect(again.currentLearningRate()).toBe(o.currentLearningRate());
      }
    }
    expect(new AdamW().getConfig()).toMatchObject({ name: 'AdamW', weightDecay: 0.004, learningRate: 0.001 });
  });

  const quiet: LogSink = { isTTY: false, write: () => {} };
  function build(opt: Optimizer): Sequential {
    setSeed(7);
    const m = new Sequential([
      new Dense({ inputShape: [5], units: 6, activation: 'tanh', name: 'h' }),
      new Dense({ units: 2, name: 'o' }),
    ]);
    m.compile({ optimizer: opt, loss: 'meanSquaredError' });
    return m;
  }

  it('training resumed from a checkpoint continues bit-identically, slots and Nadam state included', async () => {
    const x = tensor(randArray(16 * 5, rng(2)), [16, 5]);
    const y = tensor(randArray(16 * 2, rng(3)), [16, 2]);
    const makes: Make[] = [
      () => new Nadam({ learningRate: 0.01, clipnorm: 1 }),
      () => new RMSprop({ learningRate: 0.01, momentum: 0.5, centered: true }),
      () => new Adagrad({ learningRate: 0.05 }),
      () => new AdamW({ learningRate: 0.01, amsgrad: true, globalClipnorm: 1 }),
    ];
    for (const make of makes) {
      const fitSteps = (m: Sequential, n: number) =>
        m.fit(x, y, { epochs: n, batchSize: 16, shuffle: false, logSink: quiet });
      const a = build(make());
      await fitSteps(a, 3);
      const path = join(dir, 'c.safetensors');
      await saveCheckpoint(a, path, 3);
      await fitSteps(a, 2);
      const b = build(make());
      await loadCheckpoint(b, path);
      await fitSteps(b, 2);
      const wa = await Promise.all(a.weights.map((w) => w.data()));
      const wb = await Promise.all(b.weights.map((w) => w.data()));
      expect(wb).toEqual(wa);
      a.dispose();
      b.dispose();
    }
    x.dispose();
    y.dispose();
  });

  it('model.save(dir) and loadModel(dir) resume every new optimizer and schedule exactly', async () => {
    const x = tensor(randArray(16 * 5, rng(2)), [16, 5]);
    const y = tensor(randArray(16 * 2, rng(3)), [16, 2]);
    const makes: Make[] = [
      () =>
        new Nadam({
          learningRate: cosineDecay({
            initialLearningRate: 0,
            decaySteps: 5,
            warmupTarget: 0.01,
            warmupSteps: 2,
          }),
        }),
      () =>
        new RMSprop({
          momentum: 0.5,
          centered: true,
          clipnorm: 1,
          learningRate: polynomialDecay({ initialLearningRate: 0.01, decaySteps: 4 }),
        }),
      () =>
        new AdamW({
          amsgrad: true,
          learningRate: piecewiseConstantDecay({ boundaries: [2], values: [0.01, 0.005] }),
        }),
      () =>
        new Adagrad({
          initialAccumulatorValue: 0.3,
          learningRate: inverseTimeDecay({ initialLearningRate: 0.05, decaySteps: 2, decayRate: 1 }),
        }),
    ];
    for (const make of makes) {
      const fitSteps = (m: Sequential, n: number) =>
        m.fit(x, y, { epochs: n, batchSize: 16, shuffle: false, logSink: quiet });
      const a = build(make());
      await fitSteps(a, 3);
      const path = join(dir, 'saved');
      await a.save(path);
      await fitSteps(a, 2);
      const b = await loadModel(path);
      expect(b.optimizer!.getConfig()).toEqual(a.optimizer!.getConfig());
      await fitSteps(b as Sequential, 2);
      const wa = await Promise.all(a.weights.map((w) => w.data()));
      const wb = await Promise.all(b.weights.map((w) => w.data()));
      expect(wb).toEqual(wa);
      a.dispose();
      b.dispose();
    }
    x.dispose();
    y.dispose();
  });
});
