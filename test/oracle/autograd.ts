/**
 * float64 helpers for the gradient checks: elementwise maps with NumPy broadcasting that keep
 * full double precision (finite differences need it), composed with the family oracles.
 */
import { broadcastShape, sizeOf } from './elementwise.js';

export interface F64 {
  data: Float64Array;
  shape: number[];
}

function stridesFor(out: readonly number[], shape: readonly number[]): number[] {
  const r = out.length;
  const s = new Array<number>(r).fill(0);
  let acc = 1;
  for (let d = r - 1; d >= 0; d--) {
    const v = shape[shape.length - r + d] ?? 1;
    s[d] = v === 1 ? 0 : acc;
    acc *= v;
  }
  return s;
}

/** fn applied elementwise over broadcast inputs, in float64. */
export function map64(
  inputs: Array<{ data: ArrayLike<number>; shape: readonly number[] }>,
  fn: (...v: number[]) => number,
): F64 {
  const shape = broadcastShape(...inputs.map((i) => i.shape));
  const n = sizeOf(shape);
  const strides = inputs.map((i) => stridesFor(shape, i.shape));
  const out = new Float64Array(n);
  const args = new Array<number>(inputs.length);
  for (let f = 0; f < n; f++) {
    for (let k = 0; k < inputs.length; k++) {
      let rem = f;
      let off = 0;
      for (let d = shape.length - 1; d >= 0; d--) {
        off += (rem % shape[d]) * strides[k][d];
        rem = Math.floor(rem / shape[d]);
      }
      args[k] = inputs[k].data[off];
    }
    out[f] = fn(...args);
  }
  return { data: out, shape };
}
