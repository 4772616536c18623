import { expect } from 'vitest';
import {
  BatchNormalization,
  type Model,
  setWeightStationary,
  type Tensor,
  tensor,
  tidy,
} from '../src/index.js';
import { expectClose, randArray, rng } from './helpers.js';
import { dispatchedKernels } from './kernel-helpers.js';

/**
 * Gives every BatchNormalization of `m` non-trivial moving statistics, gamma and beta (beta in
 * [-0.3, betaMax)), seeded by its channel count, so that folding them into the convs is really
 * tested. Returns the batch-norm layers.
 */
export function randomizeBatchNorms(m: Model, betaMax: number): BatchNormalization[] {
  const bns = m.layers.filter((l): l is BatchNormalization => l instanceof BatchNormalization);
  for (const l of bns) {
    const c = l.movingMean!.size;
    l.movingMean!.assign(tensor(randArray(c, rng(c), -0.5, 0.5)));
    l.movingVariance!.assign(tensor(randArray(c, rng(c + 1), 0.2, 2)));
    l.gamma?.assign(tensor(randArray(c, rng(c + 2), 0.5, 1.5)));
    l.beta?.assign(tensor(randArray(c, rng(c + 3), -0.3, betaMax)));
  }
  return bns;
}

/**
 * Checks that functional model `m` runs `kernel` (one of the fused weight-stationary kernels) in
 * inference on `x` with the switch on, and not the depthwise strip kernel it replaces; that with
 * the switch off it runs the chains with the same result; and that training mode (batch
 * statistics) runs the chains. The batch norms get non-trivial statistics first (so that the folds
 * matter); `m` is disposed.
 */
export async function expectFusedInInference(m: Model, x: Tensor, kernel: string): Promise<void> {
  randomizeBatchNorms(m, 0.3);
  const predict = () => m.apply(x, { training: false }) as Tensor;
  setWeightStationary('on');
  const on = await dispatchedKernels(predict);
  expect(on.kernels).toContain(kernel);
  expect(on.kernels).not.toContain('depthwise_strip');
  setWeightStationary('off');
  const off = await dispatchedKernels(predict);
  expect(off.kernels).not.toContain(kernel);
  expectClose(on.data, off.data, { atol: 2e-5, rtol: 1e-5 });
  setWeightStationary('on');
  const train = await dispatchedKernels(() => tidy(() => m.apply(x, { training: true }) as Tensor));
  expect(train.kernels).not.toContain(kernel);
  m.dispose();
}
