import { layerNormGrad } from '../../kernels/layernorm.js';
import type { GradTable } from '../registry.js';
import { normGrads } from './util.js';

/** Layer normalization (src/kernels/layernorm.ts): one fused backward, statistics recomputed. */
export const layerNormGrads = {
  layerNorm: (dy, r) => {
    const { epsilon, normRank, hasGamma, hasBeta } = r.attrs;
    const [x] = r.inputs;
    const gamma = hasGamma ? r.inputs[1] : undefined;
    return normGrads(layerNormGrad(dy, x, gamma, normRank, epsilon), hasGamma, hasBeta);
  },
  // Second derivatives of layer normalization are not provided.
  layerNormGrad: 'nondiff',
  layerNormParamGrad: 'nondiff',
} satisfies Partial<GradTable>;
