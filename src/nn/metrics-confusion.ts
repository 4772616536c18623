import { greater, less, mul, notEqual, sub } from '../kernels/binary.js';
import { cast } from '../kernels/cast.js';
import { concat, stack } from '../kernels/concat.js';
import { matmul } from '../kernels/matmul.js';
import { sum } from '../kernels/reduce.js';
import { reshape } from '../kernels/reshape.js';
import { where } from '../kernels/select.js';
import { slice } from '../kernels/slice.js';
import { sigmoid } from '../kernels/unary.js';
import { tensor } from '../tensor/creation.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkLossOpts, checkPair, sampleWeightVector } from './loss-reduce.js';
import { Metric, type MetricArgs, statVector } from './metrics.js';

/**
 * The confusion-matrix metrics (Keras 3 `Precision`, `Recall`, `AUC`): per step, the weighted
 * true and false positives at each threshold and the weighted numbers of positive and negative
 * labels, as one float32 vector [tp(T), fp(T), P, N] from one small matmul; the state sums them in
 * float64 (false negatives = P - tp, true negatives = N - fp).
 */

/** Keras' stand-in for -inf (predictions outside the top k). */
const NEG_INF = -1e10;

/** Confusion counts at T thresholds, accumulated over an epoch. */
abstract class ConfusionMetric extends Metric {
  /** The thresholds (a prediction above one counts as positive there). */
  protected readonly thresholds: Float32Array;
  /** Weighted true positives at each threshold. */
  protected tp: Float64Array;
  /** Weighted false positives at each threshold. */
  protected fp: Float64Array;
  /** Weighted count of positive labels. */
  protected pos = 0;
  /** Weighted count of negative labels. */
  protected negs = 0;

  constructor(
    name: string,
    thresholds: readonly number[],
    private readonly topK: number | undefined,
    private readonly classId: number | undefined,
    private readonly fromLogits = false,
  ) {
    super(name);
    this.thresholds = Float32Array.from(thresholds);
    this.tp = new Float64Array(thresholds.length);
    this.fp = new Float64Array(thresholds.length);
  }

  /** [tp(T), fp(T), P, N] of the batch. */
  statistics(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): Tensor {
    const who = this.constructor.name;
    checkPair(yTrue, yPred, who);
    if (yTrue.size !== yPred.size || yPred.rank === 0)
      throw new ShapeError(
        `${who}: yTrue ${fmtShape(yTrue.shape)} and yPred ${fmtShape(yPred.shape)} must have the same size (batch first)`,
      );
    let p = this.fromLogits ? sigmoid(yPred) : yPred;
    let t = reshape(yTrue.dtype === 'float32' ? yTrue : cast(yTrue, 'float32'), p.shape);
    const b = p.shape[0];
    let w: Tensor | undefined;
    if (sampleWeight !== undefined) {
      const sw = sampleWeightVector(sampleWeight, b, who);
      w = reshape(sw, [b, ...p.shape.slice(1).map(() => 1)]);
    }
    if (this.topK !== undefined) {
      // Keep the k largest of each row (last axis); the rest become NEG_INF (ties are all kept).
      const c = p.shape[p.rank - 1];
      const rows = reshape(p, [-1, 1, c]);
      const better = sum(cast(greater(rows, reshape(p, [-1, c, 1])), 'float32'), -1);
      p = reshape(where(less(better, this.topK), reshape(p, [-1, c]), NEG_INF), p.shape);
    }
    if (this.classId !== undefined) {
      const c = p.shape[p.rank - 1];
      if (p.rank < 2 || this.classId >= c)
        throw new ShapeError(
          `${who}: classId ${this.classId} needs yPred [batch, > ${this.classId}], got ${fmtShape(yPred.shape)}`,
        );
      const col = (x: Tensor) =>
        reshape(
          slice(x, [...x.shape.slice(0, -1).map(() => 0), this.classId!], [...x.shape.slice(0, -1), 1]),
          x.shape.slice(0, -1),
        );
      p = col(p);
      t = col(t);
      if (w) w = reshape(w, w.shape.slice(0, -1));
    }
    const n = p.size;
    const isPos = cast(notEqual(t, 0), 'float32');
    const wPos = reshape(w ? mul(isPos, w) : isPos, [n]);
    const wNeg = reshape(w ? mul(sub(1, isPos), w) : sub(1, isPos), [n]);
    const thr = tensor(this.thresholds, [1, this.thresholds.length]);
    const predPos = cast(greater(reshape(p, [n, 1]), thr), 'float32');
    const counts = reshape(matmul(stack([wPos, wNeg], 0), predPos), [2 * this.thresholds.length]);
    return concat([counts, statVector([sum(wPos), sum(wNeg)])], 0);
  }

  /** Adds the batch's [tp(T), fp(T), P, N]. */
  absorb(stats: ArrayLike<number>): void {
    const k = this.thresholds.length;
    for (let i = 0; i < k; i++) {
      this.tp[i] += stats[i];
      this.fp[i] += stats[k + i];
    }
    this.pos += stats[2 * k];
    this.negs += stats[2 * k + 1];
  }

  /** Clears the counts. */
  resetState(): void {
    this.tp.fill(0);
    this.fp.fill(0);
    this.pos = 0;
    this.negs = 0;
  }
}

/** Options of `Precision` and `Recall`. */
export interface PrecisionArgs extends MetricArgs {
  /** The threshold (default 0.5; with `topK`, none: every top-k prediction counts as positive). */
  thresholds?: number;
  /** Only the k largest predictions of each row count as positive (multi-label, Keras `top_k`). */
  topK?: number;
  /** Only this class (last-axis index) is scored (Keras `class_id`). */
  classId?: number;
}

function confusionArgs(
  args: PrecisionArgs,
  who: string,
): { thresholds: number[]; topK?: number; classId?: number } {
  checkLossOpts(args, ['name', 'thresholds', 'topK', 'classId'], who);
  const { thresholds, topK, classId } = args;
  if (thresholds !== undefined && (typeof thresholds !== 'number' || !(thresholds >= 0 && thresholds <= 1)))
    throw new ArgumentError(
      `${who}: thresholds must be one number in [0, 1] (logs hold one value per metric; use one metric per threshold), got ${JSON.stringify(thresholds)}`,
    );
  for (const [k, v] of [
    ['topK', topK],
    ['classId', classId],
  ] as const)
    if (v !== undefined && (!Number.isInteger(v) || v < (k === 'topK' ? 1 : 0)))
      throw new ArgumentError(
        `${who}: ${k} must be an integer ${k === 'topK' ? '>= 1' : '>= 0'}, got ${JSON.stringify(v)}`,
      );
  return { thresholds: [thresholds ?? (topK !== undefined ? NEG_INF : 0.5)], topK, classId };
}

/** tp / (tp + fp) over the epoch (Keras `Precision`; 0 when nothing was predicted positive). */
export class Precision extends ConfusionMetric {
  /** Options: `thresholds` (default 0.5), `topK`, `classId`, `name` (default 'precision'). */
  constructor(args: PrecisionArgs = {}) {
    const a = confusionArgs(args, 'Precision');
    super(args.name ?? 'precision', a.thresholds, a.topK, a.classId);
  }

  /** The precision at the threshold. */
  result(): number {
    const d = this.tp[0] + this.fp[0];
    return d > 0 ? this.tp[0] / d : 0;
  }
}

/** tp / (tp + fn) over the epoch (Keras `Recall`; 0 when there was no positive label). */
export class Recall extends ConfusionMetric {
  /** Options: `thresholds` (default 0.5), `topK`, `classId`, `name` (default 'recall'). */
  constructor(args: PrecisionArgs = {}) {
    const a = confusionArgs(args, 'Recall');
    super(args.name ?? 'recall', a.thresholds, a.topK, a.classId);
  }

  /** The recall at the threshold. */
  result(): number {
    return this.pos > 0 ? this.tp[0] / this.pos : 0;
  }
}

/** Options of `AUC`. */
export interface AUCArgs extends MetricArgs {
  /** Thresholds of the discretized curve (default 200, > 1), evenly spaced over [0, 1]. */
  numThresholds?: number;
  /** 'ROC' (default) or 'PR' (precision-recall). */
  curve?: 'ROC' | 'PR';
  /** 'interpolation' (default; Davis & Goadrich for PR), 'minoring' or 'majoring'. */
  summationMethod?: 'interpolation' | 'minoring' | 'majoring';
  /** yPred holds logits; a sigmoid is applied first (default false). */
  fromLogits?: boolean;
}

/** x / y, 0 where y is 0 (TensorFlow's divide_no_nan). */
const safeDiv = (x: number, y: number): number => (y === 0 ? 0 : x / y);

/**
 * The area under the ROC or precision-recall curve over the epoch, by Keras' Riemann sum over
 * `numThresholds` thresholds (Keras `AUC`, single label).
 */
export class AUC extends ConfusionMetric {
  private readonly curve: 'ROC' | 'PR';
  private readonly summation: 'interpolation' | 'minoring' | 'majoring';

  /** Options: `numThresholds` (200), `curve` ('ROC'), `summationMethod` ('interpolation'), `fromLogits`, `name` ('auc'). */
  constructor(args: AUCArgs = {}) {
    checkLossOpts(args, ['name', 'numThresholds', 'curve', 'summationMethod', 'fromLogits'], 'AUC');
    const n = args.numThresholds ?? 200;
    if (!Number.isInteger(n) || n < 2)
      throw new ArgumentError(
        `AUC: numThresholds must be an integer > 1, got ${JSON.stringify(args.numThresholds)}`,
      );
    const curve = args.curve ?? 'ROC';
    if (curve !== 'ROC' && curve !== 'PR')
      throw new ArgumentError(`AUC: curve must be 'ROC' or 'PR', got ${JSON.stringify(args.curve)}`);
    const sm = args.summationMethod ?? 'interpolation';
    if (sm !== 'interpolation' && sm !== 'minoring' && sm !== 'majoring')
      throw new ArgumentError(
        `AUC: summationMethod must be 'interpolation', 'minoring' or 'majoring', got ${JSON.stringify(args.summationMethod)}`,
      );
    // Keras: [-eps, 1/(n-1), ..., (n-2)/(n-1), 1 + eps], so predictions of 0 and 1 fall inside.
    const thr = [-1e-7, ...Array.from({ length: n - 2 }, (_, i) => (i + 1) / (n - 1)), 1 + 1e-7];
    super(args.name ?? 'auc', thr, undefined, undefined, args.fromLogits ?? false);
    this.curve = curve;
    this.summation = sm;
  }

  /** The area (Keras' formulas, in float64). */
  result(): number {
    const k = this.thresholds.length;
    const tp = this.tp;
    const fp = this.fp;
    const fn = tp.map((v) => this.pos - v);
    const tn = fp.map((v) => this.negs - v);
    if (this.curve === 'PR' && this.summation === 'interpolation') {
      // Davis & Goadrich (2006): precision interpolated between thresholds through the counts.
      let auc = 0;
      for (let i = 0; i < k - 1; i++) {
        const dtp = tp[i] - tp[i + 1];
        const p0 = tp[i] + fp[i];
        const p1 = tp[i + 1] + fp[i + 1];
        const slope = safeDiv(dtp, Math.max(p0 - p1, 0));
        const intercept = tp[i + 1] - slope * p1;
        const ratio = p0 > 0 && p1 > 0 ? safeDiv(p0, Math.max(p1, 0)) : 1;
        auc += safeDiv(slope * (dtp + intercept * Math.log(ratio)), Math.max(tp[i + 1] + fn[i + 1], 0));
      }
      return auc;
    }
    const recall = Array.from(tp, (v, i) => safeDiv(v, v + fn[i]));
    const [x, y] =
      this.curve === 'ROC'
        ? [Array.from(fp, (v, i) => safeDiv(v, v + tn[i])), recall]
        : [recall, Array.from(tp, (v, i) => safeDiv(v, v + fp[i]))];
    let auc = 0;
    for (let i = 0; i < k - 1; i++) {
      const h =
        this.summation === 'interpolation'
          ? (y[i] + y[i + 1]) / 2
          : this.summation === 'minoring'
            ? Math.min(y[i], y[i + 1])
            : Math.max(y[i], y[i + 1]);
      auc += (x[i] - x[i + 1]) * h;
    }
    return auc;
  }
}
