import { fill, type Tensor } from '../src/index.js';
import { add } from '../src/kernels/binary.js';
import { matmul } from '../src/kernels/matmul.js';
import { softmax } from '../src/kernels/softmax.js';
import { seededUniform } from './harness.js';
import { matmulJs } from './jsbaseline.js';
import type { Tf, TfTensor } from './peer-tfjs.js';

/**
 * The benchmark cases. Each case builds its inputs as plain Float32Arrays (seeded, so both
 * libraries get identical data), and says how to run the op on our side, on TF.js, and
 * optionally in plain JS. To add a case (conv, a training step...), push another `BenchCase`.
 */

export interface Input {
  shape: number[];
  data: Float32Array;
}

export interface BenchCase {
  op: string;
  shape: string;
  /** 'GFLOP/s': `work` is FLOPs; 'GB/s': `work` is bytes read + written. */
  unit: 'GFLOP/s' | 'GB/s';
  work: number;
  /** Outputs agree when max|ours - peer| <= atol + rtol * max|peer|. */
  atol: number;
  rtol: number;
  inputs(): Input[];
  /** Our op on our input tensors. */
  ours(x: Tensor[]): Tensor;
  peer(tf: Tf, x: TfTensor[]): TfTensor;
  /** Plain-JS baseline on the same data (matmul only). */
  js?(x: Float32Array[]): Float32Array;
}

const F32 = 4;

function matmulCase(m: number, k: number, n: number): BenchCase {
  return {
    op: 'matmul',
    shape: `[${m},${k}]@[${k},${n}]`,
    unit: 'GFLOP/s',
    work: 2 * m * n * k,
    atol: 0,
    // Summation order differs between kernels; float32 error grows with sqrt(K) at worst ~K.
    rtol: 2e-6 * Math.sqrt(k) + 1e-6,
    inputs: () => [
      { shape: [m, k], data: seededUniform(m * k, 1 + m + k) },
      { shape: [k, n], data: seededUniform(k * n, 7 + k + n) },
    ],
    ours: ([a, b]) => matmul(a, b),
    peer: (tf, [a, b]) => tf.matMul(a, b),
    js: ([a, b]) => matmulJs(a, b, m, k, n),
  };
}

function addCase(n: number): BenchCase {
  return {
    op: 'add',
    shape: `[${n}]+[${n}]`,
    unit: 'GB/s',
    work: 3 * n * F32,
    atol: 0,
    rtol: 0,
    inputs: () => [
      { shape: [n], data: seededUniform(n, 11) },
      { shape: [n], data: seededUniform(n, 13) },
    ],
    ours: ([a, b]) => add(a, b),
    peer: (tf, [a, b]) => tf.add(a, b),
  };
}

function softmaxCase(rows: number, cols: number): BenchCase {
  return {
    op: 'softmax',
    shape: `[${rows},${cols}] axis -1`,
    unit: 'GB/s',
    work: 2 * rows * cols * F32,
    atol: 2e-6,
    rtol: 0,
    inputs: () => [{ shape: [rows, cols], data: seededUniform(rows * cols, 17, -8, 8) }],
    ours: ([x]) => softmax(x, -1),
    peer: (tf, [x]) => tf.softmax(x, -1),
  };
}

/** Sanity case (core kernels only): write bandwidth of a constant fill. */
function fillCase(n: number): BenchCase {
  return {
    op: 'fill',
    shape: `[${n}]`,
    unit: 'GB/s',
    work: n * F32,
    atol: 0,
    rtol: 0,
    inputs: () => [],
    ours: () => fill([n], 0.5),
    peer: (tf) => tf.fill([n], 0.5),
  };
}

export const CASES: BenchCase[] = [
  fillCase(1 << 24),
  matmulCase(256, 256, 256),
  matmulCase(512, 512, 512),
  matmulCase(1024, 1024, 1024),
  matmulCase(2048, 2048, 2048),
  matmulCase(64, 1280, 5),
  matmulCase(64, 46080, 5),
  addCase(1 << 24),
  softmaxCase(64, 1000),
];
