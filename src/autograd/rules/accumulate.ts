import { add } from '../../kernels/binary.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Sum of two gradients of the same shape (the tape accumulates with it). */
export function addN(a: Tensor, b: Tensor): Tensor {
  return add(a, b);
}
