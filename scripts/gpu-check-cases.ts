import * as lib from '../src/node.js';
import { conv2dRef, depthwiseRef, type RefAct } from '../test/oracle/conv.js';
import { invertedResidualRef } from '../test/oracle/inverted-residual.js';
import { matmulOracle } from '../test/oracle/matmul.js';
import type { Check } from './gpu-check-lib.js';
import { type Pad, size, values } from './gpu-check-lib.js';

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
  // Rows over several weight-stationary runs, K in chunks of 100, bias + relu (matmul-ws.ts).
  out.push(matmulCheck(300, 68, 200, false, false, true));
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
 * The f16 paths: matmul, conv2d and depthwiseConv2d with precision 'f16'. Tolerance: operands
 * rounded to f16 (relative 2^-11 each), so |err| <= 2 * 2^-11 * sum |a||b| per output, which the
 * oracle computes on |a|, |b|.
 */
export function checksF16(): Check[] {
  return [...matmulF16(), ...convF16()];
}

function matmulF16(): Check[] {
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

/** conv2d: [x shape, kh, kw, cout, stride, padding, activation]; pointwise, 3x3 stride 2, odd channels. */
const CONVS: Array<[number[], number, number, number, number, Pad, RefAct]> = [
  [[2, 9, 9, 5], 1, 1, 6, 1, 'same', 'linear'],
  [[1, 16, 16, 16], 1, 1, 24, 1, 'valid', 'relu6'],
  [[2, 11, 13, 5], 3, 3, 7, 2, 'same', 'relu'],
  [[1, 15, 15, 32], 3, 3, 33, 1, 'same', 'relu6'],
];
/** depthwiseConv2d: [x shape, k, multiplier, stride, padding]. */
const DEPTHWISE: Array<[number[], number, number, number, Pad]> = [
  [[2, 12, 12, 8], 3, 1, 1, 'same'],
  [[1, 13, 13, 6], 3, 2, 2, 'same'],
];

/** The bound of the largest output, as for the f16 matmul (a bug gives O(1) errors). */
function f16Tol(bound: Float64Array) {
  return { atol: 2.01 * 2 ** -11 * bound.reduce((m, v) => Math.max(m, v), 0) + 1e-6, rtol: 0 };
}

function convF16(): Check[] {
  const T = (v: Float32Array, s: number[]) => lib.tensor(v, s);
  const out: Check[] = CONVS.map(([xs, kh, kw, co, s, pad, act], i) => {
    const fs = [kh, kw, xs[3], co];
    const [x, f, b] = [values(size(xs), 80 + i), values(size(fs), 90 + i), values(co, 100 + i)];
    return {
      family: 'conv2d f16',
      name: `[${xs}] ${kh}x${kw}x${xs[3]}->${co} s${s} ${pad} ${act}`,
      run: () =>
        lib.conv2d(T(x, xs), T(f, fs), s, pad, { bias: T(b, [co]), activation: act, precision: 'f16' }),
      want: () => conv2dRef(x, xs, f, fs, s, pad, b, act),
      ...f16Tol(conv2dRef(x.map(Math.abs), xs, f.map(Math.abs), fs, s, pad)),
    };
  });
  DEPTHWISE.forEach(([xs, k, m, s, pad], i) => {
    const fs = [k, k, xs[3], m];
    const [x, f] = [values(size(xs), 110 + i), values(size(fs), 120 + i)];
    out.push({
      family: 'depthwise f16',
      name: `[${xs}] ${k}x${k} x${m} s${s} ${pad}`,
      run: () => lib.depthwiseConv2d(T(x, xs), T(f, fs), s, pad, { activation: 'relu6', precision: 'f16' }),
      want: () => depthwiseRef(x, xs, f, fs, s, pad, undefined, 'relu6'),
      ...f16Tol(depthwiseRef(x.map(Math.abs), xs, f.map(Math.abs), fs, s, pad)),
    });
  });
  return out;
}

/**
 * The fused inverted-residual block against its float64 oracle (the three steps): odd sizes and
 * channels, MobileNetV2's block 2 and block 15 widths, with and without the residual.
 */
const IR_CASES: Array<[number[], number, number, boolean]> = [
  [[2, 13, 10, 9], 70, 9, true],
  [[1, 7, 5, 3], 18, 5, false],
  [[2, 12, 12, 24], 144, 24, true],
  [[1, 6, 6, 160], 960, 160, true],
];

export function checksInvertedResidual(): Check[] {
  return IR_CASES.map(([xs, e, co, residual], i) => {
    const ci = xs[3];
    const v = (n: number, k: number, scale: number, shift = 0) =>
      Float32Array.from(values(n, 90 + 7 * i + k), (a) => a * scale + shift);
    const x = v(size(xs), 0, 1);
    const w = {
      expandFilter: v(ci * e, 1, 2 / Math.sqrt(ci)),
      expandBias: v(e, 2, 1, 1),
      depthwiseFilter: v(9 * e, 3, 0.5),
      depthwiseBias: v(e, 4, 1, 1),
      projectFilter: v(e * co, 5, 2 / Math.sqrt(e)),
      projectBias: v(co, 6, 1),
    };
    const T = (a: Float32Array, s: number[]) => lib.tensor(a, s);
    return {
      family: 'inverted residual',
      name: `[${xs}] ${ci}->${e}->${co}${residual ? ' +x' : ''}`,
      run: () =>
        lib.invertedResidualBlock(
          T(x, xs),
          {
            expandFilter: T(w.expandFilter, [ci, e]),
            expandBias: T(w.expandBias, [e]),
            depthwiseFilter: T(w.depthwiseFilter, [3, 3, e]),
            depthwiseBias: T(w.depthwiseBias, [e]),
            projectFilter: T(w.projectFilter, [e, co]),
            projectBias: T(w.projectBias, [co]),
          },
          { residual },
        ),
      want: () => invertedResidualRef(x, xs, e, co, w, residual),
      atol: 1e-4,
      rtol: 1e-4,
    };
  });
}
