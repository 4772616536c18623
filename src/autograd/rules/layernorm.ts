import { layerNormGrad } from '../../kernels/layernorm.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GradTable } from '../registry.js';

/** Layer normalization (src/kernels/layernorm.ts): one fused backward, statistics recomputed. */
export const layerNormGrads = {
  layerNorm: (dy, r) => {
    const { epsilon, normRank, hasGamma, hasBeta } = r.attrs;
    const [x] = r.inputs;
    const gamma = hasGamma ? r.inputs[1] : undefined;
    const { dx, dgamma, dbeta } = layerNormGrad(dy, x, gamma, normRank, epsilon);
    const out: Array<Tensor | null> = [dx];
    if (hasGamma) out.push(dgamma);
    else dgamma.dispose();
    if (hasBeta) out.push(dbeta);
    else dbeta.dispose();
    return out;
  },
  // Second derivatives of layer normalization are not provided.
  layerNormGrad: 'nondiff',
  layerNormParamGrad: 'nondiff',
} satisfies Partial<GradTable>;
