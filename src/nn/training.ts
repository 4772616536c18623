import { variableGrads } from '../autograd/grad.js';
import { concat } from '../kernels/concat.js';
import { gather } from '../kernels/gather.js';
import { slice } from '../kernels/slice.js';
import { nextSeedValue, tensor } from '../tensor/creation.js';
import type { DataArray } from '../tensor/dtype.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import { keep, tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { type Callback, History } from './callbacks.js';
import type { Model } from './model.js';
import { defaultSink, fmtLogs, type LogSink, ProgressBar, type Verbose } from './progress.js';

/** A batch of inputs and targets (a type alias, so it is a `TensorContainer`: `dispose(batch)`). */
export type Batch = {
  /** The inputs, batch first. */
  xs: Tensor;
  /** The targets, batch first. */
  ys: Tensor;
};

/** Anything async-iterable over batches (e.g. `imageDatasetFromDirectory`). The consumer disposes each batch. */
export type BatchSource = AsyncIterable<Batch>;

/** Options of `model.fit` (Keras `fit`, camelCase). */
export interface FitArgs {
  /** Passes over the data (default 1). */
  epochs?: number;
  /** Samples per step when fitting tensors (default 32; a dataset brings its own batches). */
  batchSize?: number;
  /** Fraction of the (tensor) data held out for validation: the last samples, as Keras. */
  validationSplit?: number;
  /** Data evaluated after each epoch (`val_` entries in the logs): `[x, y]` tensors or a dataset of batches. */
  validationData?: [Tensor, Tensor] | BatchSource;
  /** Shuffle tensor data each epoch (default true). */
  shuffle?: boolean;
  /** Seed of the per-epoch shuffles (default: the global sequence, see `setSeed`). */
  seed?: number;
  /** Called at the start and end of training, epochs and batches. */
  callbacks?: Callback[];
  /** 0 silent, 1 progress bar, 2 one line per epoch; 'auto' (default) is 1 on a terminal, else 2. */
  verbose?: Verbose;
  /** The epoch to start at (to resume training; default 0). */
  initialEpoch?: number;
  /** Where the log goes (default: process.stdout). */
  logSink?: LogSink;
  /** Steps per epoch when a dataset's length is unknown (for the progress bar only). */
  stepsPerEpoch?: number;
}

const FIT_KEYS: OptionKeys<FitArgs> = {
  epochs: true,
  batchSize: true,
  validationSplit: true,
  validationData: true,
  shuffle: true,
  seed: true,
  callbacks: true,
  verbose: true,
  initialEpoch: true,
  logSink: true,
  stepsPerEpoch: true,
};

function isBatchSource(x: unknown): x is BatchSource {
  return typeof x === 'object' && x !== null && !(x instanceof Tensor) && Symbol.asyncIterator in x;
}

function checkVerbose(v: unknown, who: string): Verbose {
  if (v !== 'auto' && v !== 0 && v !== 1 && v !== 2)
    throw new ArgumentError(`${who}: verbose must be 0, 1, 2 or 'auto', got ${JSON.stringify(v)}`);
  return v;
}

function checkSink(s: LogSink | undefined, who: string): LogSink {
  if (s === undefined) return defaultSink();
  if (s === null || typeof s.write !== 'function')
    throw new ArgumentError(`${who}: logSink must have a write(text) method`);
  return s;
}

function checkPositiveInt(v: unknown, name: string, who: string): number {
  if (!Number.isInteger(v) || (v as number) < 1)
    throw new ArgumentError(`${who}: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

/** Mulberry32-based Fisher-Yates shuffle of 0..n-1. */
export function permutation(n: number, seed: number): Int32Array {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** Batches of in-memory tensors, optionally in a shuffled order. */
async function* tensorBatches(
  x: Tensor,
  y: Tensor | undefined,
  batchSize: number,
  order?: Int32Array,
): AsyncGenerator<Batch> {
  const n = x.shape[0];
  for (let s = 0; s < n; s += batchSize) {
    const b = Math.min(batchSize, n - s);
    if (order) {
      const idx = tensor(order.subarray(s, s + b), [b], 'int32');
      const xs = gather(x, idx, 0);
      const ys = y ? gather(y, idx, 0) : xs;
      idx.dispose();
      yield { xs, ys };
    } else {
      const xs = slice(x, [s, ...x.shape.slice(1).map(() => 0)], [b, ...x.shape.slice(1)]);
      const ys = y ? slice(y, [s, ...y.shape.slice(1).map(() => 0)], [b, ...y.shape.slice(1)]) : xs;
      yield { xs, ys };
    }
  }
}

function checkXY(x: Tensor, y: Tensor, who: string): void {
  if (!(x instanceof Tensor) || !(y instanceof Tensor))
    throw new ArgumentError(`${who}: x and y must be Tensors`);
  x.assertAlive(`${who}: x`);
  y.assertAlive(`${who}: y`);
  if (x.rank === 0 || y.rank === 0 || x.shape[0] !== y.shape[0]) {
    throw new ShapeError(
      `${who}: x ${fmtShape(x.shape)} and y ${fmtShape(y.shape)} must have the same number of samples (first dimension)`,
    );
  }
}

function disposeBatch(b: Batch): void {
  b.xs.dispose();
  if (b.ys !== b.xs) b.ys.dispose();
}

/** Running, sample-weighted means of the step logs. */
class Averager {
  private sums: Record<string, number> = {};
  private count = 0;
  add(values: Record<string, number>, n: number): void {
    for (const [k, v] of Object.entries(values)) this.sums[k] = (this.sums[k] ?? 0) + v * n;
    this.count += n;
  }
  result(prefix = ''): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.sums)) out[prefix + k] = v / Math.max(1, this.count);
    return out;
  }
}

function requireCompiled(model: Model, who: string): void {
  if (!model.optimizer || !model.loss)
    throw new ArgumentError(`${who}: call model.compile({ optimizer, loss }) first`);
}

/** One optimisation step; returns the loss and metric values of the batch. */
async function trainStep(model: Model, b: Batch): Promise<Record<string, number>> {
  const vars = model.trainableWeights;
  let metricTensors: Tensor[] = [];
  const { value, grads } = variableGrads(() => {
    const yPred = model.apply(b.xs, { training: true });
    const loss = model.loss!(b.ys, yPred);
    metricTensors = model.metrics.map((m) => keep(m.fn(b.ys, yPred)));
    return loss;
  }, vars);
  model.optimizer!.applyGradients(grads);
  for (const g of grads.values()) g.dispose();
  let vals: DataArray[];
  try {
    vals = await Promise.all([value, ...metricTensors].map((t) => t.data()));
  } finally {
    // Also when the readback throws (a GPU fault): nothing of the step may leak.
    value.dispose();
    for (const t of metricTensors) t.dispose();
  }
  const logs: Record<string, number> = { loss: vals[0][0] };
  model.metrics.forEach((m, i) => {
    logs[m.name] = vals[i + 1][0];
  });
  return logs;
}

async function evaluateBatches(model: Model, source: AsyncIterable<Batch>): Promise<Record<string, number>> {
  const avg = new Averager();
  for await (const b of source) {
    const [loss, ...ms] = tidy(() => {
      const yPred = model.apply(b.xs, { training: false });
      return [model.loss!(b.ys, yPred), ...model.metrics.map((m) => m.fn(b.ys, yPred))];
    });
    let vals: DataArray[];
    try {
      vals = await Promise.all([loss, ...ms].map((t) => t.data()));
    } catch (e) {
      disposeBatch(b);
      throw e;
    } finally {
      for (const t of [loss, ...ms]) t.dispose();
    }
    const logs: Record<string, number> = { loss: vals[0][0] };
    model.metrics.forEach((m, i) => {
      logs[m.name] = vals[i + 1][0];
    });
    avg.add(logs, b.xs.shape[0]);
    disposeBatch(b);
  }
  return avg.result();
}

export async function fit(
  model: Model,
  x: Tensor | BatchSource,
  y: Tensor | FitArgs | undefined,
  argsIn?: FitArgs,
): Promise<History> {
  const who = 'fit';
  requireCompiled(model, who);
  const fromDataset = isBatchSource(x);
  const args: FitArgs = (fromDataset ? (y as FitArgs | undefined) : argsIn) ?? {};
  checkOptions(args, FIT_KEYS, who);
  const epochs = checkPositiveInt(args.epochs ?? 1, 'epochs', who);
  const batchSize = checkPositiveInt(args.batchSize ?? 32, 'batchSize', who);
  const initialEpoch = args.initialEpoch ?? 0;
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0)
    throw new ArgumentError(
      `${who}: initialEpoch must be an integer >= 0, got ${JSON.stringify(initialEpoch)}`,
    );
  if (args.seed !== undefined && !Number.isInteger(args.seed))
    throw new ArgumentError(`${who}: seed must be an integer, got ${JSON.stringify(args.seed)}`);
  if (args.shuffle !== undefined && typeof args.shuffle !== 'boolean')
    throw new ArgumentError(`${who}: shuffle must be a boolean, got ${JSON.stringify(args.shuffle)}`);
  if (args.stepsPerEpoch !== undefined) checkPositiveInt(args.stepsPerEpoch, 'stepsPerEpoch', who);
  const sink = checkSink(args.logSink, who);
  const verbose = checkVerbose(args.verbose ?? 'auto', who);
  const mode: 0 | 1 | 2 = verbose === 'auto' ? (sink.isTTY ? 1 : 2) : verbose;
  const callbacks = args.callbacks ?? [];
  if (!Array.isArray(callbacks) || callbacks.some((c) => c === null || typeof c !== 'object'))
    throw new ArgumentError(`${who}: callbacks must be an array of callback objects`);

  let trainX: Tensor | undefined;
  let trainY: Tensor | undefined;
  let valData: [Tensor, Tensor] | BatchSource | undefined = args.validationData;
  const owned: Tensor[] = [];
  if (!fromDataset) {
    if (!(y instanceof Tensor)) throw new ArgumentError(`${who}: y must be a Tensor when x is a Tensor`);
    checkXY(x, y, who);
    trainX = x;
    trainY = y;
    const split = args.validationSplit ?? 0;
    if (typeof split !== 'number' || split < 0 || split >= 1) {
      throw new ArgumentError(`${who}: validationSplit must be in [0, 1), got ${JSON.stringify(split)}`);
    }
    if (split > 0) {
      const n = x.shape[0];
      const nTrain = Math.floor(n * (1 - split));
      if (nTrain < 1 || nTrain >= n)
        throw new ArgumentError(
          `${who}: validationSplit ${split} leaves no training or validation samples out of ${n}`,
        );
      const cut = (t: Tensor, s: number, len: number) =>
        slice(t, [s, ...t.shape.slice(1).map(() => 0)], [len, ...t.shape.slice(1)]);
      trainX = cut(x, 0, nTrain);
      trainY = cut(y, 0, nTrain);
      valData = [cut(x, nTrain, n - nTrain), cut(y, nTrain, n - nTrain)];
      owned.push(trainX, trainY, ...valData);
    }
  } else if (args.validationSplit) {
    throw new ArgumentError(
      `${who}: validationSplit is only supported for tensor inputs; split the dataset (imageDatasetFromDirectory subset) instead`,
    );
  }
  if (valData && !isBatchSource(valData)) checkXY(valData[0], valData[1], `${who}: validationData`);

  const history = new History();
  const nTrain = trainX?.shape[0];
  const steps = nTrain !== undefined ? Math.ceil(nTrain / batchSize) : args.stepsPerEpoch;
  history.params = { epochs, steps, batchSize, verbose: mode };
  model.stopTraining = false;
  try {
    for (const c of callbacks) await c.onTrainBegin?.();
    for (let epoch = initialEpoch; epoch < epochs && !model.stopTraining; epoch++) {
      for (const c of callbacks) await c.onEpochBegin?.(epoch);
      if (mode > 0) sink.write(`Epoch ${epoch + 1}/${epochs}\n`);
      const bar = mode > 0 ? new ProgressBar(steps, sink, mode as 1 | 2) : undefined;
      const avg = new Averager();
      let step = 0;
      const shuffle = args.shuffle ?? true;
      const order =
        trainX && shuffle
          ? permutation(
              trainX.shape[0],
              args.seed !== undefined ? (args.seed + epoch * 7919) >>> 0 : nextSeedValue(),
            )
          : undefined;
      const source = fromDataset ? (x as BatchSource) : tensorBatches(trainX!, trainY!, batchSize, order);
      for await (const b of source) {
        let logs: Record<string, number>;
        try {
          logs = await trainStep(model, b);
        } finally {
          disposeBatch(b);
        }
        avg.add(logs, b.xs.shape[0]);
        step++;
        bar?.update(step, avg.result());
        for (const c of callbacks) await c.onBatchEnd?.(step - 1, logs);
      }
      const epochLogs = avg.result();
      if (valData) {
        const src = isBatchSource(valData) ? valData : tensorBatches(valData[0], valData[1], batchSize);
        Object.assign(epochLogs, prefixed(await evaluateBatches(model, src), 'val_'));
      }
      bar?.finish(step, epochLogs);
      history.record(epoch, epochLogs);
      for (const c of callbacks) await c.onEpochEnd?.(epoch, epochLogs);
    }
    for (const c of callbacks) await c.onTrainEnd?.(history.history as unknown as Record<string, number>);
  } finally {
    for (const t of owned) t.dispose();
  }
  return history;
}

function prefixed(logs: Record<string, number>, p: string): Record<string, number> {
  return Object.fromEntries(Object.entries(logs).map(([k, v]) => [p + k, v]));
}

/** Options of `model.evaluate`. */
export interface EvaluateArgs {
  /** Samples per step when evaluating tensors (default 32). */
  batchSize?: number;
  /** Progress output (default 0: silent). */
  verbose?: Verbose;
  /** Where the log goes (default: process.stdout). */
  logSink?: LogSink;
}

const EVALUATE_KEYS: OptionKeys<EvaluateArgs> = { batchSize: true, verbose: true, logSink: true };

/** Loss and metrics over all samples (sample-weighted means), as `{ loss, accuracy }`. */
export async function evaluate(
  model: Model,
  x: Tensor | BatchSource,
  y?: Tensor | EvaluateArgs,
  argsIn?: EvaluateArgs,
): Promise<Record<string, number>> {
  requireCompiled(model, 'evaluate');
  const fromDataset = isBatchSource(x);
  const args = (fromDataset ? (y as EvaluateArgs | undefined) : argsIn) ?? {};
  checkOptions(args, EVALUATE_KEYS, 'evaluate');
  const batchSize = checkPositiveInt(args.batchSize ?? 32, 'batchSize', 'evaluate');
  let src: AsyncIterable<Batch>;
  if (fromDataset) src = x as BatchSource;
  else {
    if (!(y instanceof Tensor)) throw new ArgumentError('evaluate: y must be a Tensor when x is a Tensor');
    checkXY(x as Tensor, y, 'evaluate');
    src = tensorBatches(x as Tensor, y, batchSize);
  }
  const verbose = checkVerbose(args.verbose ?? 0, 'evaluate');
  const sink = checkSink(args.logSink, 'evaluate');
  const logs = await evaluateBatches(model, src);
  if (verbose) sink.write(`${fmtLogs(logs).slice(3)}\n`);
  return logs;
}

/** Options of `model.predict`. */
export interface PredictArgs {
  /** Samples per step (default 32). */
  batchSize?: number;
}

const PREDICT_KEYS: OptionKeys<PredictArgs> = { batchSize: true };

/** Runs the model in inference mode over `x` in batches and concatenates the outputs. */
export async function predict(
  model: Model,
  x: Tensor | AsyncIterable<Batch | Tensor>,
  args: PredictArgs = {},
): Promise<Tensor> {
  checkOptions(args, PREDICT_KEYS, 'predict');
  const batchSize = checkPositiveInt(args.batchSize ?? 32, 'batchSize', 'predict');
  const outs: Tensor[] = [];
  try {
    if (x instanceof Tensor) {
      x.assertAlive('predict: x');
      if (x.rank === 0) throw new ShapeError('predict: x must have a batch dimension, got a scalar');
      for await (const b of tensorBatches(x, undefined, batchSize)) {
        outs.push(tidy(() => model.apply(b.xs, { training: false })));
        b.xs.dispose();
      }
    } else {
      if (x === null || typeof x !== 'object' || !(Symbol.asyncIterator in x))
        throw new ArgumentError(
          `predict: x must be a Tensor or an async iterable of tensors or batches, got ${x === null ? 'null' : typeof x}`,
        );
      for await (const item of x) {
        const xs = item instanceof Tensor ? item : item.xs;
        outs.push(tidy(() => model.apply(xs, { training: false })));
        if (item instanceof Tensor) item.dispose();
        else disposeBatch(item);
      }
    }
    if (outs.length === 1) return outs.pop()!;
    return concat(outs, 0);
  } finally {
    for (const t of outs) t.dispose();
  }
}
