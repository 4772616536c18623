import { div, equal, mul, squaredDifference } from '../kernels/binary.js';
import { cast } from '../kernels/cast.js';
import { sparseSoftmaxCrossEntropy } from '../kernels/crossentropy.js';
import { argMax, mean, sum } from '../kernels/reduce.js';
import { reshape } from '../kernels/reshape.js';
import { clipByValue } from '../kernels/select.js';
import { logSoftmax } from '../kernels/softmax.js';
import { log, neg } from '../kernels/unary.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { softmaxLogits } from './activations.js';

/** Losses and metrics with Keras names and semantics: each returns a scalar averaged over the batch. */

export type LossFn = (yTrue: Tensor, yPred: Tensor) => Tensor;
export type LossName = 'sparseCategoricalCrossentropy' | 'categoricalCrossentropy' | 'meanSquaredError';

// Keras clips probabilities to [eps, 1 - eps] before the log.
const EPS = 1e-7;

function sparseLabels(yTrue: Tensor, yPred: Tensor, who: string): Tensor {
  const rows = yPred.shape[0];
  const ok =
    (yTrue.rank === 1 && yTrue.shape[0] === rows) ||
    (yTrue.rank === 2 && yTrue.shape[1] === 1 && yTrue.shape[0] === rows);
  if (yPred.rank !== 2 || !ok) {
    throw new ShapeError(
      `${who}: expected yTrue of shape [${rows}] (class indices) and yPred of shape [batch, classes], got yTrue ${fmtShape(yTrue.shape)} and yPred ${fmtShape(yPred.shape)}`,
    );
  }
  const flat = yTrue.rank === 2 ? reshape(yTrue, [rows]) : yTrue;
  return flat.dtype === 'int32' ? flat : cast(flat, 'int32');
}

/** Logits for a probability tensor: the softmax's own input when known, else log(clip(p)). */
function logitsFor(yPred: Tensor): Tensor {
  return softmaxLogits(yPred) ?? log(clipByValue(yPred, EPS, 1 - EPS));
}

export function sparseCategoricalCrossentropy(opts: { fromLogits?: boolean } = {}): LossFn {
  const fn: LossFn = (yTrue, yPred) => {
    const labels = sparseLabels(yTrue, yPred, 'sparseCategoricalCrossentropy');
    const logits = opts.fromLogits ? yPred : logitsFor(yPred);
    return mean(sparseSoftmaxCrossEntropy(labels, logits));
  };
  return named(fn, 'sparse_categorical_crossentropy');
}

export function categoricalCrossentropy(opts: { fromLogits?: boolean } = {}): LossFn {
  const fn: LossFn = (yTrue, yPred) => {
    if (
      yPred.rank !== 2 ||
      yTrue.rank !== 2 ||
      yTrue.shape[0] !== yPred.shape[0] ||
      yTrue.shape[1] !== yPred.shape[1]
    ) {
      throw new ShapeError(
        `categoricalCrossentropy: yTrue (one-hot) and yPred must both be [batch, classes], got ${fmtShape(yTrue.shape)} and ${fmtShape(yPred.shape)}`,
      );
    }
    const known = opts.fromLogits ? yPred : softmaxLogits(yPred);
    const logp = known
      ? logSoftmax(known, -1)
      : log(clipByValue(div(yPred, sum(yPred, -1, true)), EPS, 1 - EPS));
    const t = yTrue.dtype === 'float32' ? yTrue : cast(yTrue, 'float32');
    return mean(neg(sum(mul(t, logp), -1)));
  };
  return named(fn, 'categorical_crossentropy');
}

export function meanSquaredError(): LossFn {
  return named((yTrue, yPred) => {
    if (yTrue.size !== yPred.size) {
      throw new ShapeError(
        `meanSquaredError: yTrue ${fmtShape(yTrue.shape)} and yPred ${fmtShape(yPred.shape)} differ in size`,
      );
    }
    const t = yTrue.dtype === 'float32' ? yTrue : cast(yTrue, 'float32');
    return mean(squaredDifference(reshape(t, yPred.shape), yPred));
  }, 'mean_squared_error');
}

function named(fn: LossFn, name: string): LossFn {
  Object.defineProperty(fn, 'lossName', { value: name });
  return fn;
}

const LOSSES: Record<string, () => LossFn> = {
  sparseCategoricalCrossentropy: () => sparseCategoricalCrossentropy(),
  sparse_categorical_crossentropy: () => sparseCategoricalCrossentropy(),
  categoricalCrossentropy: () => categoricalCrossentropy(),
  categorical_crossentropy: () => categoricalCrossentropy(),
  meanSquaredError: () => meanSquaredError(),
  mean_squared_error: () => meanSquaredError(),
  mse: () => meanSquaredError(),
};

export function getLoss(l: LossName | string | LossFn): LossFn {
  if (typeof l === 'function') return l;
  const f = LOSSES[l as string];
  if (!f)
    throw new ArgumentError(
      `compile: unknown loss ${JSON.stringify(l)}; use one of ${Object.keys(LOSSES).join(', ')}`,
    );
  return f();
}

export function lossKind(l: LossFn): string {
  return (l as { lossName?: string }).lossName ?? 'custom';
}

/** Accuracy: fraction of rows whose argmax matches the label (sparse) or the one-hot argmax. */
export function sparseCategoricalAccuracy(yTrue: Tensor, yPred: Tensor): Tensor {
  const labels = sparseLabels(yTrue, yPred, 'sparseCategoricalAccuracy');
  return mean(cast(equal(argMax(yPred, -1), labels), 'float32'));
}

export function categoricalAccuracy(yTrue: Tensor, yPred: Tensor): Tensor {
  return mean(cast(equal(argMax(yPred, -1), argMax(yTrue, -1)), 'float32'));
}

export type MetricFn = (yTrue: Tensor, yPred: Tensor) => Tensor;

/** Resolves a metric name; 'accuracy'/'acc' picks the variant matching the loss, as Keras does. */
export function getMetric(m: string | MetricFn, loss: LossFn): { name: string; fn: MetricFn } {
  if (typeof m === 'function') return { name: m.name || 'metric', fn: m };
  switch (m) {
    case 'accuracy':
    case 'acc':
      return {
        name: 'accuracy',
        fn: lossKind(loss) === 'categorical_crossentropy' ? categoricalAccuracy : sparseCategoricalAccuracy,
      };
    case 'sparseCategoricalAccuracy':
    case 'sparse_categorical_accuracy':
      return { name: 'sparse_categorical_accuracy', fn: sparseCategoricalAccuracy };
    case 'categoricalAccuracy':
    case 'categorical_accuracy':
      return { name: 'categorical_accuracy', fn: categoricalAccuracy };
    default:
      throw new ArgumentError(`compile: unknown metric ${JSON.stringify(m)}; use 'accuracy' or a function`);
  }
}
