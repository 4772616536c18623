import { add, div, equal, lessEqual, logicalOr, maximum, mul, sub } from '../kernels/binary.js';
import { all, max, mean, sum } from '../kernels/reduce.js';
import { clipByValue, where } from '../kernels/select.js';
import { abs, log, square } from '../kernels/unary.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkLossOpts, EPS, type LossFn, named, reduceLoss, sameShapeTargets } from './loss-reduce.js';

/**
 * The regression and divergence losses of Keras 3 (`mean_squared_error`, `mean_absolute_error`,
 * `huber`, `kl_divergence`, `hinge`, `categorical_hinge`): an elementwise term, its mean (or sum)
 * over the last axis per sample, then the batch reduction with optional sample weights.
 */

/** The per-sample mean over the last axis (a rank-1 input is one value per sample already). */
function lastMean(x: Tensor): Tensor {
  return x.rank > 1 ? mean(x, -1) : x;
}

/** An elementwise loss: `term(yTrue, yPred)` averaged over the last axis, then reduced. */
function elementwiseLoss(who: string, name: string, term: (t: Tensor, p: Tensor) => Tensor): LossFn {
  return named((yTrue, yPred, sampleWeight) => {
    const t = sameShapeTargets(yTrue, yPred, who);
    return reduceLoss(lastMean(term(t, yPred)), sampleWeight, who);
  }, name);
}

/** The mean of the squared differences (Keras `mean_squared_error`, 'mse'). */
export function meanSquaredError(): LossFn {
  return elementwiseLoss('meanSquaredError', 'mean_squared_error', (t, p) => square(sub(p, t)));
}

/** The mean of the absolute differences (Keras `mean_absolute_error`, 'mae'). */
export function meanAbsoluteError(): LossFn {
  return elementwiseLoss('meanAbsoluteError', 'mean_absolute_error', (t, p) => abs(sub(p, t)));
}

/** Options of `huber`. */
export interface HuberArgs {
  /** Where the loss turns from quadratic to linear (default 1, > 0). */
  delta?: number;
}

/** Huber loss: 0.5 e² where |e| <= delta, else delta (|e| - delta / 2), averaged over the last axis. */
export function huber(opts: HuberArgs = {}): LossFn {
  checkLossOpts(opts, ['delta'], 'huber');
  const d = opts.delta ?? 1;
  if (typeof d !== 'number' || !(d > 0) || !Number.isFinite(d))
    throw new ArgumentError(`huber: delta must be a finite number > 0, got ${JSON.stringify(opts.delta)}`);
  return elementwiseLoss('huber', 'huber', (t, p) => {
    const e = abs(sub(p, t));
    return where(lessEqual(e, d), mul(square(e), 0.5), sub(mul(e, d), 0.5 * d * d));
  });
}

/**
 * Kullback-Leibler divergence: sum over the last axis of t log(t / p), both clipped to [1e-7, 1]
 * (Keras `kl_divergence`, 'kld').
 */
export function kullbackLeiblerDivergence(): LossFn {
  const who = 'kullbackLeiblerDivergence';
  return named((yTrue, yPred, sampleWeight) => {
    const t = clipByValue(sameShapeTargets(yTrue, yPred, who), EPS, 1);
    const p = clipByValue(yPred, EPS, 1);
    const term = mul(t, log(div(t, p)));
    return reduceLoss(yPred.rank > 1 ? sum(term, -1) : term, sampleWeight, who);
  }, 'kl_divergence');
}

/** Targets in {0, 1} become {-1, 1} (Keras' hinge convention); others are kept. */
function hingeLabels(t: Tensor): Tensor {
  const binary = all(logicalOr(equal(t, 0), equal(t, 1)));
  return where(binary, sub(mul(t, 2), 1), t);
}

/** Hinge loss: mean over the last axis of max(1 - t p, 0), with 0/1 targets mapped to -1/1. */
export function hinge(): LossFn {
  return elementwiseLoss('hinge', 'hinge', (t, p) => maximum(sub(1, mul(hingeLabels(t), p)), 0));
}

/** Categorical hinge: max(max((1 - t) p) - sum(t p) + 1, 0) per sample, for one-hot `[batch, classes]` targets. */
export function categoricalHinge(): LossFn {
  const who = 'categoricalHinge';
  return named((yTrue, yPred, sampleWeight) => {
    const t = sameShapeTargets(yTrue, yPred, who);
    if (yPred.rank < 2)
      throw new ShapeError(`${who}: yPred must be [batch, classes], got ${fmtShape(yPred.shape)}`);
    const pos = sum(mul(t, yPred), -1);
    const negv = max(mul(sub(1, t), yPred), -1);
    return reduceLoss(maximum(add(sub(negv, pos), 1), 0), sampleWeight, who);
  }, 'categorical_hinge');
}
