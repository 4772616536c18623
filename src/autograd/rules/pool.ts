import { mul } from '../../kernels/binary.js';
import { avgPoolGrad, maxPoolGrad } from '../../kernels/pool.js';
import type { PoolAttrs } from '../../tensor/op-table.js';
import type { GradTable } from '../registry.js';
import { expandReduced } from './util.js';

// Pooling: the gradients are their own kernels (pool.ts); the global average spreads dy evenly.

/** The recorded explicit pads back as a mode: zero pads select the same windows as 'valid'. */
function mode(a: PoolAttrs): 'same' | 'valid' {
  return a.padding.flat().every((p) => p === 0) ? 'valid' : 'same';
}

export const poolGrads = {
  maxPool: (dy, r) => {
    const a = r.attrs;
    return [maxPoolGrad(dy, r.inputs[0], a.poolSize, a.strides, mode(a))];
  },

  avgPool: (dy, r) => {
    const a = r.attrs;
    return [avgPoolGrad(dy, r.inputs[0].shape, a.poolSize, a.strides, mode(a))];
  },

  globalAvgPool: (dy, r) => {
    const x = r.inputs[0];
    return [expandReduced(mul(dy, 1 / (x.shape[1] * x.shape[2])), x.shape, [1, 2])];
  },

  maxPoolGrad: 'nondiff',
  avgPoolGrad: 'nondiff',
} satisfies Partial<GradTable>;
