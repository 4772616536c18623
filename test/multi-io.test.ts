import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ArgumentError,
  Concatenate,
  Dense,
  type Functional,
  input,
  type LogSink,
  loadModel,
  Multiply,
  memory,
  model,
  slice,
  type Tensor,
  tensor,
} from '../src/index.js';
import { expectClose } from './helpers.js';

/**
 * Multi-input, multi-output functional models against Keras 3 (test/fixtures/multi-io.json, made by
 * scripts/fixtures/multi_io.py): predictions, evaluate() with a loss, a loss weight and metrics per
 * output, Keras log names, fit with inputs as lists or objects keyed by layer name, save/load.
 */

interface Fixture {
  weights: Record<string, { shape: number[]; data: number[] }>;
  xa: number[];
  xb: number[];
  ycls: number[];
  yreg: number[];
  pred_cls: number[];
  pred_reg: number[];
  evaluate: Record<string, number>;
  history_keys: string[];
}
const fx: Fixture = JSON.parse(readFileSync(new URL('./fixtures/multi-io.json', import.meta.url), 'utf8'));
const quiet: LogSink = { isTTY: false, write: () => {} };
const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-multi-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function twoHeads(): Functional {
  const a = input({ shape: [4], name: 'a' });
  const b = input({ shape: [3], name: 'b' });
  const h = new Dense({ units: 5, activation: 'relu', name: 'h' }).apply(
    new Concatenate({ name: 'cat' }).apply([a, b]),
  );
  const g = new Dense({ units: 5, name: 'g' }).apply(b);
  const cls = new Dense({ units: 3, activation: 'softmax', name: 'cls' }).apply(h);
  const reg = new Dense({ units: 2, name: 'reg' }).apply(new Multiply({ name: 'mul' }).apply([g, h]));
  const m = model({ inputs: [a, b], outputs: [cls, reg], name: 'two_heads' });
  for (const v of m.weights) {
    const w = fx.weights[v.name!];
    const t = tensor(Float32Array.from(w.data), w.shape);
    v.assign(t);
    t.dispose();
  }
  return m;
}

function data(): { xa: Tensor; xb: Tensor; ycls: Tensor; yreg: Tensor } {
  return {
    xa: tensor(Float32Array.from(fx.xa), [10, 4]),
    xb: tensor(Float32Array.from(fx.xb), [10, 3]),
    ycls: tensor(Int32Array.from(fx.ycls), [10], 'int32'),
    yreg: tensor(Float32Array.from(fx.yreg), [10, 2]),
  };
}

describe('multi-input, multi-output functional models', () => {
  it('predicts both outputs as Keras does, from a list or an object keyed by input name', async () => {
    const before = memory().numTensors;
    const m = twoHeads();
    const d = data();
    expect(m.inputNames).toEqual(['a', 'b']);
    expect(m.outputNames).toEqual(['cls', 'reg']);
    const [pc, pr] = await m.predict<Tensor[]>([d.xa, d.xb], { batchSize: 4 });
    expect(pc.shape).toEqual([10, 3]);
    expect(pr.shape).toEqual([10, 2]);
    expectClose(await pc.data(), fx.pred_cls, { atol: 1e-5, rtol: 1e-4 }, 'cls');
    expectClose(await pr.data(), fx.pred_reg, { atol: 1e-5, rtol: 1e-4 }, 'reg');
    const [qc, qr] = await m.predict<Tensor[]>({ b: d.xb, a: d.xa });
    expect(Array.from(await qc.data())).toEqual(Array.from(await pc.data()));
    expect(Array.from(await qr.data())).toEqual(Array.from(await pr.data()));
    expect(() => m.apply([d.xa, d.xb])).toThrow(/has 2 outputs \(cls, reg\)/);
    for (const t of [pc, pr, qc, qr, ...Object.values(d)]) t.dispose();
    m.dispose();
    expect(memory().numTensors).toBe(before);
  });

  it('evaluate: per-output losses, loss weights and metrics with Keras log names and values', async () => {
    const m = twoHeads();
    const d = data();
    m.compile({
      optimizer: 'sgd',
      loss: { cls: 'sparseCategoricalCrossentropy', reg: 'meanSquaredError' },
      lossWeights: { cls: 1, reg: 0.5 },
      metrics: { cls: ['accuracy'] },
    });
    const logs = await m.evaluate({ a: d.xa, b: d.xb }, { cls: d.ycls, reg: d.yreg }, { batchSize: 4 });
    expect(Object.keys(logs).sort()).toEqual(Object.keys(fx.evaluate).sort());
    for (const [k, v] of Object.entries(fx.evaluate)) expect(logs[k], k).toBeCloseTo(v, 5);
    // The same as lists, with the loss and the weights as lists too.
    m.compile({
      optimizer: 'sgd',
      loss: ['sparse_categorical_crossentropy', 'mse'],
      lossWeights: [1, 0.5],
      metrics: [['accuracy'], []],
    });
    const again = await m.evaluate([d.xa, d.xb], [d.ycls, d.yreg], { batchSize: 4 });
    for (const [k, v] of Object.entries(fx.evaluate)) expect(again[k], k).toBeCloseTo(v, 5);
    // A dataset of { xs: { a, b }, ys: [cls, reg] } batches (4, 4, 2 samples, as batchSize 4).
    async function* batches() {
      for (const [s0, n] of [
        [0, 4],
        [4, 4],
        [8, 2],
      ]) {
        const cut = (t: Tensor) => slice(t, [s0, ...t.shape.slice(1).map(() => 0)], [n, ...t.shape.slice(1)]);
        yield { xs: { a: cut(d.xa), b: cut(d.xb) }, ys: [cut(d.ycls), cut(d.yreg)] };
      }
    }
    const fromData = await m.evaluate(batches());
    for (const [k, v] of Object.entries(fx.evaluate)) expect(fromData[k], k).toBeCloseTo(v, 5);
    for (const t of Object.values(d)) t.dispose();
    m.dispose();
  });

  it('fit logs Keras names per output (val_ too), lowers the loss and survives save/load', async () => {
    const before = memory().numTensors;
    const m = twoHeads();
    const d = data();
    m.compile({
      optimizer: 'adam',
      loss: { cls: 'sparseCategoricalCrossentropy', reg: 'mse' },
      lossWeights: { cls: 1, reg: 0.5 },
      metrics: { cls: 'accuracy' },
    });
    const h = await m.fit(
      [d.xa, d.xb],
      { cls: d.ycls, reg: d.yreg },
      {
        epochs: 30,
        batchSize: 5,
        validationData: [
          [d.xa, d.xb],
          [d.ycls, d.yreg],
        ],
        logSink: quiet,
        seed: 1,
      },
    );
    expect(Object.keys(h.history).sort()).toEqual(fx.history_keys);
    const loss = h.history.loss as number[];
    expect(loss[loss.length - 1]).toBeLessThan(loss[0]);
    // The total is the weighted sum of the per-output losses (on the validation pass: same weights).
    const vl = h.history.val_loss as number[];
    const vc = h.history.val_cls_loss as number[];
    const vr = h.history.val_reg_loss as number[];
    expect(vl[0]).toBeCloseTo(vc[0] + 0.5 * vr[0], 5);

    const path = join(dir, 'two-heads.safetensors');
    await m.saveWeights(path);
    const back = (await loadModel(path)) as Functional;
    expect(back.outputNames).toEqual(['cls', 'reg']);
    const p1 = await m.predict<Tensor[]>([d.xa, d.xb]);
    const p2 = await back.predict<Tensor[]>([d.xa, d.xb]);
    for (let i = 0; i < 2; i++)
      expect(Array.from(await p2[i].data())).toEqual(Array.from(await p1[i].data()));
    for (const t of [...p1, ...p2, ...Object.values(d)]) t.dispose();
    m.dispose();
    back.dispose();
    expect(memory().numTensors).toBe(before);
  });

  it('rejects inputs and targets that do not match the model', async () => {
    const m = twoHeads();
    const d = data();
    expect(() => m.compile({ optimizer: 'sgd', loss: { cls: 'mse' } })).toThrow(/no loss for output 'reg'/);
    expect(() => m.compile({ optimizer: 'sgd', loss: { cls: 'mse', out: 'mse', reg: 'mse' } })).toThrow(
      /unknown output\(s\) \["out"\]/,
    );
    expect(() => m.compile({ optimizer: 'sgd', loss: 'mse', lossWeights: [1] })).toThrow(
      /lossWeights must have one entry per output \["cls","reg"\], got 1/,
    );
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    await expect(m.fit(d.xa, [d.ycls, d.yreg], { logSink: quiet })).rejects.toThrow(ArgumentError);
    await expect(m.fit({ a: d.xa }, [d.ycls, d.yreg], { logSink: quiet })).rejects.toThrow(
      /fit: x must be keyed by \["a","b"\].*missing \["b"\]/,
    );
    await expect(m.evaluate([d.xa, d.xb], [d.ycls])).rejects.toThrow(/y must hold 2 tensor\(s\)/);
    for (const t of Object.values(d)) t.dispose();
    m.dispose();
  });
});
