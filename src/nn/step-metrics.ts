import { add, mul } from '../kernels/binary.js';
import { concat } from '../kernels/concat.js';
import { reshape } from '../kernels/reshape.js';
import type { DataArray } from '../tensor/dtype.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { forward, type Lists } from './batches.js';
import { Mean } from './metrics.js';
import type { Model } from './model.js';
import type { OutputSpec } from './multi-io.js';

/**
 * The loss and metrics of the training and evaluation steps: per step, the loss and every metric's
 * statistics are packed into one float32 vector on the GPU and read back once; the running values
 * (Keras' logs at each step) are accumulated on the CPU in float64. The state belongs to the
 * compiled outputs (a new `compile` starts afresh); `fit` resets it each epoch and `evaluate` before
 * it starts, as Keras' `reset_metrics`.
 */

/** What one step computes: the total loss (to differentiate) and the statistics to read back. */
export interface StepTensors {
  /** The weighted total loss (a scalar). */
  loss: Tensor;
  /** Per-output losses (several outputs only), then each metric's statistics, in log order. */
  parts: Tensor[];
}

/**
 * The total loss `sum(lossWeight_i * loss_i(y_i, pred_i, sampleWeight))` and the statistics of the
 * metrics (the sample weights reach the weighted metrics only, as Keras 3's `weighted_metrics`).
 */
export function stepTensors(
  specs: readonly OutputSpec[],
  ys: readonly Tensor[],
  preds: readonly Tensor[],
  sampleWeight?: Tensor,
): StepTensors {
  const parts: Tensor[] = [];
  let total: Tensor | undefined;
  specs.forEach((s, i) => {
    const l = sampleWeight === undefined ? s.loss(ys[i], preds[i]) : s.loss(ys[i], preds[i], sampleWeight);
    if (specs.length > 1) parts.push(l);
    const w = s.weight === 1 ? l : mul(l, s.weight);
    total = total ? add(total, w) : w;
  });
  specs.forEach((s, i) => {
    for (const m of s.metrics)
      parts.push(m.metric.statistics(ys[i], preds[i], m.weighted ? sampleWeight : undefined));
  });
  return { loss: total!, parts };
}

/**
 * One batch through the model (`training` or inference mode): its step tensors, the loss with the
 * model's regularization penalties added (Keras 3's compute_loss adds `model.losses`), the same
 * for `fit`'s steps and `evaluate`'s.
 */
export function batchStep(model: Model, b: Lists, training: boolean): StepTensors {
  const st = stepTensors(model.outputSpecs, b.ys, forward(model, b.xs, training), b.sw);
  const reg = model.regularizationLoss();
  return reg ? { loss: add(st.loss, reg), parts: st.parts } : st;
}

/** The loss trackers and metrics of a compiled model, and how to fold one step's readback into them. */
export class StepMetrics {
  private readonly losses: Mean[];

  /** `specs`: the compiled outputs (their metrics are the state). */
  constructor(private readonly specs: readonly OutputSpec[]) {
    this.losses = [
      new Mean({ name: 'loss' }),
      ...(specs.length > 1 ? specs.map((s) => new Mean({ name: `${s.name}_loss` })) : []),
    ];
  }

  /**
   * Folds a step's read-back vector (from `readStep`, with each part's length in `sizes`) into the state; `batch`: the
   * step's sample count (the weight of its loss, as Keras' loss tracker).
   */
  absorb(values: DataArray, sizes: readonly number[], batch: number): void {
    let k = 0;
    let part = 0;
    for (const l of this.losses) {
      l.add(values[k], batch);
      k += sizes[part++];
    }
    for (const s of this.specs)
      for (const m of s.metrics) {
        const n = sizes[part++];
        m.metric.absorb(Array.prototype.slice.call(values, k, k + n) as number[]);
        k += n;
      }
  }

  /** The running values: `loss`, per-output losses, then the metrics, by log name. */
  logs(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const l of this.losses) out[l.name] = l.result();
    for (const s of this.specs) for (const m of s.metrics) out[m.name] = m.metric.result();
    return out;
  }

  /** Clears every tracker and metric (start of an epoch or of an evaluation). */
  reset(): void {
    for (const l of this.losses) l.resetState();
    for (const s of this.specs) for (const m of s.metrics) m.metric.resetState();
  }
}

const STATE = new WeakMap<readonly OutputSpec[], StepMetrics>();

/** The step metrics of a compiled model's outputs (created on first use; a new `compile` gives new ones). */
export function stepMetricsOf(specs: readonly OutputSpec[]): StepMetrics {
  let s = STATE.get(specs);
  if (!s) {
    s = new StepMetrics(specs);
    STATE.set(specs, s);
  }
  return s;
}

/**
 * Reads a step back in one readback: packs the loss and the parts (then frees them, also on error),
 * reads the vector and folds it into `sm`; `batch` is the step's sample count.
 */
export async function readStep(
  sm: StepMetrics,
  loss: Tensor,
  parts: readonly Tensor[],
  batch: number,
): Promise<void> {
  const all = [loss, ...parts];
  const sizes = all.map((t) => t.size);
  let packed: Tensor;
  try {
    packed = tidy(() => concat(all.map((t) => reshape(t, [t.size]), 0)));
  } finally {
    for (const t of all) t.dispose();
  }
  try {
    sm.absorb(await packed.data(), sizes, batch);
  } finally {
    packed.dispose();
  }
}
