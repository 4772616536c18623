import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type BatchSource,
  Dense,
  model as functional,
  input,
  type LogSink,
  memory,
  Sequential,
  SGD,
  tensor,
  tidy,
} from '../src/index.js';

/*
 * Losses and stateful metrics inside fit/evaluate: one epoch of a tiny sigmoid model with fixed
 * weights and SGD without shuffling against Keras 3's History (plain, sampleWeight with
 * weightedMetrics, classWeight), the Keras-style log, one readback per step, datasets of weighted
 * batches, and no leaks.
 */

interface FitCase {
  label: string;
  classWeight: Record<string, number> | null;
  sampleWeight: boolean;
  weightedMetrics: string[];
  history: Record<string, number>;
  evaluate: Record<string, number>;
  kernel: number[];
  bias: number[];
}
const fx: {
  fit: FitCase[];
  fitData: {
    x: number[];
    y: number[];
    kernel: number[];
    bias: number[];
    sampleWeight: number[];
    n: number;
    d: number;
  };
} = JSON.parse(readFileSync(new URL('./fixtures/metrics/metrics.json', import.meta.url), 'utf8'));
const D = fx.fitData;
const quiet: LogSink = { isTTY: false, write: () => {} };

function model(weightedMetrics: string[]): Sequential {
  const m = new Sequential([new Dense({ units: 1, activation: 'sigmoid', inputShape: [D.d] })]);
  const probe = tensor(new Float32Array(D.d), [1, D.d]);
  tidy(() => m.apply(probe)).dispose();
  probe.dispose();
  const dense = m.layers[0] as Dense;
  const [k, b] = [tensor(Float32Array.from(D.kernel), [D.d, 1]), tensor(Float32Array.from(D.bias), [1])];
  dense.kernel!.assign(k);
  dense.bias!.assign(b);
  k.dispose();
  b.dispose();
  m.compile({
    optimizer: new SGD({ learningRate: 0.1 }),
    loss: 'binary_crossentropy',
    metrics: ['accuracy', 'auc', 'precision'],
    weightedMetrics,
  });
  return m;
}

const data = () => ({
  x: tensor(Float32Array.from(D.x), [D.n, D.d]),
  y: tensor(Float32Array.from(D.y), [D.n, 1]),
  sw: tensor(Float32Array.from(D.sampleWeight), [D.n]),
});

function expectLogs(ours: Record<string, number>, keras: Record<string, number>, what: string): void {
  expect(Object.keys(ours).sort(), what).toEqual(Object.keys(keras).sort());
  for (const [k, v] of Object.entries(keras))
    expect(Math.abs(ours[k] - v), `${what} ${k}: ours ${ours[k]}, Keras ${v}`).toBeLessThan(2e-5);
}

describe('fit and evaluate against Keras 3', () => {
  for (const c of fx.fit)
    it(`${c.label}: History, weights and evaluate(sampleWeight) as Keras`, async () => {
      const before = memory().numTensors;
      const m = model(c.weightedMetrics);
      const { x, y, sw } = data();
      const h = await m.fit(x, y, {
        epochs: 1,
        batchSize: 4,
        shuffle: false,
        logSink: quiet,
        ...(c.sampleWeight ? { sampleWeight: sw } : {}),
        ...(c.classWeight ? { classWeight: c.classWeight } : {}),
      });
      expectLogs(
        Object.fromEntries(Object.entries(h.history).map(([k, v]) => [k, v[0]])),
        c.history,
        `${c.label} history`,
      );
      const dense = m.layers[0] as Dense;
      const kernel = await dense.kernel!.data();
      kernel.forEach((v, i) => {
        expect(v).toBeCloseTo(c.kernel[i], 5);
      });
      expectLogs(
        await m.evaluate(x, y, { batchSize: 4, sampleWeight: sw }),
        c.evaluate,
        `${c.label} evaluate`,
      );
      for (const t of [x, y, sw]) t.dispose();
      m.dispose();
      expect(memory().numTensors).toBe(before);
    });

  it('a dataset of { xs, ys, sampleWeight } batches trains as the same tensors with sampleWeight', async () => {
    const c = fx.fit.find((f) => f.label === 'sampleWeight')!;
    const m = model(c.weightedMetrics);
    const { x, y, sw } = data();
    const all = {
      x: Float32Array.from(D.x),
      y: Float32Array.from(D.y),
      w: Float32Array.from(D.sampleWeight),
    };
    const ds: BatchSource = {
      async *[Symbol.asyncIterator]() {
        for (let s = 0; s < D.n; s += 4) {
          const b = Math.min(4, D.n - s);
          yield {
            xs: tensor(all.x.subarray(s * D.d, (s + b) * D.d), [b, D.d]),
            ys: tensor(all.y.subarray(s, s + b), [b, 1]),
            sampleWeight: tensor(all.w.subarray(s, s + b), [b]),
          };
        }
      },
    };
    const before = memory().numTensors;
    const h = await m.fit(ds, { epochs: 1, logSink: quiet });
    expect(memory().numTensors).toBe(before);
    expectLogs(
      Object.fromEntries(Object.entries(h.history).map(([k, v]) => [k, v[0]])),
      c.history,
      'dataset history',
    );
    for (const t of [x, y, sw]) t.dispose();
    m.dispose();
  });
});

describe('fit logs the new metrics as Keras', () => {
  it('a binary model with binary_crossentropy and [accuracy, auc, precision]: log lines and History', async () => {
    const out: string[] = [];
    const sink: LogSink = { isTTY: false, write: (s) => void out.push(s) };
    const m = model([]);
    const { x, y, sw } = data();
    const h = await m.fit(x, y, {
      epochs: 2,
      batchSize: 4,
      shuffle: false,
      validationData: [x, y, sw],
      logSink: sink,
    });
    const text = out.join('');
    expect(text).toMatch(
      /Epoch 1\/2\n3\/3 - \d+s \d+ms\/step - loss: 0\.9117 - accuracy: 0\.4000 - auc: 0\.4286 - precision: 0\.5714 - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4} - val_auc: \d\.\d{4} - val_precision: \d\.\d{4}\n/,
    );
    expect(Object.keys(h.history).sort()).toEqual([
      'accuracy',
      'auc',
      'loss',
      'precision',
      'val_accuracy',
      'val_auc',
      'val_loss',
      'val_precision',
    ]);
    // Epoch 1 equals Keras' one-epoch History.
    const plain = fx.fit.find((f) => f.label === 'plain')!;
    for (const k of Object.keys(plain.history)) expect(h.history[k][0]).toBeCloseTo(plain.history[k], 4);
    for (const t of [x, y, sw]) t.dispose();
    m.dispose();
  });

  it('one readback per training step, whatever the number of metrics', async () => {
    const m = model(['accuracy', 'auc']);
    const { x, y, sw } = data();
    const proto = (globalThis as unknown as { GPUBuffer: { prototype: GPUBuffer } }).GPUBuffer.prototype;
    const original = proto.mapAsync;
    let maps = 0;
    proto.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
      maps++;
      return original.apply(this, args);
    };
    try {
      await m.fit(x, y, { epochs: 1, batchSize: 4, shuffle: false, sampleWeight: sw, logSink: quiet });
    } finally {
      proto.mapAsync = original;
    }
    expect(maps).toBe(3);
    for (const t of [x, y, sw]) t.dispose();
    m.dispose();
  });

  it('several outputs: per-output names, weighted metrics prefixed weighted_ on a clash, weights reach each loss', async () => {
    const x = input({ shape: [D.d], name: 'x' });
    const p = new Dense({ units: 1, activation: 'sigmoid', name: 'p' }).apply(x);
    const q = new Dense({ units: 2, name: 'q' }).apply(x);
    const m = functional({ inputs: x, outputs: [p, q] });
    m.compile({
      optimizer: 'sgd',
      loss: ['binary_crossentropy', 'mse'],
      metrics: [['accuracy', 'auc'], ['mae']],
      weightedMetrics: [['accuracy'], []],
    });
    const { x: xs, y, sw } = data();
    const y2 = tensor(
      Float32Array.from({ length: 2 * D.n }, (_, i) => i / 7),
      [D.n, 2],
    );
    const logs = await m.evaluate(xs, [y, y2], { batchSize: 4 });
    expect(Object.keys(logs).sort()).toEqual([
      'loss',
      'p_accuracy',
      'p_auc',
      'p_loss',
      'p_weighted_accuracy',
      'q_loss',
      'q_mae',
    ]);
    expect(logs.p_weighted_accuracy).toBeCloseTo(logs.p_accuracy, 6);
    expect(logs.loss).toBeCloseTo(logs.p_loss + logs.q_loss, 5);
    const weighted = await m.evaluate(xs, [y, y2], { batchSize: 4, sampleWeight: sw });
    expect(weighted.p_accuracy).toBeCloseTo(logs.p_accuracy, 6);
    expect(weighted.q_mae).toBeCloseTo(logs.q_mae, 6);
    expect(weighted.q_loss).not.toBeCloseTo(logs.q_loss, 3);
    for (const t of [xs, y, y2, sw]) t.dispose();
    m.dispose();
  });
});
