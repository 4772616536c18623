import { div, equal, mul, squaredDifference } from '../kernels/binary.js';
import { cast } from '../kernels/cast.js';
import { sparseSoftmaxCrossEntropy } from '../kernels/crossentropy.js';
import { argMax, mean, sum } from '../kernels/reduce.js';
import { reshape } from '../kernels/reshape.js';
import { clipByValue } from '../kernels/select.js';
import { logSoftmax } from '../kernels/softmax.js';
import { log, neg } from '../kernels/unary.js';
import { ArgumentError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { softmaxLogits } from './activations.js';

/** Losses and metrics with Keras names and semantics: each returns a scalar averaged over the batch. */

export type LossFn = (yTrue: Tensor, yPred: Tensor) => Tensor;
/** The built-in losses, by name (Keras' snake_case names are accepted too). */
export type LossName = 'sparseCategoricalCrossentropy' | 'categoricalCrossentropy' | 'meanSquaredError';

// Keras clips probabilities to [eps, 1 - eps] before the log.
const EPS = 1e-7;

/** yTrue and yPred must be live tensors. */
function checkPair(yTrue: unknown, yPred: unknown, who: string): void {
  for (const [name, t] of [
    ['yTrue', yTrue],
    ['yPred', yPred],
  ] as const) {
    if (!(t instanceof Tensor))
      throw new DTypeError(`${who}: ${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
    t.assertAlive(`${who}: ${name}`);
  }
}

function checkLossOpts(opts: unknown, who: string): void {
  if (opts === null || typeof opts !== 'object')
    throw new ArgumentError(`${who}: options must be an object, got ${JSON.stringify(opts)}`);
  const f = (opts as { fromLogits?: unknown }).fromLogits;
  if (f !== undefined && typeof f !== 'boolean')
    throw new ArgumentError(`${who}: fromLogits must be a boolean, got ${JSON.stringify(f)}`);
}

function sparseLabels(yTrue: Tensor, yPred: Tensor, who: string): Tensor {
  checkPair(yTrue, yPred, who);
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

/** The loss for integer labels `[batch]` against probabilities (or logits with `fromLogits`) `[batch, classes]`; labels outside [0, classes) throw at the next readback. */
export function sparseCategoricalCrossentropy(opts: { fromLogits?: boolean } = {}): LossFn {
  checkLossOpts(opts, 'sparseCategoricalCrossentropy');
  const fn: LossFn = (yTrue, yPred) => {
    const labels = sparseLabels(yTrue, yPred, 'sparseCategoricalCrossentropy');
    const logits = opts.fromLogits ? yPred : logitsFor(yPred);
    return mean(sparseSoftmaxCrossEntropy(labels, logits));
  };
  return named(fn, 'sparse_categorical_crossentropy');
}

/** The loss for one-hot labels `[batch, classes]` against probabilities (or logits with `fromLogits`). */
export function categoricalCrossentropy(opts: { fromLogits?: boolean } = {}): LossFn {
  checkLossOpts(opts, 'categoricalCrossentropy');
  const fn: LossFn = (yTrue, yPred) => {
    checkPair(yTrue, yPred, 'categoricalCrossentropy');
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

/** The mean of the squared differences. */
export function meanSquaredError(): LossFn {
  return named((yTrue, yPred) => {
    checkPair(yTrue, yPred, 'meanSquaredError');
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

/** The loss function for a name, or `l` itself when it is a function. */
export function getLoss(l: LossName | string | LossFn, who = 'getLoss'): LossFn {
  if (typeof l === 'function') return l;
  const f = typeof l === 'string' && Object.hasOwn(LOSSES, l) ? LOSSES[l] : undefined;
  if (!f)
    throw new ArgumentError(
      `${who}: unknown loss ${JSON.stringify(l)}; use one of ${Object.keys(LOSSES).join(', ')}`,
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

/** The fraction of rows whose predicted class (argMax) is the one-hot label's. */
export function categoricalAccuracy(yTrue: Tensor, yPred: Tensor): Tensor {
  checkPair(yTrue, yPred, 'categoricalAccuracy');
  if (yPred.rank !== 2 || yTrue.rank !== 2 || yTrue.shape[0] !== yPred.shape[0]) {
    throw new ShapeError(
      `categoricalAccuracy: yTrue (one-hot) and yPred must both be [batch, classes], got ${fmtShape(yTrue.shape)} and ${fmtShape(yPred.shape)}`,
    );
  }
  return mean(cast(equal(argMax(yPred, -1), argMax(yTrue, -1)), 'float32'));
}

/** A metric: a scalar tensor from the targets and the predictions of a batch. */
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
