import { div, mul } from '../kernels/binary.js';
import { cast } from '../kernels/cast.js';
import { mean, sum } from '../kernels/reduce.js';
import { reshape } from '../kernels/reshape.js';
import { ArgumentError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * What every loss shares: argument checks and Keras 3's reduction 'sum_over_batch_size' of the
 * per-sample losses, with optional sample weights.
 */

/**
 * A loss: a scalar from the targets, the predictions and optional per-sample weights (`[batch]`),
 * reduced as Keras' 'sum_over_batch_size': sum(loss_i * w_i) / batch size. A custom loss may ignore
 * the third argument (then `fit`'s sample weights do not reach it).
 */
export type LossFn = (yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor) => Tensor;

/** Keras' fuzz factor: probabilities are clipped to [EPS, 1 - EPS] before a log. */
export const EPS = 1e-7;

/** Throws unless `t` is a live Tensor. */
export function checkTensor(t: unknown, name: string, who: string): asserts t is Tensor {
  if (!(t instanceof Tensor))
    throw new DTypeError(`${who}: ${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  t.assertAlive(`${who}: ${name}`);
}

/** yTrue and yPred must be live tensors. */
export function checkPair(yTrue: unknown, yPred: unknown, who: string): asserts yTrue is Tensor {
  checkTensor(yTrue, 'yTrue', who);
  checkTensor(yPred, 'yPred', who);
}

/** One-hot targets and predictions, both `[batch, classes]` of the same shape. */
export function checkCategorical(yTrue: unknown, yPred: unknown, who: string): asserts yTrue is Tensor {
  checkPair(yTrue, yPred, who);
  const p = yPred as Tensor;
  if (p.rank !== 2 || yTrue.rank !== 2 || yTrue.shape[0] !== p.shape[0] || yTrue.shape[1] !== p.shape[1])
    throw new ShapeError(
      `${who}: yTrue (one-hot) and yPred must both be [batch, classes], got ${fmtShape(yTrue.shape)} and ${fmtShape(p.shape)}`,
    );
}

/** yTrue as float32 with yPred's shape (same size required). */
export function sameShapeTargets(yTrue: Tensor, yPred: Tensor, who: string): Tensor {
  checkPair(yTrue, yPred, who);
  if (yTrue.size !== yPred.size || yPred.rank === 0)
    throw new ShapeError(
      `${who}: yTrue ${fmtShape(yTrue.shape)} and yPred ${fmtShape(yPred.shape)} must have the same size (batch first)`,
    );
  const t = yTrue.dtype === 'float32' ? yTrue : cast(yTrue, 'float32');
  return t.rank === yPred.rank && t.shape.every((d, i) => d === yPred.shape[i]) ? t : reshape(t, yPred.shape);
}

/** Checks `opts` is an object with only `keys`, and the boolean/number options it names. */
export function checkLossOpts(opts: unknown, keys: readonly string[], who: string): void {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    throw new ArgumentError(`${who}: options must be an object, got ${JSON.stringify(opts)}`);
  const o = opts as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  if (extra.length)
    throw new ArgumentError(
      `${who}: unknown option(s) ${extra.map((k) => `'${k}'`).join(', ')}; the options are ${keys.join(', ')}`,
    );
  if (o.fromLogits !== undefined && typeof o.fromLogits !== 'boolean')
    throw new ArgumentError(`${who}: fromLogits must be a boolean, got ${JSON.stringify(o.fromLogits)}`);
  const ls = o.labelSmoothing;
  if (ls !== undefined && (typeof ls !== 'number' || !(ls >= 0 && ls <= 1)))
    throw new ArgumentError(`${who}: labelSmoothing must be a number in [0, 1], got ${JSON.stringify(ls)}`);
}

/** A sample weight as float32 `[batch]` (given as `[batch]` or `[batch, 1]`). */
export function sampleWeightVector(w: unknown, batch: number, who: string): Tensor {
  checkTensor(w, 'sampleWeight', who);
  const ok =
    (w.rank === 1 && w.shape[0] === batch) || (w.rank === 2 && w.shape[0] === batch && w.shape[1] === 1);
  if (!ok)
    throw new ShapeError(
      `${who}: sampleWeight must have shape [${batch}] (one weight per sample), got ${fmtShape(w.shape)}`,
    );
  const f = w.dtype === 'float32' ? w : cast(w, 'float32');
  return w.rank === 1 ? f : reshape(f, [batch]);
}

/**
 * Keras' 'sum_over_batch_size': the sum of the per-sample losses (any shape, batch first; each times
 * its sample's weight) over their number of elements.
 */
export function reduceLoss(perSample: Tensor, sampleWeight: Tensor | undefined, who: string): Tensor {
  if (sampleWeight === undefined) return mean(perSample);
  const b = perSample.shape[0];
  const w = sampleWeightVector(sampleWeight, b, who);
  const bw = reshape(w, [b, ...perSample.shape.slice(1).map(() => 1)]);
  return div(sum(mul(perSample, bw)), Math.max(1, perSample.size));
}

/** Attaches Keras' name of a loss (what `lossKind` reports). */
export function named(fn: LossFn, name: string): LossFn {
  Object.defineProperty(fn, 'lossName', { value: name });
  return fn;
}

/** The Keras name of a built-in loss ('binary_crossentropy'), or 'custom'. */
export function lossKind(l: LossFn): string {
  return (l as { lossName?: string }).lossName ?? 'custom';
}
