import { ArgumentError } from '../tensor/errors.js';
import type { FusedActivation } from '../tensor/op-table.js';

/** Activations that kernels can fuse into their epilogue (matmul, conv), by Keras name. */
export type Activation = FusedActivation;

export const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'relu6', 'sigmoid', 'tanh'];

export function assertActivation(a: unknown, op: string, arg = 'activation'): asserts a is Activation {
  if (typeof a !== 'string' || !(ACTIVATIONS as readonly string[]).includes(a)) {
    throw new ArgumentError(
      `${op}: ${arg} must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(a)}`,
    );
  }
}

/** WGSL expression applying `act` to the f32 expression `x` (x may be evaluated more than once). */
export function activationWgsl(act: Activation, x: string): string {
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return `max(${x}, 0.0)`;
    case 'relu6':
      return `clamp(${x}, 0.0, 6.0)`;
    case 'sigmoid':
      return `(1.0 / (1.0 + exp(-(${x}))))`;
    case 'tanh':
      // WGSL tanh overflows to NaN for large |x| on some drivers; clamp first.
      return `tanh(clamp(${x}, -15.0, 15.0))`;
  }
}

/** WGSL applying `act` to a vec4f expression. */
export function act4(act: Activation, v: string): string {
  switch (act) {
    case 'relu':
      return `max(${v}, vec4f(0.0))`;
    case 'relu6':
      return `clamp(${v}, vec4f(0.0), vec4f(6.0))`;
    case 'tanh':
      return `tanh(clamp(${v}, vec4f(-15.0), vec4f(15.0)))`;
    default:
      return activationWgsl(act, v);
  }
}
