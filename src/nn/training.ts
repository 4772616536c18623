import { variableGrads } from '../autograd/grad.js';
import { concat } from '../kernels/concat.js';
import { gather } from '../kernels/gather.js';
import { slice } from '../kernels/slice.js';
import { nextSeedValue, tensor } from '../tensor/creation.js';
import type { DataArray } from '../tensor/dtype.js';
import { ArgumentError, ShapeError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import { keep, tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { type Callback, History } from './callbacks.js';
import type { Model } from './model.js';
import { lossAndLogs, sampleCount, type Tensors, tensorList } from './multi-io.js';
import { defaultSink, fmtLogs, type LogSink, ProgressBar, type Verbose } from './progress.js';

/** A batch of inputs and targets (a type alias, so it is a `TensorContainer`: `dispose(batch)`). */
export type Batch = {
  /** The inputs, batch first. */
  xs: Tensor;
  /** The targets, batch first. */
  ys: Tensor;
};

/** A batch of a model with several inputs or outputs: lists, or objects keyed by layer name. */
export type MultiBatch = {
  /** The inputs, batch first: one tensor, a list in model order, or an object keyed by input name. */
  xs: Tensors;
  /** The targets, batch first: one tensor, a list in model order, or an object keyed by output name. */
  ys: Tensors;
};

/** Anything async-iterable over batches (e.g. `imageDatasetFromDirectory`). The consumer disposes each batch. */
export type BatchSource = AsyncIterable<Batch | MultiBatch>;

/** A batch as one tensor per model input and per output (what the steps below consume). */
type Lists = { xs: Tensor[]; ys: Tensor[] };

/** Options of `model.fit` (Keras `fit`, camelCase). */
export interface FitArgs {
  /** Passes over the data (default 1). */
  epochs?: number;
  /** Samples per step when fitting tensors (default 32; a dataset brings its own batches). */
  batchSize?: number;
  /** Fraction of the (tensor) data held out for validation: the last samples, as Keras. */
  validationSplit?: number;
  /** [x, y] (each a tensor, a list or an object keyed by layer name) or a dataset. */
  validationData?: [Tensors, Tensors] | BatchSource;
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

/** Batches of in-memory tensors (one list per input, one per output), optionally shuffled. */
async function* tensorBatches(data: Lists, batchSize: number, order?: Int32Array): AsyncGenerator<Lists> {
  const n = data.xs[0].shape[0];
  for (let s = 0; s < n; s += batchSize) {
    const b = Math.min(batchSize, n - s);
    if (order) {
      const idx = tensor(order.subarray(s, s + b), [b], 'int32');
      const take = (t: Tensor) => gather(t, idx, 0);
      const batch = { xs: data.xs.map(take), ys: data.ys.map(take) };
      idx.dispose();
      yield batch;
    } else {
      const take = (t: Tensor) => slice(t, [s, ...t.shape.slice(1).map(() => 0)], [b, ...t.shape.slice(1)]);
      yield { xs: data.xs.map(take), ys: data.ys.map(take) };
    }
  }
}

/** x (and y) as one tensor per model input (and output), with the same number of samples. */
function checkData(model: Model, x: unknown, y: unknown, who: string, what = ['x', 'y']): Lists {
  const xs = tensorList(x, model.inputNames, what[0], who);
  const ys = y === undefined ? [] : tensorList(y, model.outputNames, what[1], who);
  sampleCount(
    [
      [what[0], xs],
      [what[1], ys],
    ],
    who,
  );
  return { xs, ys };
}

/** A dataset's batches as lists (the original tensors: disposing the lists disposes the batch). */
async function* listBatches(model: Model, source: BatchSource, who: string): AsyncGenerator<Lists> {
  for await (const b of source) {
    let lists: Lists;
    try {
      if (b === null || typeof b !== 'object' || !('xs' in b) || !('ys' in b))
        throw new ArgumentError(`${who}: a dataset must yield { xs, ys } batches, got ${String(b)}`);
      lists = checkData(model, b.xs, b.ys, who, ['batch xs', 'batch ys']);
    } catch (e) {
      disposeBatch(b);
      throw e;
    }
    yield lists;
  }
}

/** Disposes every tensor of a batch (tensors, lists or objects of them; each once). */
function disposeBatch(b: unknown): void {
  if (b === null || typeof b !== 'object') return;
  const all = new Set<Tensor>();
  for (const v of [(b as { xs?: unknown }).xs, (b as { ys?: unknown }).ys]) {
    const ts =
      v instanceof Tensor ? [v] : Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [];
    for (const t of ts) if (t instanceof Tensor) all.add(t);
  }
  for (const t of all) t.dispose();
}

/** The model's outputs for a batch's inputs. */
function forward(model: Model, xs: Tensor[], training: boolean): Tensor[] {
  return model.applyOutputs(xs.length === 1 ? xs[0] : xs, { training });
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
  if (!model.optimizer || model.outputSpecs.length === 0)
    throw new ArgumentError(`${who}: call model.compile({ optimizer, loss }) first`);
}

/** One optimisation step; returns the loss and metric values of the batch. */
async function trainStep(model: Model, b: Lists): Promise<Record<string, number>> {
  const vars = model.trainableWeights;
  let names: string[] = [];
  let values: Tensor[] = [];
  const { value, grads } = variableGrads(() => {
    const { loss, logs } = lossAndLogs(model.outputSpecs, b.ys, forward(model, b.xs, true));
    names = logs.map(([k]) => k);
    values = logs.map(([, t]) => keep(t));
    return loss;
  }, vars);
  model.optimizer!.applyGradients(grads);
  for (const g of grads.values()) g.dispose();
  return readLogs([value, ...values], names);
}

/** Reads the loss and the named values back, then frees them (also when the readback throws). */
async function readLogs(ts: Tensor[], names: string[]): Promise<Record<string, number>> {
  let vals: DataArray[];
  try {
    vals = await Promise.all(ts.map((t) => t.data()));
  } finally {
    for (const t of ts) t.dispose();
  }
  const logs: Record<string, number> = { loss: vals[0][0] };
  names.forEach((k, i) => {
    logs[k] = vals[i + 1][0];
  });
  return logs;
}

async function evaluateBatches(model: Model, source: AsyncIterable<Lists>): Promise<Record<string, number>> {
  const avg = new Averager();
  for await (const b of source) {
    let logs: Record<string, number>;
    try {
      let names: string[] = [];
      const ts = tidy(() => {
        const { loss, logs: named } = lossAndLogs(model.outputSpecs, b.ys, forward(model, b.xs, false));
        names = named.map(([k]) => k);
        return [loss, ...named.map(([, t]) => t)];
      });
      logs = await readLogs(ts, names);
    } finally {
      disposeBatch(b);
    }
    avg.add(logs, b.xs[0].shape[0]);
  }
  return avg.result();
}

export async function fit(
  model: Model,
  x: Tensors | BatchSource,
  y: Tensors | FitArgs | undefined,
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

  let train: Lists | undefined;
  let valData: Lists | BatchSource | undefined;
  const owned: Tensor[] = [];
  if (!fromDataset) {
    if (y === undefined) throw new ArgumentError(`${who}: y is required when x is not a dataset`);
    train = checkData(model, x, y, who);
    const split = args.validationSplit ?? 0;
    if (typeof split !== 'number' || split < 0 || split >= 1) {
      throw new ArgumentError(`${who}: validationSplit must be in [0, 1), got ${JSON.stringify(split)}`);
    }
    if (split > 0) {
      const n = train.xs[0].shape[0];
      const nTrain = Math.floor(n * (1 - split));
      if (nTrain < 1 || nTrain >= n)
        throw new ArgumentError(
          `${who}: validationSplit ${split} leaves no training or validation samples out of ${n}`,
        );
      const cut = (s: number, len: number) => (t: Tensor) =>
        slice(t, [s, ...t.shape.slice(1).map(() => 0)], [len, ...t.shape.slice(1)]);
      const all = train;
      train = { xs: all.xs.map(cut(0, nTrain)), ys: all.ys.map(cut(0, nTrain)) };
      valData = { xs: all.xs.map(cut(nTrain, n - nTrain)), ys: all.ys.map(cut(nTrain, n - nTrain)) };
      owned.push(...train.xs, ...train.ys, ...valData.xs, ...valData.ys);
    }
  } else if (args.validationSplit) {
    throw new ArgumentError(
      `${who}: validationSplit is only supported for tensor inputs; split the dataset (imageDatasetFromDirectory subset) instead`,
    );
  }
  if (args.validationData !== undefined && valData === undefined) {
    const v = args.validationData;
    if (isBatchSource(v)) valData = v;
    else if (Array.isArray(v) && v.length === 2)
      valData = checkData(model, v[0], v[1], `${who}: validationData`);
    else
      throw new ArgumentError(
        `${who}: validationData must be [x, y] or a dataset of { xs, ys } batches, got ${v === null ? 'null' : typeof v}`,
      );
  }

  const history = new History();
  const nTrain = train?.xs[0].shape[0];
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
        train && shuffle
          ? permutation(
              train.xs[0].shape[0],
              args.seed !== undefined ? (args.seed + epoch * 7919) >>> 0 : nextSeedValue(),
            )
          : undefined;
      const source = train
        ? tensorBatches(train, batchSize, order)
        : listBatches(model, x as BatchSource, who);
      for await (const b of source) {
        let logs: Record<string, number>;
        try {
          logs = await trainStep(model, b);
        } finally {
          disposeBatch(b);
        }
        avg.add(logs, b.xs[0].shape[0]);
        step++;
        bar?.update(step, avg.result());
        for (const c of callbacks) await c.onBatchEnd?.(step - 1, logs);
      }
      const epochLogs = avg.result();
      if (valData) {
        const src = isBatchSource(valData)
          ? listBatches(model, valData, `${who}: validationData`)
          : tensorBatches(valData, batchSize);
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
  x: Tensors | BatchSource,
  y?: Tensors | EvaluateArgs,
  argsIn?: EvaluateArgs,
): Promise<Record<string, number>> {
  requireCompiled(model, 'evaluate');
  const fromDataset = isBatchSource(x);
  const args = (fromDataset ? (y as EvaluateArgs | undefined) : argsIn) ?? {};
  checkOptions(args, EVALUATE_KEYS, 'evaluate');
  const batchSize = checkPositiveInt(args.batchSize ?? 32, 'batchSize', 'evaluate');
  let src: AsyncIterable<Lists>;
  if (fromDataset) src = listBatches(model, x, 'evaluate');
  else {
    if (y === undefined) throw new ArgumentError('evaluate: y is required when x is not a dataset');
    src = tensorBatches(checkData(model, x, y, 'evaluate'), batchSize);
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

/**
 * Runs the model in inference mode over `x` in batches and concatenates the outputs: one tensor,
 * or a list (one per output) for a model with several outputs.
 */
export async function predict(
  model: Model,
  x: Tensors | AsyncIterable<Batch | MultiBatch | Tensor | Tensor[]>,
  args: PredictArgs = {},
): Promise<Tensor | Tensor[]> {
  checkOptions(args, PREDICT_KEYS, 'predict');
  const batchSize = checkPositiveInt(args.batchSize ?? 32, 'batchSize', 'predict');
  const outs: Tensor[][] = [];
  try {
    if (x instanceof Tensor || Array.isArray(x) || !isBatchSource(x)) {
      if (x instanceof Tensor) {
        x.assertAlive('predict: x');
        if (x.rank === 0) throw new ShapeError('predict: x must have a batch dimension, got a scalar');
      } else if (x === null || typeof x !== 'object')
        throw new ArgumentError(
          `predict: x must be a Tensor or an async iterable of tensors or batches (a list or an object of tensors for several inputs), got ${x === null ? 'null' : typeof x}`,
        );
      const data = checkData(model, x, undefined, 'predict');
      for await (const b of tensorBatches(data, batchSize)) {
        outs.push(tidy(() => forward(model, b.xs, false)));
        disposeBatch(b);
      }
    } else {
      for await (const item of x as AsyncIterable<Batch | MultiBatch | Tensor | Tensor[]>) {
        try {
          const given = item instanceof Tensor || Array.isArray(item) ? item : item.xs;
          const xs = tensorList(given, model.inputNames, 'x', 'predict');
          outs.push(tidy(() => forward(model, xs, false)));
        } finally {
          if (item instanceof Tensor) item.dispose();
          else if (Array.isArray(item)) for (const t of item) t.dispose();
          else disposeBatch(item);
        }
      }
    }
    const k = model.outputNames.length;
    const joined = Array.from({ length: k }, (_, i) =>
      outs.length === 1
        ? outs[0][i]
        : concat(
            outs.map((o) => o[i]),
            0,
          ),
    );
    if (outs.length === 1) outs.length = 0;
    return k === 1 ? joined[0] : joined;
  } finally {
    for (const t of outs.flat()) t.dispose();
  }
}
