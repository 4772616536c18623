import { sigmoidCrossEntropyGrad, sparseSoftmaxCrossEntropyGrad } from '../../kernels/crossentropy.js';
import type { GradTable } from '../registry.js';

// Fused softmax cross-entropy: d loss / d logits = softmax(logits) - onehot(labels), times dy.
// Fused sigmoid cross-entropy: d loss / d logits = sigmoid(logits) - smoothed labels, times dy.
// Labels get no gradient (Keras treats targets as constants).
export const crossEntropyGrads = {
  sparseSoftmaxCrossEntropy: (dy, r) => {
    const [labels, logits] = r.inputs;
    return [null, sparseSoftmaxCrossEntropyGrad(labels, logits, dy)];
  },
  sparseSoftmaxCrossEntropyGrad: 'nondiff',
  sigmoidCrossEntropy: (dy, r) => {
    const [labels, logits] = r.inputs;
    return [null, sigmoidCrossEntropyGrad(labels, logits, dy, r.attrs.labelSmoothing)];
  },
  sigmoidCrossEntropyGrad: 'nondiff',
} satisfies Partial<GradTable>;
