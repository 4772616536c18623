import { add, mul } from '../kernels/binary.js';
import { cast } from '../kernels/cast.js';
import { gather, oneHot } from '../kernels/gather.js';
import { argMax, sum } from '../kernels/reduce.js';
import { reshape } from '../kernels/reshape.js';
import { slice } from '../kernels/slice.js';
import { round } from '../kernels/unary.js';
import { tensor } from '../tensor/creation.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { mulberry32 } from '../tensor/mulberry.js';
import { tidy } from '../tensor/scope.js';
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
  /** Optional per-sample weights `[batch]` for the loss and the weighted metrics. */
  sampleWeight?: Tensor;
};

/** A batch of a model with several inputs or outputs: lists, or objects keyed by layer name. */
export type MultiBatch = {
  /** The inputs, batch first: one tensor, a list in model order, or an object keyed by input name. */
  xs: Tensors;
  /** The targets, batch first: one tensor, a list in model order, or an object keyed by output name. */
  ys: Tensors;
  /** Optional per-sample weights `[batch]` (one vector for every output). */
  sampleWeight?: Tensor;
};

/** Anything async-iterable over batches (e.g. `imageDatasetFromDirectory`). The consumer disposes each batch. */
export type BatchSource = AsyncIterable<Batch | MultiBatch>;

/** A batch as one tensor per model input and per output, and optional sample weights (what the steps consume). */
export type Lists = { xs: Tensor[]; ys: Tensor[]; sw?: Tensor };

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

/** Mulberry32-based Fisher-Yates shuffle of 0..n-1. */
export function permutation(n: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
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
    const idx = order ? tensor(order.subarray(s, s + b), [b], 'int32') : undefined;
    const take = (t: Tensor) =>
      idx ? gather(t, idx, 0) : slice(t, [s, ...t.shape.slice(1).map(() => 0)], [b, ...t.shape.slice(1)]);
    const batch: Lists = { xs: data.xs.map(take), ys: data.ys.map(take) };
    if (data.sw) batch.sw = take(data.sw);
    idx?.dispose();
    yield batch;
  }
}

/**
 * x (and y, and the sample weights `[n]`) as one tensor per model input (and output), with the
 * same number of samples.
 */
export function checkData(
  model: Model,
  x: unknown,
  y: unknown,
  who: string,
  what = ['x', 'y', 'sampleWeight'],
  sampleWeight?: unknown,
): Lists {
  const xs = tensorList(x, model.inputNames, what[0], who);
  const ys = y === undefined ? [] : tensorList(y, model.outputNames, what[1], who);
  const n = sampleCount(
    [
      [what[0], xs],
      [what[1], ys],
    ],
    who,
  );
  if (sampleWeight === undefined) return { xs, ys };
  if (!(sampleWeight instanceof Tensor))
    throw new ArgumentError(
      `${who}: ${what[2]} must be a Tensor of shape [${n}], got ${sampleWeight === null ? 'null' : typeof sampleWeight}`,
    );
  sampleWeight.assertAlive(`${who}: ${what[2]}`);
  if (sampleWeight.rank !== 1 || sampleWeight.shape[0] !== n)
    throw new ShapeError(
      `${who}: ${what[2]} must have shape [${n}] (one weight per sample), got ${fmtShape(sampleWeight.shape)}`,
    );
  return { xs, ys, sw: sampleWeight };
}

/** A dataset's batches as lists (the original tensors: disposing the lists disposes the batch). */
export async function* listBatches(model: Model, source: BatchSource, who: string): AsyncGenerator<Lists> {
  for await (const b of source) {
    let lists: Lists;
    try {
      if (b === null || typeof b !== 'object' || !('xs' in b) || !('ys' in b))
        throw new ArgumentError(`${who}: a dataset must yield { xs, ys } batches, got ${String(b)}`);
      lists = checkData(
        model,
        b.xs,
        b.ys,
        who,
        ['batch xs', 'batch ys', 'batch sampleWeight'],
        b.sampleWeight,
      );
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
  const bb = b as { xs?: unknown; ys?: unknown; sw?: unknown; sampleWeight?: unknown };
  for (const v of [bb.xs, bb.ys, bb.sw, bb.sampleWeight]) {
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

export function requireCompiled(model: Model, who: string): void {
  if (!model.optimizer || model.outputSpecs.length === 0)
    throw new ArgumentError(`${who}: call model.compile({ optimizer, loss }) first`);
}

/** Keras' `class_weight`: class index -> weight (classes not listed weigh 1). */
export type ClassWeight = { [classIndex: number]: number };

/** Checks a classWeight object: integer keys >= 0, finite weights >= 0. */
export function checkClassWeight(cw: unknown, who: string): Float32Array {
  if (cw === null || typeof cw !== 'object' || Array.isArray(cw))
    throw new ArgumentError(
      `${who}: classWeight must be an object { classIndex: weight }, got ${JSON.stringify(cw)}`,
    );
  const entries = Object.entries(cw);
  let size = 0;
  for (const [k, w] of entries) {
    if (!/^\d+$/.test(k))
      throw new ArgumentError(
        `${who}: classWeight keys must be class indices (integers >= 0), got ${JSON.stringify(k)}`,
      );
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0)
      throw new ArgumentError(
        `${who}: classWeight[${k}] must be a finite number >= 0, got ${JSON.stringify(w)}`,
      );
    size = Math.max(size, Number(k) + 1);
  }
  const table = new Float32Array(size).fill(1);
  for (const [k, w] of entries) table[Number(k)] = w as number;
  return table;
}

/**
 * Per-sample weights `[batch]` from class weights (Keras' class_weight_to_sample_weights): the class
 * of a sample is its integer label (`[batch]` or `[batch, 1]`, rounded) or the argmax of its one-hot
 * row; classes outside the table weigh 1. Computed on the GPU (no readback).
 */
export function classSampleWeights(table: Float32Array, y: Tensor): Tensor {
  return tidy(() => {
    const n = y.shape[0];
    let labels: Tensor;
    if (y.rank > 1 && y.shape[y.rank - 1] !== 1) labels = argMax(reshape(y, [n, -1]), -1);
    else {
      const flat = reshape(y, [n]);
      labels = flat.dtype === 'int32' ? flat : cast(round(cast(flat, 'float32')), 'int32');
    }
    // oneHot gives a zero row outside [0, size): weight 1 + 0.
    const hot = oneHot(labels, table.length);
    return add(
      sum(
        mul(
          hot,
          tensor(
            table.map((v) => v - 1),
            [1, table.length],
          ),
        ),
        -1,
      ),
      1,
    );
  });
}
