import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Adam,
  Dense,
  LambdaCallback,
  type LogSink,
  loadModel,
  type Model,
  memory,
  Sequential,
  setSeed,
  slice,
  type Tensor,
  tensor,
} from '../src/node.js';
import { randArray, rng } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-fitx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet: LogSink = { isTTY: false, write: () => {} };

function build(metrics: string[] = ['accuracy']): Sequential {
  setSeed(11);
  const m = new Sequential([
    new Dense({ units: 5, activation: 'relu', inputShape: [3], name: 'hidden' }),
    new Dense({ units: 3, activation: 'softmax', name: 'out' }),
  ]);
  m.compile({ optimizer: new Adam({ learningRate: 0.02 }), loss: 'sparseCategoricalCrossentropy', metrics });
  return m;
}

function data(n: number, seed: number): [Tensor, Tensor] {
  return [
    tensor(randArray(n * 3, rng(seed)), [n, 3]),
    tensor(
      Int32Array.from({ length: n }, (_, i) => (i * 7) % 3),
      [n],
      'int32',
    ),
  ];
}

async function weightsOf(m: Model): Promise<number[][]> {
  return Promise.all(m.weights.map(async (w) => Array.from(await w.data())));
}

describe('validationFreq and validationSteps', () => {
  it('validates every N epochs, or after the listed epochs', async () => {
    const [x, y] = data(12, 1);
    const m = build();
    const seen: boolean[] = [];
    const cb = new LambdaCallback({ onEpochEnd: (_, l) => void seen.push('val_loss' in l) });
    const h = await m.fit(x, y, {
      epochs: 4,
      validationData: [x, y],
      validationFreq: 2,
      logSink: quiet,
      callbacks: [cb],
    });
    expect(seen).toEqual([false, true, false, true]);
    expect(h.history.val_loss.length).toBe(2);
    seen.length = 0;
    await m.fit(x, y, {
      epochs: 4,
      validationData: [x, y],
      validationFreq: [1, 4],
      logSink: quiet,
      callbacks: [cb],
    });
    expect(seen).toEqual([true, false, false, true]);
    m.dispose();
    x.dispose();
    y.dispose();
  });

  it('validationSteps evaluates only the first batches', async () => {
    const [x, y] = data(12, 2);
    const [vx, vy] = data(10, 3);
    const m = build();
    // A frozen model (trainable false) so evaluate after fit sees the same weights.
    m.trainable = false;
    const h = await m.fit(x, y, {
      epochs: 1,
      batchSize: 4,
      validationData: [vx, vy],
      validationSteps: 1,
      logSink: quiet,
    });
    const first = (t: Tensor) => slice(t, [0, ...t.shape.slice(1).map(() => 0)], [4, ...t.shape.slice(1)]);
    const [fx, fy] = [first(vx), first(vy)];
    const e = await m.evaluate(fx, fy);
    expect(h.history.val_loss[0]).toBeCloseTo(e.loss, 6);
    m.dispose();
    for (const t of [x, y, vx, vy, fx, fy]) t.dispose();
  });
});

describe('stepsPerEpoch', () => {
  it('with tensors: epochs take that many batches of a pass that carries on; a new pass after it runs out', async () => {
    const [x, y] = data(20, 4); // 5 batches of 4
    const m = build();
    const sizes: string[] = [];
    const h = await m.fit(x, y, {
      epochs: 4,
      batchSize: 4,
      stepsPerEpoch: 2,
      shuffle: false,
      logSink: quiet,
      callbacks: [
        new LambdaCallback({
          onBatchEnd: (b) => void sizes.push(`b${b}`),
          onEpochEnd: (e) => void sizes.push(`E${e}`),
        }),
      ],
    });
    expect(sizes).toEqual(['b0', 'b1', 'E0', 'b0', 'b1', 'E1', 'b0', 'E2', 'b0', 'b1', 'E3']);
    expect(h.params.steps).toBe(2);
    m.dispose();
    x.dispose();
    y.dispose();
  });

  it('with a dataset: the iteration continues across epochs and restarts when it runs out', async () => {
    const before = memory().numTensors;
    const m = build();
    const events: string[] = [];
    let passes = 0;
    let closed = 0;
    const dataset = {
      async *[Symbol.asyncIterator]() {
        const pass = ++passes;
        try {
          for (let i = 0; i < 3; i++) {
            events.push(`y${pass}.${i}`);
            const [xs, ys] = data(4, 10 + i);
            yield { xs, ys };
          }
        } finally {
          closed++;
        }
      },
    };
    await m.fit(dataset, {
      epochs: 3,
      stepsPerEpoch: 2,
      logSink: quiet,
      callbacks: [new LambdaCallback({ onEpochEnd: (e) => void events.push(`E${e}`) })],
    });
    expect(events).toEqual(['y1.0', 'y1.1', 'E0', 'y1.2', 'E1', 'y2.0', 'y2.1', 'E2']);
    expect(closed).toBe(2); // the second pass, left open at the end, was closed by fit
    m.dispose();
    expect(memory().numTensors).toBe(before);
  });
});

describe('trainOnBatch, testOnBatch, predictOnBatch', () => {
  it('match one fit step, evaluate and predict; the caller keeps its tensors; no leaks', async () => {
    const [x, y] = data(8, 5);
    const before = memory().numTensors;
    const a = build();
    const b = build();
    const r = await a.trainOnBatch(x, y);
    expect(Array.isArray(r)).toBe(true);
    const h = await b.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, logSink: quiet });
    expect((r as number[])[0]).toBeCloseTo(h.history.loss[0], 6);
    expect((r as number[])[1]).toBeCloseTo(h.history.accuracy[0], 6);
    expect(await weightsOf(a)).toEqual(await weightsOf(b));
    const t = await a.testOnBatch(x, y);
    const e = await a.evaluate(x, y, { batchSize: 8 });
    expect(t).toEqual([e.loss, e.accuracy]);
    const p1 = a.predictOnBatch(x);
    const p2 = await a.predict(x);
    expect(Array.from(await p1.data())).toEqual(Array.from(await p2.data()));
    p1.dispose();
    p2.dispose();
    a.dispose();
    b.dispose();
    expect(memory().numTensors).toBe(before);
    expect(x.isDisposed || y.isDisposed).toBe(false);
    const c = build([]);
    expect(typeof (await c.trainOnBatch(x, y))).toBe('number');
    expect(typeof (await c.testOnBatch(x, y))).toBe('number');
    c.dispose();
    x.dispose();
    y.dispose();
  });
});

describe('save(dir) and loadModel(dir) with the optimizer state', () => {
  it('2 epochs, save, load, 1 more epoch = 3 epochs uninterrupted', async () => {
    const [x, y] = data(24, 6);
    const args = { batchSize: 6, shuffle: false, logSink: quiet };
    const straight = build();
    await straight.fit(x, y, { ...args, epochs: 3 });

    const first = build();
    await first.fit(x, y, { ...args, epochs: 2 });
    const path = join(dir, 'resume');
    await first.save(path);
    expect(existsSync(join(path, 'optimizer.safetensors'))).toBe(true);
    const loaded = await loadModel(path);
    expect(loaded.optimizer?.getConfig()).toEqual(first.optimizer!.getConfig());
    expect(loaded.optimizer?.iterations).toBe(8);
    expect(loaded.metrics.map((m) => m.name)).toEqual(['accuracy']);
    await loaded.fit(x, y, { ...args, epochs: 1 });
    const want = (await weightsOf(straight)).flat();
    const got = (await weightsOf(loaded)).flat();
    expect(got.length).toBe(want.length);
    const maxDiff = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
    expect(maxDiff).toBeLessThan(1e-6);

    const bare = await loadModel(path, { compile: false });
    expect(bare.optimizer).toBeUndefined();
    bare.dispose();
    for (const m of [straight, first, loaded]) m.dispose();
    x.dispose();
    y.dispose();
  });

  it('includeOptimizer false, an uncompiled model or a file target write no optimizer file', async () => {
    const m = build();
    const path = join(dir, 'noopt');
    await m.save(path);
    expect(existsSync(join(path, 'optimizer.safetensors'))).toBe(true);
    await m.save(path, { includeOptimizer: false });
    expect(existsSync(join(path, 'optimizer.safetensors'))).toBe(false);
    const l = await loadModel(path);
    expect(l.optimizer).toBeUndefined();
    await m.save(join(dir, 'file', 'm.safetensors'));
    expect(existsSync(join(dir, 'file', 'optimizer.safetensors'))).toBe(false);
    l.dispose();
    m.dispose();
  });
});
