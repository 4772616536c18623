/** Plain-TypeScript float64 reference for matmul (tests only). */

export type OracleActivation = 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'tanh';

export function activate(act: OracleActivation, x: number): number {
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return Math.max(x, 0);
    case 'relu6':
      return Math.min(Math.max(x, 0), 6);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'tanh':
      return Math.tanh(x);
  }
}

export interface MatmulOracleOpts {
  transposeA?: boolean;
  transposeB?: boolean;
  bias?: ArrayLike<number>;
  activation?: OracleActivation;
}

function batchOffsets(batch: readonly number[], own: readonly number[], mat: number): number[] {
  // Offset (in elements) of each output batch's matrix inside an operand with batch dims `own`.
  const total = batch.reduce((p, d) => p * d, 1);
  const offs = new Array<number>(total);
  const pad = batch.length - own.length;
  for (let i = 0; i < total; i++) {
    let rem = i;
    let off = 0;
    let stride = mat;
    for (let d = batch.length - 1; d >= 0; d--) {
      const coord = rem % batch[d];
      rem = Math.floor(rem / batch[d]);
      const od = d - pad;
      if (od >= 0) {
        if (own[od] !== 1) off += coord * stride;
        stride *= own[od];
      }
    }
    offs[i] = off;
  }
  return offs;
}

/**
 * act(op(a) @ op(b) + bias) in float64, with NumPy broadcasting of the batch dims. Returns the
 * output shape and values.
 */
export function matmulOracle(
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
  opts: MatmulOracleOpts = {},
): { shape: number[]; data: Float64Array } {
  const ra = aShape.length;
  const rb = bShape.length;
  const [ar, ac] = [aShape[ra - 2], aShape[ra - 1]];
  const [br, bc] = [bShape[rb - 2], bShape[rb - 1]];
  const M = opts.transposeA ? ac : ar;
  const K = opts.transposeA ? ar : ac;
  const N = opts.transposeB ? br : bc;
  if ((opts.transposeB ? bc : br) !== K) throw new Error('oracle: inner dimensions differ');
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const batch: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = aBatch[aBatch.length - rank + i] ?? 1;
    const db = bBatch[bBatch.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error('oracle: batch dims cannot broadcast');
    batch.push(da === 1 ? db : da);
  }
  const aOffs = batchOffsets(batch, aBatch, M * K);
  const bOffs = batchOffsets(batch, bBatch, K * N);
  const act = opts.activation ?? 'linear';
  const out = new Float64Array(aOffs.length * M * N);
  for (let bi = 0; bi < aOffs.length; bi++) {
    const ao = aOffs[bi];
    const bo = bOffs[bi];
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = opts.transposeA ? a[ao + k * M + m] : a[ao + m * K + k];
          const bv = opts.transposeB ? b[bo + n * K + k] : b[bo + k * N + n];
          s += av * bv;
        }
        if (opts.bias) s += opts.bias[n];
        out[(bi * M + m) * N + n] = activate(act, s);
      }
    }
  }
  return { shape: [...batch, M, N], data: out };
}

/** One output element of a rank-2 product (for sampling huge outputs). */
export function matmulOracleAt(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  m: number,
  n: number,
  opts: MatmulOracleOpts = {},
): number {
  let s = 0;
  for (let k = 0; k < K; k++) {
    const av = opts.transposeA ? a[k * M + m] : a[m * K + k];
    const bv = opts.transposeB ? b[n * K + k] : b[k * N + n];
    s += av * bv;
  }
  if (opts.bias) s += opts.bias[n];
  return activate(opts.activation ?? 'linear', s);
}
