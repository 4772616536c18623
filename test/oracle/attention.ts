/**
 * Float64 reference of scaled dot-product attention in the [batch, T, heads, dim] layout:
 * softmax(q kᵀ scale, masked scores -1e9 as Keras, causal keeps j <= i) v, materialising the scores.
 */
export interface AttnShape {
  b: number;
  tq: number;
  tk: number;
  h: number;
  d: number;
  dv: number;
}

export function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  s: AttnShape,
  opts: { scale?: number; causal?: boolean; mask?: ArrayLike<number>; maskBatch?: boolean } = {},
): Float64Array {
  const { b, tq, tk, h, d, dv } = s;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const out = new Float64Array(b * tq * h * dv);
  for (let n = 0; n < b; n++) {
    for (let hh = 0; hh < h; hh++) {
      for (let i = 0; i < tq; i++) {
        const sc: number[] = [];
        for (let j = 0; j < tk; j++) {
          if (opts.causal && j > i) {
            sc.push(Number.NEGATIVE_INFINITY);
            continue;
          }
          let acc = 0;
          for (let e = 0; e < d; e++)
            acc += q[((n * tq + i) * h + hh) * d + e] * k[((n * tk + j) * h + hh) * d + e];
          acc *= scale;
          if (opts.mask) {
            const mb = opts.maskBatch ? n * tq * tk : 0;
            if (opts.mask[mb + i * tk + j] === 0) acc = -1e9;
          }
          sc.push(acc);
        }
        const m = Math.max(...sc);
        const p = sc.map((x) => Math.exp(x - m));
        const z = p.reduce((a, x) => a + x, 0);
        for (let e = 0; e < dv; e++) {
          let acc = 0;
          for (let j = 0; j < tk; j++) acc += (p[j] / z) * v[((n * tk + j) * h + hh) * dv + e];
          out[((n * tq + i) * h + hh) * dv + e] = acc;
        }
      }
    }
  }
  return out;
}
