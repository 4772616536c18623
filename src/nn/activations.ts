import { softmax } from '../kernels/softmax.js';
import { relu, relu6, sigmoid, tanh } from '../kernels/unary.js';
import { ArgumentError, DTypeError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';

/** Activations by Keras name. */
export type ActivationName = 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'softmax';
export const ACTIVATION_NAMES: readonly ActivationName[] = [
  'linear',
  'relu',
  'relu6',
  'sigmoid',
  'tanh',
  'softmax',
];

export function assertActivationName(a: unknown, where: string): asserts a is ActivationName {
  if (typeof a !== 'string' || !(ACTIVATION_NAMES as readonly string[]).includes(a)) {
    throw new ArgumentError(
      `${where} must be one of ${ACTIVATION_NAMES.join(', ')}, got ${JSON.stringify(a)}`,
    );
  }
}

/**
 * Softmax outputs remember their logits, so that cross-entropy can use the stable fused
 * softmax-cross-entropy path, as Keras does for `Dense(n, activation='softmax')`.
 */
const logitsOf = new WeakMap<Tensor, Tensor>();

export function softmaxLogits(probs: Tensor): Tensor | undefined {
  const l = logitsOf.get(probs);
  return l && !l.isDisposed ? l : undefined;
}

/** Applies the activation `name` to `x` ('linear' returns `x` itself). */
export function applyActivation(name: ActivationName, x: Tensor): Tensor {
  assertActivationName(name, 'applyActivation: name');
  if (!(x instanceof Tensor)) {
    throw new DTypeError(`applyActivation: x must be a Tensor, got ${x === null ? 'null' : typeof x}`);
  }
  x.assertAlive('applyActivation: x');
  switch (name) {
    case 'linear':
      return x;
    case 'relu':
      return relu(x);
    case 'relu6':
      return relu6(x);
    case 'sigmoid':
      return sigmoid(x);
    case 'tanh':
      return tanh(x);
    case 'softmax': {
      const y = softmax(x, -1);
      logitsOf.set(y, x);
      return y;
    }
  }
}
