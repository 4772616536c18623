import { equal, greater, less, mul, sub } from '../kernels/binary.js';
import { cast } from '../kernels/cast.js';
import { concat } from '../kernels/concat.js';
import { oneHot } from '../kernels/gather.js';
import { argMax, mean, sum } from '../kernels/reduce.js';
import { reshape } from '../kernels/reshape.js';
import { abs, square } from '../kernels/unary.js';
import { fill } from '../tensor/creation.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  checkCategorical,
  checkLossOpts,
  checkPair,
  checkTensor,
  sameShapeTargets,
  sampleWeightVector,
} from './loss-reduce.js';
import { sparseLabels } from './losses.js';

/**
 * Stateful metrics with Keras 3 semantics: each update computes a few sufficient statistics of the
 * batch on the GPU (a short float32 vector); they are read back with the loss in the one readback
 * per step and accumulated on the CPU in float64, so an epoch's value is exact over the epoch (a
 * precision over the epoch, not a mean of per-batch precisions) and no GPU state has to be freed.
 */

/** A metric: a scalar tensor from the targets and the predictions of a batch (or one value per sample). */
export type MetricFn = (yTrue: Tensor, yPred: Tensor) => Tensor;

/** Options every metric class takes. */
export interface MetricArgs {
  /** The name in logs and History (default: the Keras name, e.g. 'binary_accuracy'). */
  name?: string;
}

/** The base of the stateful metrics (Keras `keras.metrics.Metric`). */
export abstract class Metric {
  /** The name in logs and History. */
  readonly name: string;

  /** `name`: the metric's log name. */
  constructor(name: string) {
    if (typeof name !== 'string' || name === '')
      throw new ArgumentError(
        `${this.constructor.name}: name must be a non-empty string, got ${JSON.stringify(name)}`,
      );
    this.name = name;
  }

  /**
   * The batch's sufficient statistics as a float32 vector (computed on the GPU, no readback); `absorb`
   * adds them to the state. `sampleWeight` is `[batch]`.
   */
  abstract statistics(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): Tensor;
  /** Adds statistics (as `statistics` computed them, read back) to the state. */
  abstract absorb(stats: ArrayLike<number>): void;
  /** The value over everything absorbed since the last reset (Keras `result()`). */
  abstract result(): number;
  /** Clears the state (Keras `reset_state()`). */
  abstract resetState(): void;

  /** Adds a batch to the state (Keras `update_state`); one readback. */
  async updateState(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): Promise<void> {
    const s = tidy(() => this.statistics(yTrue, yPred, sampleWeight));
    try {
      this.absorb(await s.data());
    } finally {
      s.dispose();
    }
  }
}

/** A float32 vector of scalars (tensors or numbers). */
export function statVector(parts: Array<Tensor | number>): Tensor {
  return concat(
    parts.map((p) => (typeof p === 'number' ? fill([1], p) : reshape(p, [1]))),
    0,
  );
}

/** x > t as float32, elementwise. */
function above(x: Tensor, t: number): Tensor {
  return cast(greater(x, t), 'float32');
}

/**
 * A weighted mean of per-sample values (Keras `MeanMetricWrapper`): `fn(yTrue, yPred)` gives one
 * value per sample (`[batch, ...]`, averaged over the other axes) or one for the batch (a scalar,
 * which then counts for every sample); the state is sum(v * w) and sum(w) in float64.
 */
export class MeanMetricWrapper extends Metric {
  private total = 0;
  private count = 0;
  /** The per-sample (or per-batch) function. */
  readonly fn: MetricFn;

  /** `fn`: (yTrue, yPred) -> values; `name`: the log name. */
  constructor(fn: MetricFn, name: string) {
    if (typeof fn !== 'function')
      throw new ArgumentError(
        `MeanMetricWrapper: fn must be a function (yTrue, yPred) -> Tensor, got ${typeof fn}`,
      );
    super(name);
    this.fn = fn;
  }

  /** [sum(v * w), sum(w)] of the batch. */
  statistics(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): Tensor {
    checkPair(yTrue, yPred, this.constructor.name);
    const v0 = this.fn(yTrue, yPred);
    checkTensor(v0, `the value of metric '${this.name}'`, this.constructor.name);
    const v1 = v0.dtype === 'float32' ? v0 : cast(v0, 'float32');
    const b = yPred.rank > 0 ? yPred.shape[0] : 1;
    if (v1.rank > 0 && v1.shape[0] !== b)
      throw new ShapeError(
        `${this.constructor.name}: metric '${this.name}' gave values ${fmtShape(v1.shape)}; expected a scalar or one value per sample (${b})`,
      );
    const v = v1.rank > 1 ? mean(reshape(v1, [b, -1]), 1) : v1;
    const w =
      sampleWeight === undefined ? undefined : sampleWeightVector(sampleWeight, b, this.constructor.name);
    if (v.rank === 0) {
      const wsum = w ? sum(w) : b;
      return statVector([mul(v, wsum), wsum]);
    }
    return w ? statVector([sum(mul(v, w)), sum(w)]) : statVector([sum(v), b]);
  }

  /** Adds [sum(v * w), sum(w)]. */
  absorb(stats: ArrayLike<number>): void {
    this.total += stats[0];
    this.count += stats[1];
  }

  /** sum(v * w) / sum(w) (0 before any sample). */
  result(): number {
    return this.count === 0 ? 0 : this.total / this.count;
  }

  /** Clears the sums. */
  resetState(): void {
    this.total = 0;
    this.count = 0;
  }
}

/** Options of `Mean`. */
export type MeanArgs = MetricArgs;

/**
 * The weighted mean of values (Keras `Mean`): `updateState(values, sampleWeight?)`; the loss is
 * tracked with one, weighted by the batch size (as Keras' loss tracker).
 */
export class Mean {
  /** The name in logs. */
  readonly name: string;
  private total = 0;
  private count = 0;

  /** Options: `name` (default 'mean'). */
  constructor(args: MeanArgs = {}) {
    checkLossOpts(args, ['name'], 'Mean');
    const name = args.name ?? 'mean';
    if (typeof name !== 'string' || name === '')
      throw new ArgumentError(`Mean: name must be a non-empty string, got ${JSON.stringify(name)}`);
    this.name = name;
  }

  /** Adds a value already read back, with its weight. */
  add(value: number, weight = 1): void {
    if (typeof value !== 'number' || typeof weight !== 'number')
      throw new ArgumentError(
        `Mean.add: value and weight must be numbers, got ${typeof value} and ${typeof weight}`,
      );
    this.total += value * weight;
    this.count += weight;
  }

  /** Adds every element of `values` (weighted by `sampleWeight`, broadcast over the trailing axes). */
  async updateState(values: Tensor, sampleWeight?: Tensor): Promise<void> {
    checkTensor(values, 'values', 'Mean.updateState');
    const s = tidy(() => {
      const v = values.dtype === 'float32' ? values : cast(values, 'float32');
      if (sampleWeight === undefined) return statVector([sum(v), v.size]);
      if (v.rank === 0) throw new ShapeError('Mean.updateState: a scalar value takes no sampleWeight');
      const w = sampleWeightVector(sampleWeight, v.shape[0], 'Mean.updateState');
      const bw = reshape(w, [v.shape[0], ...v.shape.slice(1).map(() => 1)]);
      return statVector([sum(mul(v, bw)), mul(sum(w), v.size / v.shape[0])]);
    });
    try {
      const d = await s.data();
      this.total += d[0];
      this.count += d[1];
    } finally {
      s.dispose();
    }
  }

  /** The weighted mean (0 before any value). */
  result(): number {
    return this.count === 0 ? 0 : this.total / this.count;
  }

  /** Clears the state. */
  resetState(): void {
    this.total = 0;
    this.count = 0;
  }
}

// Per-sample values (Keras 3 functions, before the mean over the batch).

function binaryAccuracyValues(yTrue: Tensor, yPred: Tensor, threshold: number): Tensor {
  const t = sameShapeTargets(yTrue, yPred, 'BinaryAccuracy');
  const hit = cast(equal(above(yPred, threshold), t), 'float32');
  return hit.rank > 1 ? mean(hit, -1) : hit;
}

/** Accuracy of integer labels: the fraction of rows whose argmax is the label (a batch mean). */
export function sparseCategoricalAccuracy(yTrue: Tensor, yPred: Tensor): Tensor {
  const labels = sparseLabels(yTrue, yPred, 'sparseCategoricalAccuracy');
  return mean(cast(equal(argMax(yPred, -1), labels), 'float32'));
}

/** The fraction of rows whose predicted class (argMax) is the one-hot label's (a batch mean). */
export function categoricalAccuracy(yTrue: Tensor, yPred: Tensor): Tensor {
  checkCategorical(yTrue, yPred, 'categoricalAccuracy');
  return mean(cast(equal(argMax(yPred, -1), argMax(yTrue, -1)), 'float32'));
}

/** 1 where the label's prediction is among the k largest of its row (ties count as in), per sample. */
function inTopK(labels: Tensor, yPred: Tensor, k: number): Tensor {
  const target = sum(mul(oneHot(labels, yPred.shape[1]), yPred), -1, true);
  const better = sum(cast(greater(yPred, target), 'float32'), -1);
  return cast(less(better, k), 'float32');
}

function checkK(k: unknown, who: string): number {
  if (!Number.isInteger(k) || (k as number) < 1)
    throw new ArgumentError(`${who}: k must be a positive integer, got ${JSON.stringify(k)}`);
  return k as number;
}

/** Options of `BinaryAccuracy`. */
export interface BinaryAccuracyArgs extends MetricArgs {
  /** A prediction above it counts as 1 (default 0.5). */
  threshold?: number;
}

/** The fraction of predictions that match 0/1 targets after thresholding (Keras `BinaryAccuracy`). */
export class BinaryAccuracy extends MeanMetricWrapper {
  /** Options: `threshold` (default 0.5), `name`. */
  constructor(args: BinaryAccuracyArgs = {}) {
    checkLossOpts(args, ['name', 'threshold'], 'BinaryAccuracy');
    const th = args.threshold ?? 0.5;
    if (typeof th !== 'number' || !Number.isFinite(th))
      throw new ArgumentError(
        `BinaryAccuracy: threshold must be a finite number, got ${JSON.stringify(args.threshold)}`,
      );
    super((t, p) => binaryAccuracyValues(t, p, th), args.name ?? 'binary_accuracy');
  }
}

/** The fraction of rows whose argmax is the one-hot label's (Keras `CategoricalAccuracy`). */
export class CategoricalAccuracy extends MeanMetricWrapper {
  /** Options: `name`. */
  constructor(args: MetricArgs = {}) {
    checkLossOpts(args, ['name'], 'CategoricalAccuracy');
    super((t, p) => {
      checkCategorical(t, p, 'CategoricalAccuracy');
      return cast(equal(argMax(p, -1), argMax(t, -1)), 'float32');
    }, args.name ?? 'categorical_accuracy');
  }
}

/** The fraction of rows whose argmax is the integer label (Keras `SparseCategoricalAccuracy`). */
export class SparseCategoricalAccuracy extends MeanMetricWrapper {
  /** Options: `name`. */
  constructor(args: MetricArgs = {}) {
    checkLossOpts(args, ['name'], 'SparseCategoricalAccuracy');
    super(
      (t, p) => cast(equal(argMax(p, -1), sparseLabels(t, p, 'SparseCategoricalAccuracy')), 'float32'),
      args.name ?? 'sparse_categorical_accuracy',
    );
  }
}

/** Options of the top-k accuracies. */
export interface TopKArgs extends MetricArgs {
  /** How many of the largest predictions count (default 5). */
  k?: number;
}

/** The fraction of rows whose one-hot label is among the k largest predictions (Keras `TopKCategoricalAccuracy`). */
export class TopKCategoricalAccuracy extends MeanMetricWrapper {
  /** Options: `k` (default 5), `name`. */
  constructor(args: TopKArgs = {}) {
    checkLossOpts(args, ['name', 'k'], 'TopKCategoricalAccuracy');
    const k = checkK(args.k ?? 5, 'TopKCategoricalAccuracy');
    super((t, p) => {
      checkCategorical(t, p, 'TopKCategoricalAccuracy');
      return inTopK(argMax(t, -1), p, k);
    }, args.name ?? 'top_k_categorical_accuracy');
  }
}

/** The fraction of rows whose integer label is among the k largest predictions (Keras `SparseTopKCategoricalAccuracy`). */
export class SparseTopKCategoricalAccuracy extends MeanMetricWrapper {
  /** Options: `k` (default 5), `name`. */
  constructor(args: TopKArgs = {}) {
    checkLossOpts(args, ['name', 'k'], 'SparseTopKCategoricalAccuracy');
    const k = checkK(args.k ?? 5, 'SparseTopKCategoricalAccuracy');
    super(
      (t, p) => inTopK(sparseLabels(t, p, 'SparseTopKCategoricalAccuracy'), p, k),
      args.name ?? 'sparse_top_k_categorical_accuracy',
    );
  }
}

/** The mean of the squared differences over the epoch (Keras `MeanSquaredError` metric). */
export class MeanSquaredError extends MeanMetricWrapper {
  /** Options: `name` (default 'mean_squared_error'). */
  constructor(args: MetricArgs = {}) {
    checkLossOpts(args, ['name'], 'MeanSquaredError');
    super((t, p) => {
      const d = square(sub(p, sameShapeTargets(t, p, 'MeanSquaredError')));
      return d.rank > 1 ? mean(d, -1) : d;
    }, args.name ?? 'mean_squared_error');
  }
}

/** The mean of the absolute differences over the epoch (Keras `MeanAbsoluteError` metric). */
export class MeanAbsoluteError extends MeanMetricWrapper {
  /** Options: `name` (default 'mean_absolute_error'). */
  constructor(args: MetricArgs = {}) {
    checkLossOpts(args, ['name'], 'MeanAbsoluteError');
    super((t, p) => {
      const d = abs(sub(p, sameShapeTargets(t, p, 'MeanAbsoluteError')));
      return d.rank > 1 ? mean(d, -1) : d;
    }, args.name ?? 'mean_absolute_error');
  }
}
