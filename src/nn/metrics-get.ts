import { ArgumentError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  BinaryAccuracy,
  CategoricalAccuracy,
  MeanAbsoluteError,
  MeanMetricWrapper,
  MeanSquaredError,
  Metric,
  type MetricFn,
  SparseCategoricalAccuracy,
  SparseTopKCategoricalAccuracy,
  TopKCategoricalAccuracy,
} from './metrics.js';
import { AUC, Precision, Recall } from './metrics-confusion.js';

/** Metric names for `compile` (Keras strings and their camelCase forms) resolved to metric objects. */

/**
 * Keras 3's 'accuracy': binary, sparse categorical or categorical, chosen from the shapes of the
 * first batch (yPred's last axis 1: binary; yTrue one axis short, or with last axis 1 against
 * several classes: sparse; else categorical).
 */
class AutoAccuracy extends Metric {
  private inner?: Metric;

  /** The log name is the string given ('accuracy' or 'acc'). */
  constructor(name: string) {
    super(name);
  }

  private pick(yTrue: Tensor, yPred: Tensor): Metric {
    if (!this.inner) {
      const last = yPred.shape[yPred.rank - 1] ?? 1;
      const sparse =
        last !== 1 &&
        (yTrue.rank === yPred.rank - 1 || (yTrue.rank === yPred.rank && yTrue.shape[yTrue.rank - 1] === 1));
      this.inner =
        last === 1 || yPred.rank < 2
          ? new BinaryAccuracy({ name: this.name })
          : sparse
            ? new SparseCategoricalAccuracy({ name: this.name })
            : new CategoricalAccuracy({ name: this.name });
    }
    return this.inner;
  }

  /** The statistics of the accuracy chosen for these shapes. */
  statistics(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): Tensor {
    return this.pick(yTrue, yPred).statistics(yTrue, yPred, sampleWeight);
  }
  /** Adds the chosen accuracy's statistics. */
  absorb(stats: ArrayLike<number>): void {
    this.inner?.absorb(stats);
  }
  /** The chosen accuracy's value (0 before any batch). */
  result(): number {
    return this.inner?.result() ?? 0;
  }
  /** Clears the state. */
  resetState(): void {
    this.inner?.resetState();
  }
}

const BY_NAME: Record<string, (name: string) => Metric> = {
  accuracy: (n) => new AutoAccuracy(n),
  acc: (n) => new AutoAccuracy(n),
  binary_accuracy: (name) => new BinaryAccuracy({ name }),
  categorical_accuracy: (name) => new CategoricalAccuracy({ name }),
  sparse_categorical_accuracy: (name) => new SparseCategoricalAccuracy({ name }),
  top_k_categorical_accuracy: (name) => new TopKCategoricalAccuracy({ name }),
  sparse_top_k_categorical_accuracy: (name) => new SparseTopKCategoricalAccuracy({ name }),
  precision: (name) => new Precision({ name }),
  recall: (name) => new Recall({ name }),
  auc: (name) => new AUC({ name }),
  mse: (name) => new MeanSquaredError({ name }),
  mean_squared_error: (name) => new MeanSquaredError({ name }),
  mae: (name) => new MeanAbsoluteError({ name }),
  mean_absolute_error: (name) => new MeanAbsoluteError({ name }),
};

/** camelCase -> snake_case ('binaryAccuracy' -> 'binary_accuracy', 'topKCategoricalAccuracy' -> 'top_k_...'). */
function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * A metric for `compile`: a Metric object (used as is: its state is the model's), a function
 * (yTrue, yPred) -> value (a sample-weighted mean, Keras `MeanMetricWrapper`, named after the
 * function) or a Keras name ('accuracy', 'auc', 'precision', 'mse', camelCase too; the log name is
 * the string given, snake_case for a camelCase one).
 */
export function getMetric(m: unknown, who = 'getMetric'): Metric {
  if (m instanceof Metric) return m;
  if (typeof m === 'function') return new MeanMetricWrapper(m as MetricFn, m.name || 'metric');
  if (typeof m === 'string') {
    const key = snake(m);
    if (Object.hasOwn(BY_NAME, key)) return BY_NAME[key](key);
  }
  throw new ArgumentError(
    `${who}: unknown metric ${typeof m === 'string' ? JSON.stringify(m) : typeof m}; use a Metric, a function or one of ${Object.keys(BY_NAME).join(', ')}`,
  );
}
