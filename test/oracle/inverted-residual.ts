/**
 * Float64 reference of the fused inverted-residual block (src/kernels/inverted-residual.ts), as
 * its three steps: expand 1x1 + bias -> ReLU6, depthwise 3x3 'same' + bias -> ReLU6, project 1x1 +
 * bias, plus x when `residual`. Arrays are NHWC / the op's weight layouts.
 */
export interface IrRefWeights {
  expandFilter: ArrayLike<number>;
  expandBias: ArrayLike<number>;
  depthwiseFilter: ArrayLike<number>;
  depthwiseBias: ArrayLike<number>;
  projectFilter: ArrayLike<number>;
  projectBias: ArrayLike<number>;
}

const relu6 = (v: number) => Math.min(6, Math.max(0, v));

export function invertedResidualRef(
  x: ArrayLike<number>,
  [n, h, w, ci]: readonly number[],
  e: number,
  co: number,
  wt: IrRefWeights,
  residual: boolean,
): Float64Array {
  const pixels = n * h * w;
  const ex = new Float64Array(pixels * e);
  for (let p = 0; p < pixels; p++)
    for (let j = 0; j < e; j++) {
      let s = wt.expandBias[j];
      for (let c = 0; c < ci; c++) s += x[p * ci + c] * wt.expandFilter[c * e + j];
      ex[p * e + j] = relu6(s);
    }
  const dw = new Float64Array(pixels * e);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let j = 0; j < e; j++) {
          let s = wt.depthwiseBias[j];
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++) {
              const iy = y + ky - 1;
              const ix = xx + kx - 1;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              s += ex[((b * h + iy) * w + ix) * e + j] * wt.depthwiseFilter[(ky * 3 + kx) * e + j];
            }
          dw[((b * h + y) * w + xx) * e + j] = relu6(s);
        }
  const out = new Float64Array(pixels * co);
  for (let p = 0; p < pixels; p++)
    for (let o = 0; o < co; o++) {
      let s = wt.projectBias[o] + (residual ? x[p * ci + o] : 0);
      for (let j = 0; j < e; j++) s += dw[p * e + j] * wt.projectFilter[j * co + o];
      out[p * co + o] = s;
    }
  return out;
}
