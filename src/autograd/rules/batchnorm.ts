import { batchNormGrad } from '../../kernels/batchnorm.js';
import { add, mul, sub } from '../../kernels/binary.js';
import { sum } from '../../kernels/reduce.js';
import { reluGrad, rsqrt } from '../../kernels/unary.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GradTable } from '../registry.js';
import { normGrads } from './util.js';

// Batch normalisation, in inference mode (fixed statistics) and training mode (batch statistics).

/** Sum over every axis but the channel axis. */
const channelSum = (t: Tensor) =>
  sum(
    t,
    Array.from({ length: t.rank - 1 }, (_, i) => i),
  );

export const batchNormGrads = {
  // Inference mode: y = (x - mean) * scale / sqrt(variance + eps) + offset, with fixed statistics.
  batchNorm: (dy, r, need) => {
    const [x, mean, variance] = r.inputs;
    const { epsilon, hasOffset, hasScale } = r.attrs;
    const scale = hasScale ? r.inputs[hasOffset ? 4 : 3] : undefined;
    const inv = rsqrt(add(variance, epsilon));
    const k = scale ? mul(inv, scale) : inv;
    const out: Array<Tensor | null> = [need[0] ? mul(dy, k) : null, null, null];
    if (hasOffset) out.push(need[3] ? channelSum(dy) : null);
    if (hasScale) out.push(need[out.length] ? channelSum(mul(dy, mul(sub(x, mean), inv))) : null);
    return out;
  },

  // Training mode: the batch statistics depend on x (batchNormGrad handles that).
  batchNormTraining: (dy, r) => {
    const [x] = r.inputs;
    const { epsilon, mean, variance, hasGamma, hasBeta, activation } = r.attrs;
    const gamma = hasGamma ? r.inputs[1] : undefined;
    // A fused relu / relu6: its mask from the output (the same as from the batch norm's output);
    // relu6's is applied inside batchNormGrad's passes.
    if (activation === 'relu6')
      return normGrads(batchNormGrad(dy, x, gamma, mean, variance, epsilon, r.output), hasGamma, hasBeta);
    const dz = activation === 'linear' ? dy : reluGrad(dy, r.output, activation);
    return normGrads(batchNormGrad(dz, x, gamma, mean, variance, epsilon), hasGamma, hasBeta);
  },

  batchNormGrad: 'nondiff',
} satisfies Partial<GradTable>;
