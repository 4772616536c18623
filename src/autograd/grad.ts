import { ArgumentError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Variable } from '../tensor/variable.js';
import { valueAndGradsImpl } from './tape.js';
import './rules/index.js';

/**
 * The functional autodiff API of TensorFlow.js: `grad(f)(x)`, `grads(f)([x1, x2])`,
 * `valueAndGrad(f)(x)`, `valueAndGrads(f)([x1, x2])`, and `variableGrads(f, vars)` for optimizers.
 * f must be synchronous and return a scalar (or pass `dy`, the gradient of the result).
 * Every tensor f creates is disposed when the gradients are ready, except the value returned.
 */

function checkFn(f: unknown, fn: string): void {
  if (typeof f !== 'function') throw new ArgumentError(`${fn}: f must be a function, got ${typeof f}`);
}

/** `grad(f)(x)`: the gradient of the scalar `f(x)` with respect to `x` (or of `f(x)` weighted by `dy`). */
export function grad(f: (x: Tensor) => Tensor): (x: Tensor, dy?: Tensor) => Tensor {
  checkFn(f, 'grad');
  return (x, dy) => {
    const { value, grads } = valueAndGradsImpl(() => f(x), [x], dy, 'grad');
    value.dispose();
    return grads[0];
  };
}

/** `grads(f)([x1, x2])`: the gradients of the scalar `f(x1, x2)` with respect to each input, in order. */
export function grads(f: (...xs: Tensor[]) => Tensor): (xs: Tensor[], dy?: Tensor) => Tensor[] {
  checkFn(f, 'grads');
  return (xs, dy) => {
    if (!Array.isArray(xs)) throw new ArgumentError('grads: xs must be an array of tensors');
    const { value, grads } = valueAndGradsImpl(() => f(...xs), xs, dy, 'grads');
    value.dispose();
    return grads;
  };
}

/** `valueAndGrad(f)(x)`: `f(x)` and its gradient with respect to `x`; the caller disposes both. */
export function valueAndGrad(f: (x: Tensor) => Tensor): (
  x: Tensor,
  dy?: Tensor,
) => {
  /** The value of `f(x)`. */
  value: Tensor;
  /** The gradient with respect to `x`. */
  grad: Tensor;
} {
  checkFn(f, 'valueAndGrad');
  return (x, dy) => {
    const { value, grads } = valueAndGradsImpl(() => f(x), [x], dy, 'valueAndGrad');
    return { value, grad: grads[0] };
  };
}

/** `valueAndGrads(f)([x1, x2])`: `f(x1, x2)` and its gradients with respect to each input. */
export function valueAndGrads(f: (...xs: Tensor[]) => Tensor): (
  xs: Tensor[],
  dy?: Tensor,
) => {
  /** The value of `f(...xs)`. */
  value: Tensor;
  /** The gradients, one per input. */
  grads: Tensor[];
} {
  checkFn(f, 'valueAndGrads');
  return (xs, dy) => {
    if (!Array.isArray(xs)) throw new ArgumentError('valueAndGrads: xs must be an array of tensors');
    return valueAndGradsImpl(() => f(...xs), xs, dy, 'valueAndGrads');
  };
}

/**
 * Gradients of the scalar `f()` with respect to `vars` (required: pass the variables to
 * differentiate, e.g. a model's `trainableWeights`). Returns the value and a `Map` from each
 * variable (the object, not its name) to its gradient; the caller disposes both.
 */
export function variableGrads(
  f: () => Tensor,
  vars: readonly Variable[],
): {
  /** The value of `f()`. */
  value: Tensor;
  /** The gradient of each variable. */
  grads: Map<Variable, Tensor>;
} {
  checkFn(f, 'variableGrads');
  vars.forEach((v, i) => {
    if (!(v instanceof Variable)) throw new ArgumentError(`variableGrads: vars[${i}] must be a Variable`);
  });
  const { value, grads } = valueAndGradsImpl(f, vars, undefined, 'variableGrads');
  return { value, grads: new Map(vars.map((v, i) => [v, grads[i]])) };
}
