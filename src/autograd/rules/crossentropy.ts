import { sparseSoftmaxCrossEntropyGrad } from '../../kernels/crossentropy.js';
import type { GradTable } from '../registry.js';

// Fused softmax cross-entropy: d loss / d logits = softmax(logits) - onehot(labels), times dy.
export const crossEntropyGrads = {
  sparseSoftmaxCrossEntropy: (dy, r) => {
    const [labels, logits] = r.inputs;
    return [null, sparseSoftmaxCrossEntropyGrad(labels, logits, dy)];
  },
  sparseSoftmaxCrossEntropyGrad: 'nondiff',
} satisfies Partial<GradTable>;
