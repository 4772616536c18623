import { sparseSoftmaxCrossEntropyGrad } from '../../kernels/crossentropy.js';
import { registerGradient, registerNonDifferentiable } from '../registry.js';

// Fused softmax cross-entropy: d loss / d logits = softmax(logits) - onehot(labels), times dy.
registerGradient('sparseSoftmaxCrossEntropy', (dy, r) => {
  const [labels, logits] = r.inputs;
  return [null, sparseSoftmaxCrossEntropyGrad(labels, logits, dy)];
});
registerNonDifferentiable('sparseSoftmaxCrossEntropyGrad');
