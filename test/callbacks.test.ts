import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BaseCallback,
  CSVLogger,
  Dense,
  EarlyStopping,
  exponentialDecay,
  LambdaCallback,
  LearningRateScheduler,
  type LogSink,
  loadModel,
  ModelCheckpoint,
  memory,
  ReduceLROnPlateau,
  Sequential,
  SGD,
  setSeed,
  type Tensor,
  TerminateOnNaN,
  tensor,
} from '../src/node.js';
import { randArray, rng } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-cb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet: LogSink = { isTTY: false, write: () => {} };

function build(lr = 0.1): Sequential {
  setSeed(7);
  const m = new Sequential([
    new Dense({ units: 6, activation: 'relu', inputShape: [4], name: 'hidden' }),
    new Dense({ units: 3, activation: 'softmax', name: 'out' }),
  ]);
  m.compile({
    optimizer: new SGD({ learningRate: lr }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return m;
}

function data(n: number, seed: number, shift = 0): [Tensor, Tensor] {
  const x = tensor(randArray(n * 4, rng(seed)), [n, 4]);
  const y = tensor(
    Int32Array.from({ length: n }, (_, i) => (i + shift) % 3),
    [n],
    'int32',
  );
  return [x, y];
}

async function weightsOf(m: Sequential): Promise<number[][]> {
  return Promise.all(m.weights.map(async (w) => Array.from(await w.data())));
}

/** Runs `cb` over scripted epoch logs (no training); returns the epochs after which it stopped. */
function script(cb: BaseCallback, m: Sequential, key: string, values: number[]): number[] {
  cb.setModel(m);
  m.stopTraining = false;
  (cb as unknown as { onTrainBegin(): void }).onTrainBegin();
  const stops: number[] = [];
  values.forEach((v, epoch) => {
    m.stopTraining = false;
    (cb as unknown as { onEpochEnd(e: number, l: Record<string, number>): void }).onEpochEnd(epoch, {
      [key]: v,
    });
    if (m.stopTraining) stops.push(epoch);
  });
  return stops;
}

describe('EarlyStopping on scripted logs', () => {
  const m = build();
  afterAll(() => m.dispose());
  it('stops when patience runs out (Keras counting)', () => {
    expect(
      script(new EarlyStopping({ monitor: 'loss', patience: 2 }), m, 'loss', [1, 0.9, 0.95, 0.91, 0.5]),
    ).toEqual([3]);
    expect(script(new EarlyStopping({ monitor: 'loss' }), m, 'loss', [1, 1.1])).toEqual([1]);
  });
  it('infers max for accuracy names and honours minDelta, baseline and startFromEpoch', () => {
    expect(
      script(
        new EarlyStopping({ monitor: 'val_accuracy', patience: 1 }),
        m,
        'val_accuracy',
        [0.5, 0.6, 0.7, 0.6, 0.6],
      ),
    ).toEqual([3, 4]);
    // 0.95 -> 0.94 is not an improvement of more than 0.05.
    expect(script(new EarlyStopping({ monitor: 'loss', minDelta: 0.05 }), m, 'loss', [1, 0.96])).toEqual([1]);
    // Improving without beating the baseline does not reset the count (Keras).
    expect(
      script(
        new EarlyStopping({ monitor: 'loss', patience: 2, baseline: 0.1 }),
        m,
        'loss',
        [1, 0.9, 0.95, 0.96],
      ),
    ).toEqual([2, 3]);
    expect(
      script(new EarlyStopping({ monitor: 'loss', patience: 2 }), m, 'loss', [1, 0.9, 0.95, 0.96]),
    ).toEqual([3]);
    expect(
      script(new EarlyStopping({ monitor: 'loss', startFromEpoch: 2 }), m, 'loss', [1, 2, 3, 4]),
    ).toEqual([3]);
    expect(script(new EarlyStopping({ monitor: 'loss', mode: 'max' }), m, 'loss', [1, 0.5])).toEqual([1]);
  });
  it('ignores epochs without the monitored value', () => {
    expect(script(new EarlyStopping({ monitor: 'val_loss' }), m, 'loss', [1, 2, 3])).toEqual([]);
  });
});

describe('EarlyStopping in fit', () => {
  it('stops at the right epoch and restores the best epoch weights exactly, without leaks', async () => {
    const [x, y] = data(30, 1);
    const [vx, vy] = data(30, 1, 1); // same inputs, other labels: val_loss rises as training fits y
    const m = build(0.5);
    const before = memory().numTensors;
    const snapshots: number[][][] = [];
    const es = new EarlyStopping({ patience: 2, restoreBestWeights: true });
    const h = await m.fit(x, y, {
      epochs: 30,
      batchSize: 10,
      shuffle: false,
      validationData: [vx, vy],
      logSink: quiet,
      callbacks: [
        new LambdaCallback({ onEpochEnd: async () => void snapshots.push(await weightsOf(m)) }),
        es,
      ],
    });
    const val = h.history.val_loss;
    // The Keras rule over the logged values.
    let best = Infinity;
    let bestEpoch = 0;
    let wait = 0;
    let stopped = -1;
    for (let e = 0; e < val.length && stopped < 0; e++) {
      wait++;
      if (val[e] < best) {
        best = val[e];
        bestEpoch = e;
        wait = 0;
      } else if (wait >= 2 && e > 0) stopped = e;
    }
    expect(stopped).toBeGreaterThan(0);
    expect(val.length).toBe(stopped + 1);
    expect(es.stoppedEpoch).toBe(stopped);
    expect(es.bestEpoch).toBe(bestEpoch);
    expect(await weightsOf(m)).toEqual(snapshots[bestEpoch]);
    expect(memory().numTensors).toBe(before);
    m.dispose();
    for (const t of [x, y, vx, vy]) t.dispose();
  });

  it('restores the best weights even when patience never ran out', async () => {
    const [x, y] = data(30, 2);
    const [vx, vy] = data(30, 2, 1);
    const m = build(0.5);
    const snapshots: number[][][] = [];
    const es = new EarlyStopping({ patience: 100, restoreBestWeights: true });
    const h = await m.fit(x, y, {
      epochs: 4,
      batchSize: 10,
      shuffle: false,
      validationData: [vx, vy],
      logSink: quiet,
      callbacks: [
        new LambdaCallback({ onEpochEnd: async () => void snapshots.push(await weightsOf(m)) }),
        es,
      ],
    });
    const v = h.history.val_loss;
    const best = v.indexOf(Math.min(...v));
    expect(h.history.loss.length).toBe(4);
    expect(await weightsOf(m)).toEqual(snapshots[best]);
    m.dispose();
    for (const t of [x, y, vx, vy]) t.dispose();
  });
});

describe('ReduceLROnPlateau', () => {
  it('reduces at the right epochs, with cooldown, and logs learning_rate', () => {
    const m = build(0.1);
    const cb = new ReduceLROnPlateau({ monitor: 'loss', factor: 0.5, patience: 2, cooldown: 1 });
    cb.setModel(m);
    cb.onTrainBegin();
    const logged: number[] = [];
    for (let e = 0; e < 7; e++) {
      const logs: Record<string, number> = { loss: 1 };
      cb.onEpochEnd(e, logs);
      logged.push(logs.learning_rate);
    }
    expect(logged).toEqual([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
    expect(m.optimizer!.learningRate).toBe(0.0125);
    m.dispose();
  });

  it('stops at minLr and counts improvements beyond minDelta', () => {
    const m = build(0.1);
    const cb = new ReduceLROnPlateau({
      monitor: 'loss',
      factor: 0.1,
      patience: 1,
      minLr: 0.005,
      minDelta: 0.1,
    });
    cb.setModel(m);
    cb.onTrainBegin();
    [1, 0.95, 0.5, 0.45, 0.44].forEach((v, e) => {
      cb.onEpochEnd(e, { loss: v });
    });
    // epoch 1: no real improvement -> 0.01; epoch 2 improves; 3 -> 0.005 (floored at minLr); 4 stays.
    expect(m.optimizer!.learningRate).toBe(0.005);
    m.dispose();
  });

  it('changes the rate inside fit, and history gets learning_rate', async () => {
    const [x, y] = data(20, 3);
    const m = build(0.2);
    const h = await m.fit(x, y, {
      epochs: 4,
      batchSize: 10,
      logSink: quiet,
      callbacks: [new ReduceLROnPlateau({ monitor: 'loss', minDelta: 100, patience: 1, factor: 0.5 })],
    });
    expect(h.history.learning_rate).toEqual([0.2, 0.2, 0.1, 0.05]);
    expect(m.optimizer!.learningRate).toBe(0.025);
    m.dispose();
    x.dispose();
    y.dispose();
  });

  it('refuses a schedule-valued learning rate with a clear error', async () => {
    const [x, y] = data(10, 4);
    const m = build();
    m.compile({
      optimizer: new SGD({
        learningRate: exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.9 }),
      }),
      loss: 'sparseCategoricalCrossentropy',
    });
    await expect(
      m.fit(x, y, { epochs: 1, logSink: quiet, callbacks: [new ReduceLROnPlateau()] }),
    ).rejects.toThrow(/ReduceLROnPlateau: the optimizer's learningRate is a schedule/);
    m.dispose();
    x.dispose();
    y.dispose();
  });
});

describe('LearningRateScheduler', () => {
  it('sets the rate before each epoch from (epoch, lr)', async () => {
    const [x, y] = data(20, 5);
    const m = build(0.1);
    const seen: number[] = [];
    const h = await m.fit(x, y, {
      epochs: 3,
      batchSize: 10,
      logSink: quiet,
      callbacks: [
        new LearningRateScheduler((epoch, lr) => (epoch === 0 ? lr : lr / 2)),
        new LambdaCallback({ onEpochBegin: () => void seen.push(m.optimizer!.learningRate as number) }),
      ],
    });
    expect(seen).toEqual([0.1, 0.05, 0.025]);
    expect(h.history.learning_rate).toEqual([0.1, 0.05, 0.025]);
    m.dispose();
    x.dispose();
    y.dispose();
  });
});

describe('ModelCheckpoint', () => {
  it('saveBestOnly writes only on improvement, with formatted names, and the files load', async () => {
    const m = build();
    const cb = new ModelCheckpoint({
      filepath: join(dir, 'best', 'ck-{epoch:02d}-{val_loss:.2f}'),
      saveBestOnly: true,
    });
    cb.setModel(m);
    const vals = [1, 0.5, 0.7, 0.4];
    for (const [e, v] of vals.entries()) await cb.onEpochEnd(e, { loss: 1, val_loss: v });
    expect(readdirSync(join(dir, 'best')).sort()).toEqual(['ck-01-1.00', 'ck-02-0.50', 'ck-04-0.40']);
    const loaded = await loadModel(join(dir, 'best', 'ck-04-0.40'));
    expect(await weightsOf(loaded as Sequential)).toEqual(await weightsOf(m));
    loaded.dispose();
    m.dispose();
  });

  it('saves weights every saveFreq steps in fit', async () => {
    const [x, y] = data(40, 6);
    const m = build();
    const path = join(dir, 'steps', 'w-{epoch}-{batch}.safetensors');
    await m.fit(x, y, {
      epochs: 2,
      batchSize: 10,
      logSink: quiet,
      callbacks: [new ModelCheckpoint({ filepath: path, saveFreq: 3, saveWeightsOnly: true })],
    });
    const files = readdirSync(join(dir, 'steps')).filter((f) => f.endsWith('.safetensors'));
    expect(files.sort()).toEqual(['w-1-3.safetensors', 'w-2-2.safetensors']);
    m.dispose();
    x.dispose();
    y.dispose();
  });
});

describe('CSVLogger', () => {
  it('writes epoch then the sorted log names, one row per epoch; append keeps the rows', async () => {
    const [x, y] = data(20, 7);
    const [vx, vy] = data(10, 8);
    const m = build();
    const file = join(dir, 'log.csv');
    const h = await m.fit(x, y, {
      epochs: 2,
      batchSize: 10,
      validationData: [vx, vy],
      logSink: quiet,
      callbacks: [new CSVLogger({ filename: file })],
    });
    const rows = (e: number) =>
      [e, h.history.accuracy[e], h.history.loss[e], h.history.val_accuracy[e], h.history.val_loss[e]]
        .map(String)
        .join(',');
    expect(readFileSync(file, 'utf8')).toBe(
      `epoch,accuracy,loss,val_accuracy,val_loss\r\n${rows(0)}\r\n${rows(1)}\r\n`,
    );
    const h2 = await m.fit(x, y, {
      epochs: 1,
      batchSize: 10,
      validationData: [vx, vy],
      logSink: quiet,
      callbacks: [new CSVLogger({ filename: file, append: true, separator: ';' })],
    });
    const lines = readFileSync(file, 'utf8').split('\r\n');
    expect(lines.length).toBe(5);
    expect(lines[3]).toBe(
      [
        0,
        h2.history.accuracy[0],
        h2.history.loss[0],
        h2.history.val_accuracy[0],
        h2.history.val_loss[0],
      ].join(';'),
    );
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    m.dispose();
    for (const t of [x, y, vx, vy]) t.dispose();
  });
});

describe('CSVLogger with validationFreq', () => {
  it('keeps val_ columns (NA) for epochs that did not validate', async () => {
    const [x, y] = data(20, 12);
    const m = build();
    const file = join(dir, 'freq', 'log.tsv');
    const h = await m.fit(x, y, {
      epochs: 2,
      batchSize: 10,
      validationData: [x, y],
      validationFreq: 2,
      logSink: quiet,
      callbacks: [new CSVLogger({ filename: file, separator: '\t' })],
    });
    const lines = readFileSync(file, 'utf8').split('\r\n');
    expect(lines[0]).toBe('epoch\taccuracy\tloss\tval_accuracy\tval_loss');
    expect(lines[1]).toBe(`0\t${h.history.accuracy[0]}\t${h.history.loss[0]}\tNA\tNA`);
    expect(lines[2]).toBe(
      `1\t${h.history.accuracy[1]}\t${h.history.loss[1]}\t${h.history.val_accuracy[0]}\t${h.history.val_loss[0]}`,
    );
    m.dispose();
    x.dispose();
    y.dispose();
  });
});

describe('TerminateOnNaN', () => {
  it('stops at the first batch whose loss is NaN', async () => {
    const x = tensor(randArray(40 * 4, rng(9)), [40, 4]);
    const targets = randArray(40, rng(10));
    targets[25] = Number.NaN; // sample 25: batch 2 of 4 with batchSize 10, no shuffle
    const y = tensor(targets, [40, 1]);
    setSeed(3);
    const m = new Sequential([new Dense({ units: 1, inputShape: [4], name: 'reg' })]);
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const batches: number[] = [];
    const h = await m.fit(x, y, {
      epochs: 3,
      batchSize: 10,
      shuffle: false,
      logSink: quiet,
      callbacks: [new TerminateOnNaN(), new LambdaCallback({ onBatchEnd: (b) => void batches.push(b) })],
    });
    expect(batches).toEqual([0, 1, 2]);
    expect(h.history.loss.length).toBe(1);
    m.dispose();
    x.dispose();
    y.dispose();
  });
});

describe('LambdaCallback and BaseCallback', () => {
  it('hooks run in Keras order; setModel and setParams come first', async () => {
    const [x, y] = data(20, 10);
    const [vx, vy] = data(10, 11);
    const m = build();
    const events: string[] = [];
    class Probe extends BaseCallback {
      onTrainBegin() {
        events.push(`params ${this.params.epochs} ${this.params.steps} model ${this.model === m}`);
      }
    }
    await m.fit(x, y, {
      epochs: 2,
      batchSize: 10,
      validationData: [vx, vy],
      logSink: quiet,
      callbacks: [
        new Probe(),
        new LambdaCallback({
          onTrainBegin: () => void events.push('trainBegin'),
          onEpochBegin: (e) => void events.push(`epochBegin ${e}`),
          onBatchBegin: (b) => void events.push(`batchBegin ${b}`),
          onBatchEnd: (b, l) => void events.push(`batchEnd ${b} ${'loss' in l}`),
          onEpochEnd: (e, l) => void events.push(`epochEnd ${e} ${'val_loss' in l}`),
          onTrainEnd: (l) => void events.push(`trainEnd ${l !== undefined && 'val_loss' in l}`),
        }),
        // Plain objects keep working.
        { onEpochEnd: (e: number) => void events.push(`plain ${e}`) },
      ],
    });
    expect(events).toEqual([
      'params 2 2 model true',
      'trainBegin',
      'epochBegin 0',
      'batchBegin 0',
      'batchEnd 0 true',
      'batchBegin 1',
      'batchEnd 1 true',
      'epochEnd 0 true',
      'plain 0',
      'epochBegin 1',
      'batchBegin 0',
      'batchEnd 0 true',
      'batchBegin 1',
      'batchEnd 1 true',
      'epochEnd 1 true',
      'plain 1',
      'trainEnd true',
    ]);
    expect(existsSync(dir)).toBe(true);
    m.dispose();
    for (const t of [x, y, vx, vy]) t.dispose();
  });
});
