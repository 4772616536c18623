import { BatchNormalization, type Model, tensor } from '../src/index.js';
import { randArray, rng } from './helpers.js';

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
