import { dotProductAttentionGrad } from '../../kernels/attention.js';
import type { GradTable } from '../registry.js';

/** Fused attention (src/kernels/attention.ts): the backward recomputes the probabilities. */
export const attentionGrads = {
  dotProductAttention: (dy, r) => {
    const [q, k, v] = r.inputs;
    const { scale, causal, mask, lse } = r.attrs;
    return dotProductAttentionGrad(q, k, v, r.output, dy, lse, { scale, causal, mask });
  },
  // Second derivatives of attention are not provided.
  dotProductAttentionGrad: 'nondiff',
} satisfies Partial<GradTable>;
