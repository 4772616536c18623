/** Float64 references of layer and group normalization (channels last). */

/** Layer norm over the last `n` elements of each row: (x - mean) / sqrt(var + eps) * gamma + beta. */
export function layerNormRef(
  x: ArrayLike<number>,
  n: number,
  gamma?: ArrayLike<number>,
  beta?: ArrayLike<number>,
  eps = 1e-3,
): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let m = 0;
    for (let j = 0; j < n; j++) m += x[r * n + j];
    m /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (x[r * n + j] - m) ** 2;
    v /= n;
    const s = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < n; j++) {
      out[r * n + j] = (x[r * n + j] - m) * s * (gamma ? gamma[j] : 1) + (beta ? beta[j] : 0);
    }
  }
  return out;
}

/** Group norm of x [b, s, c] (s: the spatial positions, flattened) with `g` groups, per-channel gamma/beta. */
export function groupNormRef(
  x: ArrayLike<number>,
  b: number,
  s: number,
  c: number,
  g: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps = 1e-3,
): Float64Array {
  const out = new Float64Array(x.length);
  const cg = c / g;
  for (let i = 0; i < b; i++) {
    for (let k = 0; k < g; k++) {
      const idx: number[] = [];
      for (let p = 0; p < s; p++) for (let q = 0; q < cg; q++) idx.push((i * s + p) * c + k * cg + q);
      const m = idx.reduce((a, j) => a + x[j], 0) / idx.length;
      const v = idx.reduce((a, j) => a + (x[j] - m) ** 2, 0) / idx.length;
      for (const j of idx) out[j] = ((x[j] - m) / Math.sqrt(v + eps)) * gamma[j % c] + beta[j % c];
    }
  }
  return out;
}
