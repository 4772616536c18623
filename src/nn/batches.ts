import { gather } from '../kernels/gather.js';
import { slice } from '../kernels/slice.js';
import { tensor } from '../tensor/creation.js';
import type { DataArray } from '../tensor/dtype.js';
import { ArgumentError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import type { Model } from './model.js';
import { sampleCount, type Tensors, tensorList } from './multi-io.js';
import { defaultSink, type LogSink, type Verbose } from './progress.js';

/** The data plumbing shared by fit, evaluate and predict: batches, argument checks, log readback. */

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

/** A batch as one tensor per model input and per output (what the steps consume). */
export type Lists = { xs: Tensor[]; ys: Tensor[] };

export function isBatchSource(x: unknown): x is BatchSource {
  return typeof x === 'object' && x !== null && !(x instanceof Tensor) && Symbol.asyncIterator in x;
}

export function checkVerbose(v: unknown, who: string): Verbose {
  if (v !== 'auto' && v !== 0 && v !== 1 && v !== 2)
    throw new ArgumentError(`${who}: verbose must be 0, 1, 2 or 'auto', got ${JSON.stringify(v)}`);
  return v;
}

export function checkSink(s: LogSink | undefined, who: string): LogSink {
  if (s === undefined) return defaultSink();
  if (s === null || typeof s.write !== 'function')
    throw new ArgumentError(`${who}: logSink must have a write(text) method`);
  return s;
}

export function checkPositiveInt(v: unknown, name: string, who: string): number {
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
export async function* tensorBatches(
  data: Lists,
  batchSize: number,
  order?: Int32Array,
): AsyncGenerator<Lists> {
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
export function checkData(model: Model, x: unknown, y: unknown, who: string, what = ['x', 'y']): Lists {
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
export async function* listBatches(model: Model, source: BatchSource, who: string): AsyncGenerator<Lists> {
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
export function disposeBatch(b: unknown): void {
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
export function forward(model: Model, xs: Tensor[], training: boolean): Tensor[] {
  return model.applyOutputs(xs.length === 1 ? xs[0] : xs, { training });
}

/** Running, sample-weighted means of the step logs. */
export class Averager {
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

export function requireCompiled(model: Model, who: string): void {
  if (!model.optimizer || model.outputSpecs.length === 0)
    throw new ArgumentError(`${who}: call model.compile({ optimizer, loss }) first`);
}

/** Reads the loss and the named values back, then frees them (also when the readback throws). */
export async function readLogs(ts: Tensor[], names: string[]): Promise<Record<string, number>> {
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
