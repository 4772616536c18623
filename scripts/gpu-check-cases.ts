import * as lib from '../src/node.js';
import { matmulOracle } from '../test/oracle/matmul.js';
import type { Check } from './gpu-check-lib.js';
import { values } from './gpu-check-lib.js';

/**
 * Matmul shapes around the tile edges: 1, 3, 5, 7 (off the quad grid), 17, 33, 65, 257 (one past
 * a tile of 16/32/64/256), long K (1000), skinny N <= 8 with K >= 64 (the split-K kernel), both
 * transposes, bias + activation, batched with broadcast.
 */
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [3, 5, 7],
  [33, 65, 17],
  [64, 64, 64],
  [100, 257, 130],
  [257, 33, 1000],
  [50, 4, 300],
  [7, 3, 64],
];

function matmulCheck(M: number, N: number, K: number, tA: boolean, tB: boolean, extra = false): Check {
  const as = tA ? [K, M] : [M, K];
  const bs = tB ? [N, K] : [K, N];
  const av = values(M * K, M + 7 * K);
  const bv = values(K * N, N + 11 * K);
  const bias = extra ? values(N, 5) : undefined;
  const o = { transposeA: tA, transposeB: tB, bias, activation: extra ? ('relu' as const) : undefined };
  return {
    family: 'matmul',
    name: `[${M},${K}]x[${K},${N}]${tA ? ' tA' : ''}${tB ? ' tB' : ''}${extra ? ' +bias relu' : ''}`,
    run: () =>
      lib.matmul(lib.tensor(av, as), lib.tensor(bv, bs), {
        transposeA: tA,
        transposeB: tB,
        bias: bias && lib.tensor(bias, [N]),
        activation: o.activation,
      }),
    want: () => matmulOracle(av, as, bv, bs, o).data,
    atol: 1e-5 * Math.sqrt(K) + 1e-6,
    rtol: 1e-5,
  };
}

export function checksMatmul(): Check[] {
  const out: Check[] = [];
  for (const [M, N, K] of SHAPES) {
    out.push(matmulCheck(M, N, K, false, false));
    if (M > 1) out.push(matmulCheck(M, N, K, true, true, true));
  }
  out.push(matmulCheck(33, 65, 17, true, false), matmulCheck(33, 65, 17, false, true));
  const av = values(3 * 17 * 9, 1);
  const bv = values(9 * 33, 2);
  out.push({
    family: 'matmul',
    name: 'batched [3,17,9]x[9,33]',
    run: () => lib.matmul(lib.tensor(av, [3, 17, 9]), lib.tensor(bv, [9, 33])),
    want: () => matmulOracle(av, [3, 17, 9], bv, [9, 33]).data,
    atol: 1e-5,
    rtol: 1e-5,
  });
  return out;
}

/**
 * The f16 paths: matmul with precision 'f16'. Tolerance: operands rounded to f16 (relative 2^-11
 * each), so |err| <= 2 * 2^-11 * sum_k |a||b| per output, which the oracle computes on |a|, |b|.
 */
export function checksF16(): Check[] {
  return SHAPES.map(([M, N, K], i) => {
    const tA = i % 2 === 1;
    const tB = i % 3 === 1;
    const as = tA ? [K, M] : [M, K];
    const bs = tB ? [N, K] : [K, N];
    const av = values(M * K, 3 + i);
    const bv = values(K * N, 4 + i);
    const o = { transposeA: tA, transposeB: tB };
    const bound = matmulOracle(av.map(Math.abs), as, bv.map(Math.abs), bs, o).data;
    const scale = bound.reduce((m, v) => Math.max(m, v), 0);
    return {
      family: 'matmul f16',
      name: `[${M},${K}]x[${K},${N}]${tA ? ' tA' : ''}${tB ? ' tB' : ''}`,
      run: () => lib.matmul(lib.tensor(av, as), lib.tensor(bv, bs), { ...o, precision: 'f16' }),
      want: () => matmulOracle(av, as, bv, bs, o).data,
      // The bound of the largest output for every element (a per-element bound needs a per-element
      // atol, which Check does not have): still far below an indexing error's O(1).
      atol: 2.01 * 2 ** -11 * scale + 1e-6,
      rtol: 0,
    };
  });
}
