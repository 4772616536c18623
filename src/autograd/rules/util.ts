import { add } from '../../kernels/binary.js';
import { sum } from '../../kernels/reduce.js';
import { reshape } from '../../kernels/reshape.js';
import { zeros } from '../../tensor/creation.js';
import { shapesEqual } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Sums a broadcast gradient back down to `shape` (the inverse of NumPy broadcasting). */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, shape);
}

/** Reshapes a reduction's gradient to the kept-dims shape and broadcasts it over `shape`. */
export function expandReduced(g: Tensor, shape: readonly number[], axes: readonly number[]): Tensor {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return add(reshape(g, kept), zeros(shape));
}

/** The kept-dims view of a reduction's output (for comparisons with its input). */
export function keptShape(t: Tensor, shape: readonly number[], axes: readonly number[]): Tensor {
  return reshape(
    t,
    shape.map((d, i) => (axes.includes(i) ? 1 : d)),
  );
}

/**
 * The input gradients of a normalization (x, then gamma and beta where the op had them), disposing
 * the parameter gradients the op did not ask for.
 */
export function normGrads(
  g: { dx: Tensor; dgamma: Tensor; dbeta: Tensor },
  hasGamma: boolean,
  hasBeta: boolean,
): Array<Tensor | null> {
  const out: Array<Tensor | null> = [g.dx];
  if (hasGamma) out.push(g.dgamma);
  else g.dgamma.dispose();
  if (hasBeta) out.push(g.dbeta);
  else g.dbeta.dispose();
  return out;
}
