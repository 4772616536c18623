import { ArgumentError } from '../tensor/errors.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkData, forward, requireCompiled, tensorBatches } from './batches.js';
import { evaluateBatches } from './inference.js';
import type { Model } from './model.js';
import type { Tensors } from './multi-io.js';
import { trainStep } from './training.js';

/**
 * Keras `train_on_batch`, `test_on_batch`, `predict_on_batch`: one step on one batch of tensors,
 * without batching, shuffling or callbacks. The caller's tensors are not disposed.
 */

/** The loss alone when there is nothing else to log, else [loss, ...the other logs in order] (Keras, TF.js). */
function checkY(y: unknown, who: string): void {
  if (y === undefined || y === null)
    throw new ArgumentError(`${who}: y (the targets) is required, got ${String(y)}`);
}

function scalarOrList(logs: Record<string, number>): number | number[] {
  const values = Object.values(logs);
  return values.length === 1 ? values[0] : values;
}

/** One optimizer step on (x, y); resolves to the loss, or [loss, ...metrics]. */
export async function trainOnBatch(model: Model, x: Tensors, y: Tensors): Promise<number | number[]> {
  requireCompiled(model, 'trainOnBatch');
  checkY(y, 'trainOnBatch');
  const data = checkData(model, x, y, 'trainOnBatch');
  model.resetMetrics(); // Keras reset_metrics=True: the values of this batch only
  return scalarOrList(await trainStep(model, data));
}

/** The loss (and metrics) of (x, y) in inference mode: the loss, or [loss, ...metrics]. */
export async function testOnBatch(model: Model, x: Tensors, y: Tensors): Promise<number | number[]> {
  requireCompiled(model, 'testOnBatch');
  checkY(y, 'testOnBatch');
  const data = checkData(model, x, y, 'testOnBatch');
  // One batch holding every sample (sliced views the evaluation frees; the caller's stay).
  return scalarOrList(await evaluateBatches(model, tensorBatches(data, data.xs[0].shape[0])));
}

/** The model's outputs for `x` in inference mode: one tensor, or a list for several outputs. */
export function predictOnBatch(model: Model, x: Tensors): Tensor | Tensor[] {
  const data = checkData(model, x, undefined, 'predictOnBatch');
  const outs = tidy(() => forward(model, data.xs, false));
  return outs.length === 1 ? outs[0] : outs;
}
