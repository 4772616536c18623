import { gelu, hardSigmoid, hardSwish, mish, selu, silu, softsign } from '../kernels/activations-ext.js';
import { softmax } from '../kernels/softmax.js';
import { elu, leakyRelu, relu, relu6, sigmoid, softplus, tanh } from '../kernels/unary.js';
import { ArgumentError, DTypeError } from '../tensor/errors.js';
import type { FusedActivation } from '../tensor/op-table.js';
import { Tensor } from '../tensor/tensor.js';

/** Activations by Keras name. */
export type ActivationName = 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'softmax' | ExtActivationName;
/**
 * The activations of modern models, by TF.js name and Keras alias: `gelu` is exact (erf), `gelu_new`
 * the tanh approximation (TF.js' name; Keras `gelu(approximate=True)`), `swish` is `silu`,
 * `leakyRelu` uses alpha 0.2 (as TF.js; Keras' `leaky_relu` function defaults to 0.2 too).
 */
export type ExtActivationName =
  | 'gelu'
  | 'gelu_new'
  | 'silu'
  | 'swish'
  | 'elu'
  | 'selu'
  | 'leakyRelu'
  | 'leaky_relu'
  | 'softplus'
  | 'softsign'
  | 'hardSigmoid'
  | 'hard_sigmoid'
  | 'hardSwish'
  | 'hard_swish'
  | 'hard_silu'
  | 'mish';
export const ACTIVATION_NAMES: readonly ActivationName[] = [
  'linear',
  'relu',
  'relu6',
  'sigmoid',
  'tanh',
  'softmax',
  'gelu',
  'gelu_new',
  'silu',
  'swish',
  'elu',
  'selu',
  'leakyRelu',
  'leaky_relu',
  'softplus',
  'softsign',
  'hardSigmoid',
  'hard_sigmoid',
  'hardSwish',
  'hard_swish',
  'hard_silu',
  'mish',
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

/**
 * Sigmoid outputs remember their logits too, so that binary cross-entropy can use the stable fused
 * sigmoid-cross-entropy path (`Dense(1, activation='sigmoid')` then 'binary_crossentropy').
 */
const sigmoidLogitsOf = new WeakMap<Tensor, Tensor>();

/** The logits a sigmoid output was computed from, when it was computed by `applyActivation`. */
export function sigmoidLogits(probs: Tensor): Tensor | undefined {
  const l = sigmoidLogitsOf.get(probs);
  return l && !l.isDisposed ? l : undefined;
}

// Sigmoid is not fused into matmul/conv epilogues: its input (the logits) must exist for the
// stable binary cross-entropy above; the extra elementwise pass is small next to the matmul.
const FUSABLE: readonly string[] = ['linear', 'relu', 'relu6', 'tanh'];

/** The part of `name` a matmul or convolution can apply in its epilogue ('linear' when none). */
export function fusedPart(name: ActivationName): FusedActivation {
  return FUSABLE.includes(name) ? (name as FusedActivation) : 'linear';
}

/** Applies what `fusedPart(name)` left out (softmax, gelu...) to the kernel's output `y`. */
export function finishActivation(name: ActivationName, y: Tensor): Tensor {
  return FUSABLE.includes(name) ? y : applyActivation(name, y);
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
    case 'sigmoid': {
      const y = sigmoid(x);
      sigmoidLogitsOf.set(y, x);
      return y;
    }
    case 'tanh':
      return tanh(x);
    case 'gelu':
      return gelu(x);
    case 'gelu_new':
      return gelu(x, true);
    case 'silu':
    case 'swish':
      return silu(x);
    case 'elu':
      return elu(x);
    case 'selu':
      return selu(x);
    case 'leakyRelu':
    case 'leaky_relu':
      return leakyRelu(x, 0.2);
    case 'softplus':
      return softplus(x);
    case 'softsign':
      return softsign(x);
    case 'hardSigmoid':
    case 'hard_sigmoid':
      return hardSigmoid(x);
    case 'hardSwish':
    case 'hard_swish':
    case 'hard_silu':
      return hardSwish(x);
    case 'mish':
      return mish(x);
    case 'softmax': {
      const y = softmax(x, -1);
      logitsOf.set(y, x);
      return y;
    }
  }
}
