import { describe, expect, it } from 'vitest';
import {
  Activation,
  Adam,
  ArgumentError,
  type Callback,
  Dense,
  Dropout,
  exponentialDecay,
  Flatten,
  type LogSink,
  layerFromConfig,
  memory,
  ReLU,
  Sequential,
  SGD,
  ShapeError,
  Softmax,
  setSeed,
  sum,
  tensor,
  tidy,
  variable,
} from '../src/index.js';
import { fmtNum } from '../src/nn/progress.js';
import { randArray, rng } from './helpers.js';
import { adamStep, type MlpWeights, mlpLossAndGrads, sgdMomentumStep } from './oracle/mlp.js';

/** Two interleaved spirals (2 classes), the classic non-linear toy problem. */
function spiral(n: number): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  const r = rng(3);
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    const t = (i / n) * 3.5 * Math.PI;
    const rad = 0.2 + (i / n) * 3;
    x[2 * i] = rad * Math.sin(t + c * Math.PI) + (r() - 0.5) * 0.1;
    x[2 * i + 1] = rad * Math.cos(t + c * Math.PI) + (r() - 0.5) * 0.1;
    y[i] = c;
  }
  return { x, y };
}

const quiet: LogSink = { isTTY: false, write: () => {} };

describe('training a dense network', () => {
  it('a 2-layer MLP learns the 2-class spiral to >= 0.95 training accuracy', async () => {
    setSeed(11);
    const n = 400;
    const { x, y } = spiral(n);
    const xs = tensor(x, [n, 2]);
    const ys = tensor(y, [n], 'int32');
    const model = new Sequential([
      new Dense({ units: 64, activation: 'relu', inputShape: [2] }),
      new Dense({ units: 64, activation: 'relu' }),
      new Dense({ units: 2, activation: 'softmax' }),
    ]);
    model.compile({
      optimizer: new Adam({ learningRate: 0.01 }),
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    });
    const h = await model.fit(xs, ys, { epochs: 60, batchSize: 32, seed: 5, logSink: quiet });
    const { accuracy } = await model.evaluate(xs, ys, { batchSize: 128 });
    expect(h.history.loss[0]).toBeGreaterThan(h.history.loss[h.history.loss.length - 1]);
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
    model.dispose();
    xs.dispose();
    ys.dispose();
  });

  it('SGD with momentum: 20 steps match a float64 CPU reference loss by loss', async () => {
    const [inDim, hidden, classes, batch, steps] = [6, 8, 3, 16, 20];
    const n = batch * steps;
    const r = rng(21);
    const x = randArray(n * inDim, r, -1, 1);
    // Learnable labels: how many of the first two features are positive.
    const y = Int32Array.from(
      { length: n },
      (_, i) => (x[i * inDim] > 0 ? 1 : 0) + (x[i * inDim + 1] > 0 ? 1 : 0),
    );
    setSeed(99);
    const model = new Sequential([
      new Dense({ units: hidden, activation: 'relu', inputShape: [inDim], biasInitializer: 'glorotUniform' }),
      new Dense({ units: classes, activation: 'softmax', biasInitializer: 'glorotUniform' }),
    ]);
    const [w1, b1, w2, b2] = await Promise.all(
      model.weights.map(async (w) => Float64Array.from(await w.data())),
    );
    const ref: MlpWeights = { w1, b1, w2, b2 };
    const lr = 0.1;
    const momentum = 0.9;
    model.compile({
      optimizer: new SGD({ learningRate: lr, momentum }),
      loss: 'sparseCategoricalCrossentropy',
    });
    const losses: number[] = [];
    const record: Callback = { onBatchEnd: (_b, logs) => void losses.push(logs.loss) };
    const xs = tensor(x, [n, inDim]);
    const ys = tensor(y, [n], 'int32');
    await model.fit(xs, ys, {
      epochs: 1,
      batchSize: batch,
      shuffle: false,
      callbacks: [record],
      logSink: quiet,
    });
    const vel = {
      w1: new Float64Array(w1.length),
      b1: new Float64Array(b1.length),
      w2: new Float64Array(w2.length),
      b2: new Float64Array(b2.length),
    };
    const x64 = Float64Array.from(x);
    let cpuSum = 0;
    for (let s = 0; s < steps; s++) {
      const { loss, grads } = mlpLossAndGrads(
        ref,
        x64.subarray(s * batch * inDim, (s + 1) * batch * inDim),
        y.subarray(s * batch, (s + 1) * batch),
        batch,
        inDim,
        hidden,
        classes,
      );
      // The logs at each step hold the running mean over the epoch (Keras); equal batches here.
      cpuSum += loss;
      const running = cpuSum / (s + 1);
      // float32 GPU vs float64 CPU: losses agree to 1e-4 relative over all 20 steps.
      expect(Math.abs(losses[s] - running), `step ${s}: GPU ${losses[s]} vs CPU ${running}`).toBeLessThan(
        1e-4 * Math.max(1, running),
      );
      for (const k of ['w1', 'b1', 'w2', 'b2'] as const)
        sgdMomentumStep(ref[k], grads[k], vel[k], lr, momentum);
    }
    expect(losses.length).toBe(steps);
    expect(losses[steps - 1]).toBeLessThan(losses[0]);
    const finalW2 = await model.weights[2].data();
    for (let i = 0; i < finalW2.length; i++) expect(Math.abs(finalW2[i] - ref.w2[i])).toBeLessThan(1e-4);
    model.dispose();
    xs.dispose();
    ys.dispose();
  });

  it('Adam updates match the CPU reference', async () => {
    const w0 = Float64Array.from([0.5, -1.5, 2]);
    const v = variable(tensor(Float32Array.from(w0)));
    const opt = new Adam({ learningRate: 0.05 });
    const ref = Float64Array.from(w0);
    const m = new Float64Array(3);
    const s = new Float64Array(3);
    for (let t = 1; t <= 5; t++) {
      // gradient of sum(w^2) is 2w
      const g = tidy(() => tensor(Float32Array.from(ref.map((w) => 2 * w))));
      adamStep(ref, Float64Array.from(ref.map((w) => 2 * w)), m, s, t, 0.05);
      opt.applyGradients([[v, g]]);
      g.dispose();
    }
    const got = await v.data();
    for (let i = 0; i < 3; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThan(1e-5);
    expect(opt.iterations).toBe(5);
    opt.dispose();
    v.dispose();
  });

  it('soak: 1000 training steps leave memory() unchanged between steps', async () => {
    setSeed(4);
    const model = new Sequential([
      new Flatten({ inputShape: [4, 4, 3] }),
      new Dense({ units: 16, activation: 'relu' }),
      new Dropout({ rate: 0.2, seed: 1 }),
      new Dense({ units: 5, activation: 'softmax' }),
    ]);
    model.compile({
      optimizer: new SGD({ learningRate: 0.01, momentum: 0.9 }),
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    });
    const n = 8 * 200;
    const xs = tensor(randArray(n * 48, rng(5)), [n, 4, 4, 3]);
    // 5 epochs of 200 steps: 1000 steps, memory sampled after each.
    const ys = tensor(
      Int32Array.from({ length: n }, (_, i) => i % 5),
      [n],
      'int32',
    );
    const seen: Array<{ numTensors: number; numBytes: number }> = [];
    const probe: Callback = {
      onBatchEnd: () => {
        const m = memory();
        seen.push({ numTensors: m.numTensors, numBytes: m.numBytes });
      },
    };
    await model.fit(xs, ys, { epochs: 5, batchSize: 8, callbacks: [probe], logSink: quiet });
    expect(seen.length).toBe(1000);
    console.log(`soak: 1000 steps, memory flat at ${seen[1].numTensors} tensors / ${seen[1].numBytes} bytes`);
    // After the first step (optimizer slots are created then), every step ends with the same memory.
    for (const m of seen.slice(1)) expect(m).toEqual(seen[1]);
    model.dispose();
    xs.dispose();
    ys.dispose();
  });
});

describe('layers and models', () => {
  it('summary prints a Keras-like table with trainable and non-trainable counts', () => {
    const model = new Sequential({
      name: 'lab_dense',
      layers: [
        new Flatten({ inputShape: [192, 192, 3], name: 'flatten' }),
        new Dense({ units: 500, activation: 'relu', name: 'd500' }),
        new Dense({ units: 50, activation: 'relu', name: 'd50' }),
        new Dense({ units: 5, activation: 'softmax', name: 'out' }),
      ],
    });
    const lines = model.summary(() => {});
    const text = lines.join('\n');
    expect(text).toContain('Model: "lab_dense"');
    expect(text).toMatch(/flatten \(Flatten\)\s+\(None, 110592\)\s+0/);
    expect(text).toMatch(/d500 \(Dense\)\s+\(None, 500\)\s+55,296,500/);
    expect(text).toContain('Total params: 55,321,805');
    expect(text).toContain('Trainable params: 55,321,805');
    model.getLayer('d500').trainable = false;
    const frozen = model.summary(() => {}).join('\n');
    expect(frozen).toContain('Trainable params: 25,305');
    expect(frozen).toContain('Non-trainable params: 55,296,500');
    model.trainable = false;
    expect(model.trainableWeights.length).toBe(0);
    model.dispose();
  });

  it('layers recreate from their config', () => {
    const layers = [
      new Dense({ units: 3, activation: 'tanh', useBias: false }),
      new ReLU({ maxValue: 6 }),
      new Softmax({ axis: 1 }),
      new Activation({ activation: 'sigmoid' }),
      new Dropout({ rate: 0.5 }),
    ];
    for (const l of layers) {
      const copy = layerFromConfig({ className: l.className, config: l.getConfig() });
      expect(copy.getConfig()).toEqual(l.getConfig());
    }
    const seq = new Sequential([new Dense({ units: 2, inputShape: [3] })]);
    const again = Sequential.fromConfig(seq.getConfig());
    expect(again.getConfig()).toEqual(seq.getConfig());
    expect(again.countParams()).toBe(8);
    seq.dispose();
    again.dispose();
  });

  it('dropout drops in training only, with the right keep rate and scale', async () => {
    const d = new Dropout({ rate: 0.25, seed: 3 });
    const x = tensor(new Float32Array(4000).fill(1), [4000]);
    const inf = d.apply(x, { training: false });
    expect(inf).toBe(x);
    const tr = d.apply(x, { training: true });
    const v = await tr.data();
    const kept = v.filter((a) => a !== 0);
    expect(Math.abs(kept.length / 4000 - 0.75)).toBeLessThan(0.03);
    expect(kept.every((a) => Math.abs(a - 1 / 0.75) < 1e-6)).toBe(true);
    x.dispose();
    tr.dispose();
  });

  it('learning-rate schedules follow Keras ExponentialDecay', () => {
    const s = exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 });
    expect(s(0)).toBeCloseTo(0.1);
    expect(s(10)).toBeCloseTo(0.05);
    expect(s(5)).toBeCloseTo(0.1 * 0.5 ** 0.5);
    const st = exponentialDecay({
      initialLearningRate: 0.1,
      decaySteps: 10,
      decayRate: 0.5,
      staircase: true,
    });
    expect(st(19)).toBeCloseTo(0.05);
    const opt = new SGD({ learningRate: s });
    expect(opt.currentLearningRate()).toBeCloseTo(0.1);
  });

  it('rejects bad arguments with errors that name them', async () => {
    expect(() => new Dense({ units: 0 })).toThrow(/units must be a positive integer, got 0/);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => new Dense({ units: 2, activation: 'gel' as any })).toThrow(/activation must be one of/);
    expect(() => new Dropout({ rate: 1 })).toThrow(ArgumentError);
    expect(() => new SGD({ momentum: 1.5 })).toThrow(/momentum must be in/);
    expect(() => new Adam({ learningRate: -1 })).toThrow(/learningRate/);
    const model = new Sequential([new Dense({ units: 2, inputShape: [3] })]);
    const x = tensor(new Float32Array(8), [2, 4]);
    expect(() => tidy(() => model.apply(x))).toThrow(ShapeError);
    expect(() => tidy(() => model.apply(x))).toThrow(/\(None, 3\), got \[2,4\]/);
    await expect(model.fit(x, x)).rejects.toThrow(/compile/);
    // biome-ignore lint/suspicious/noExplicitAny: testing a bad runtime value
    expect(() => model.compile({ optimizer: 'adadelta' as any, loss: 'mse' })).toThrow(/optimizer/);
    expect(() => model.compile({ optimizer: 'sgd', loss: 'log_cosh_typo' })).toThrow(/unknown loss/);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    const y = tensor(new Float32Array(3 * 2), [3, 2]);
    const x3 = tensor(new Float32Array(2 * 3), [2, 3]);
    await expect(model.fit(x3, y)).rejects.toThrow(/same number of samples/);
    await expect(model.fit(x3, x3, { epochs: 0 })).rejects.toThrow(/epochs must be a positive integer/);
    await expect(model.fit(x3, x3, { validationSplit: 1.5 })).rejects.toThrow(/validationSplit/);
    expect(() => model.getLayer('nope')).toThrow(/no layer named 'nope'/);
    for (const t of [x, y, x3]) t.dispose();
    model.dispose();
  });

  it('prints one Keras-style line per epoch when not on a TTY', async () => {
    const out: string[] = [];
    const sink: LogSink = { isTTY: false, write: (s) => void out.push(s) };
    const model = new Sequential([new Dense({ units: 2, activation: 'softmax', inputShape: [3] })]);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const x = tensor(randArray(30, rng(1)), [10, 3]);
    const y = tensor(
      Int32Array.from({ length: 10 }, (_, i) => i % 2),
      [10],
      'int32',
    );
    const h = await model.fit(x, y, { epochs: 2, batchSize: 4, validationSplit: 0.2, logSink: sink });
    const text = out.join('');
    expect(text).toMatch(
      // Keras prints 0 as 0.0000e+00 (its .4f / .4e switch at 1e-3), so a zero accuracy has an exponent.
      /Epoch 1\/2\n2\/2 - \d+s \d+ms\/step - loss: \d\.\d{4} - accuracy: \d\.\d{4}(e\+00)? - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}(e\+00)?\n/,
    );
    expect(Object.keys(h.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    const p = await model.predict(x, { batchSize: 3 });
    expect(p.shape).toEqual([10, 2]);
    const rowSums = await sum(p, 1).data();
    for (const s of rowSums) expect(s).toBeCloseTo(1, 5);
    for (const t of [x, y, p]) t.dispose();
    model.dispose();
  });

  // Issue 15, bug 4: `loss: 1.3508665382243868e+21` and `val_loss: 13586378710109388.0000`.
  it('formats logged values as Keras does, with an exponent for huge values', async () => {
    // Python's f'{v:.4f}' if abs(v) > 1e-3 else f'{v:.4e}' (keras/src/utils/progbar.py).
    const keras: [number, string][] = [
      [0.7134567, '0.7135'],
      [1.5, '1.5000'],
      [-0.5, '-0.5000'],
      [12345.67891, '12345.6789'],
      [1.23456e-5, '1.2346e-05'],
      [0.001, '1.0000e-03'],
      [0, '0.0000e+00'],
      [Number.NaN, 'nan'],
      [Number.POSITIVE_INFINITY, 'inf'],
    ];
    for (const [v, text] of keras) expect(fmtNum(v), String(v)).toBe(text);
    expect(fmtNum(1.3508665382243868e21)).toBe('1.3509e+21');
    expect(fmtNum(13586378710109388)).toBe('1.3586e+16');
    expect(fmtNum(-2.5e7)).toBe('-2.5000e+07');

    const out: string[] = [];
    const sink: LogSink = { isTTY: false, write: (s) => void out.push(s) };
    const model = new Sequential([new Dense({ units: 1, inputShape: [2], kernelInitializer: 'zeros' })]);
    model.compile({ optimizer: new SGD({ learningRate: 1e-30 }), loss: 'meanSquaredError' });
    const x = tensor(randArray(8, rng(3)), [4, 2]);
    const y = tensor([3e10, -3e10, 3e10, -3e10], [4, 1]);
    await model.fit(x, y, { epochs: 1, batchSize: 2, validationSplit: 0.5, logSink: sink });
    expect(out.join('')).toMatch(/ - loss: 9\.0000e\+20 - val_loss: 9\.0000e\+20\n/);
    for (const t of [x, y]) t.dispose();
    model.dispose();
  });
});
