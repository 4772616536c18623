import { add, div, mul, sub } from '../kernels/binary.js';
import { cast } from '../kernels/cast.js';
import { sigmoidCrossEntropyWithLogits, sparseSoftmaxCrossEntropy } from '../kernels/crossentropy.js';
import { mean, sum } from '../kernels/reduce.js';
import { reshape } from '../kernels/reshape.js';
import { clipByValue } from '../kernels/select.js';
import { logSoftmax } from '../kernels/softmax.js';
import { log, neg } from '../kernels/unary.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { sigmoidLogits, softmaxLogits } from './activations.js';
import {
  checkCategorical,
  checkLossOpts,
  checkPair,
  EPS,
  type LossFn,
  named,
  reduceLoss,
  sameShapeTargets,
} from './loss-reduce.js';
import {
  categoricalHinge,
  hinge,
  huber,
  kullbackLeiblerDivergence,
  meanAbsoluteError,
  meanSquaredError,
} from './losses-more.js';

/**
 * The cross-entropy losses (Keras 3 names and semantics) and the loss registry `getLoss`. Each loss
 * computes a per-sample loss and reduces it as Keras' 'sum_over_batch_size' (src/nn/loss-reduce.ts).
 */

export { type LossFn, lossKind } from './loss-reduce.js';

/** The built-in losses, by name (Keras' snake_case names are accepted too). */
export type LossName =
  | 'sparseCategoricalCrossentropy'
  | 'categoricalCrossentropy'
  | 'binaryCrossentropy'
  | 'meanSquaredError'
  | 'meanAbsoluteError'
  | 'huber'
  | 'kullbackLeiblerDivergence'
  | 'hinge'
  | 'categoricalHinge';

/** Integer labels `[batch]` (given as `[batch]` or `[batch, 1]`, any dtype) for yPred `[batch, classes]`. */
export function sparseLabels(yTrue: Tensor, yPred: Tensor, who: string): Tensor {
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

/** Options of `sparseCategoricalCrossentropy` (Keras 3 has no label smoothing for it). */
export interface SparseCrossentropyArgs {
  /** yPred holds logits rather than probabilities (default false). */
  fromLogits?: boolean;
}

/**
 * The loss for integer labels `[batch]` against probabilities (or logits with `fromLogits`)
 * `[batch, classes]`; labels outside [0, classes) throw at the next readback. Probabilities that
 * come from a softmax activation use its logits (the fused, stable kernel).
 */
export function sparseCategoricalCrossentropy(opts: SparseCrossentropyArgs = {}): LossFn {
  checkLossOpts(opts, ['fromLogits'], 'sparseCategoricalCrossentropy');
  const fn: LossFn = (yTrue, yPred, sampleWeight) => {
    const labels = sparseLabels(yTrue, yPred, 'sparseCategoricalCrossentropy');
    const logits = opts.fromLogits ? yPred : logitsFor(yPred);
    return reduceLoss(
      sparseSoftmaxCrossEntropy(labels, logits),
      sampleWeight,
      'sparseCategoricalCrossentropy',
    );
  };
  return named(fn, 'sparse_categorical_crossentropy');
}

/** Options of `categoricalCrossentropy` and `binaryCrossentropy`. */
export interface CrossentropyArgs {
  /** yPred holds logits rather than probabilities (default false). */
  fromLogits?: boolean;
  /**
   * Label smoothing in [0, 1] (default 0): one-hot targets become `t * (1 - s) + s / classes`
   * (binary: `t * (1 - s) + s / 2`).
   */
  labelSmoothing?: number;
}

/**
 * The loss for one-hot labels `[batch, classes]` against probabilities (or logits with
 * `fromLogits`), with optional label smoothing. Probabilities from a softmax use its logits.
 */
export function categoricalCrossentropy(opts: CrossentropyArgs = {}): LossFn {
  const who = 'categoricalCrossentropy';
  checkLossOpts(opts, ['fromLogits', 'labelSmoothing'], who);
  const s = opts.labelSmoothing ?? 0;
  const fn: LossFn = (yTrue, yPred, sampleWeight) => {
    checkCategorical(yTrue, yPred, who);
    const known = opts.fromLogits ? yPred : softmaxLogits(yPred);
    const logp = known
      ? logSoftmax(known, -1)
      : log(clipByValue(div(yPred, sum(yPred, -1, true)), EPS, 1 - EPS));
    let t = yTrue.dtype === 'float32' ? yTrue : cast(yTrue, 'float32');
    if (s > 0) t = add(mul(t, 1 - s), s / yPred.shape[1]);
    return reduceLoss(neg(sum(mul(t, logp), -1)), sampleWeight, who);
  };
  return named(fn, 'categorical_crossentropy');
}

/** Options of `binaryCrossentropy`. */
export interface BinaryCrossentropyArgs extends CrossentropyArgs {
  /** The axis the per-sample mean runs over (default -1, the last). */
  axis?: number;
}

/**
 * The loss for 0/1 targets against probabilities (or logits with `fromLogits`) of the same shape:
 * the mean over `axis` of the elementwise cross-entropy, then the batch reduction. Logits (given,
 * or the input of a sigmoid activation) take the fused stable kernel
 * (`sigmoidCrossEntropyWithLogits`); other probabilities are clipped to [1e-7, 1 - 1e-7] as Keras.
 */
export function binaryCrossentropy(opts: BinaryCrossentropyArgs = {}): LossFn {
  const who = 'binaryCrossentropy';
  checkLossOpts(opts, ['fromLogits', 'labelSmoothing', 'axis'], who);
  const s = opts.labelSmoothing ?? 0;
  const axis = opts.axis ?? -1;
  if (!Number.isInteger(axis))
    throw new ArgumentError(`${who}: axis must be an integer, got ${JSON.stringify(opts.axis)}`);
  const fn: LossFn = (yTrue, yPred, sampleWeight) => {
    const t = sameShapeTargets(yTrue, yPred, who);
    if (axis < -yPred.rank || axis >= yPred.rank || (yPred.rank > 1 && (axis === 0 || axis === -yPred.rank)))
      throw new ArgumentError(
        `${who}: axis ${axis} is out of range for yPred ${fmtShape(yPred.shape)} (the batch axis 0 cannot be averaged)`,
      );
    const logits = opts.fromLogits ? yPred : sigmoidLogits(yPred);
    let elem: Tensor;
    if (logits) elem = sigmoidCrossEntropyWithLogits(t, logits, s);
    else {
      const z = s > 0 ? add(mul(t, 1 - s), 0.5 * s) : t;
      const p = clipByValue(yPred, EPS, 1 - EPS);
      // -(z log p + (1 - z) log(1 - p))
      elem = neg(add(mul(z, log(p)), mul(sub(1, z), log(sub(1, p)))));
    }
    const perSample = yPred.rank > 1 ? mean(elem, axis) : elem;
    return reduceLoss(perSample, sampleWeight, who);
  };
  return named(fn, 'binary_crossentropy');
}

const LOSSES: Record<string, () => LossFn> = {
  sparseCategoricalCrossentropy: () => sparseCategoricalCrossentropy(),
  sparse_categorical_crossentropy: () => sparseCategoricalCrossentropy(),
  categoricalCrossentropy: () => categoricalCrossentropy(),
  categorical_crossentropy: () => categoricalCrossentropy(),
  binaryCrossentropy: () => binaryCrossentropy(),
  binary_crossentropy: () => binaryCrossentropy(),
  bce: () => binaryCrossentropy(),
  meanSquaredError: () => meanSquaredError(),
  mean_squared_error: () => meanSquaredError(),
  mse: () => meanSquaredError(),
  MSE: () => meanSquaredError(),
  meanAbsoluteError: () => meanAbsoluteError(),
  mean_absolute_error: () => meanAbsoluteError(),
  mae: () => meanAbsoluteError(),
  MAE: () => meanAbsoluteError(),
  huber: () => huber(),
  kullbackLeiblerDivergence: () => kullbackLeiblerDivergence(),
  kullback_leibler_divergence: () => kullbackLeiblerDivergence(),
  kl_divergence: () => kullbackLeiblerDivergence(),
  kld: () => kullbackLeiblerDivergence(),
  KLD: () => kullbackLeiblerDivergence(),
  hinge: () => hinge(),
  categoricalHinge: () => categoricalHinge(),
  categorical_hinge: () => categoricalHinge(),
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
