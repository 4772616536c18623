import type * as TF from '@tensorflow/tfjs-core';
import { batchNorm, batchNormTraining, conv2d, depthwiseConv2d, fill, type Tensor } from '../src/index.js';
import { add } from '../src/kernels/binary.js';
import { blockWeights, invertedResidualBlock } from '../src/kernels/inverted-residual.js';
import { matmul } from '../src/kernels/matmul.js';
import { softmax } from '../src/kernels/softmax.js';
import { dilatedConv2d } from '../src/nn/layers/conv-ops.js';
import { augmentCase } from './augment-case.js';
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
  /** For --filter: 'core', 'conv' or 'scaling-matmul'. */
  group: string;
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
  /** Untimed repetitions per side after the check (default: --warmup). */
  warmup?: number;
  /** Only run when a filter names its group (see run.ts): slow scaling series. */
  optIn?: boolean;
}

const F32 = 4;

function matmulCase(m: number, k: number, n: number): BenchCase {
  return {
    group: 'core',
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
    group: 'core',
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
    group: 'core',
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
    group: 'core',
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

/** act-free conv2d, NHWC x HWIO; FLOPs = 2 * output pixels * Cout * kh * kw * Cin. */
function conv2dCase(xShape: [number, number, number, number], k: number, cout: number): BenchCase {
  const [n, h, w, cin] = xShape;
  const reduction = k * k * cin;
  return {
    group: 'conv',
    op: 'conv2d',
    shape: `${fmtDims(xShape)} ${k}x${k}x${cin}->${cout} same`,
    unit: 'GFLOP/s',
    work: 2 * n * h * w * cout * reduction,
    atol: 0,
    // As matmul: a dot product of length kh*kw*Cin summed in a different order.
    rtol: 2e-6 * Math.sqrt(reduction) + 1e-6,
    inputs: () => [
      { shape: xShape, data: seededUniform(n * h * w * cin, 21) },
      { shape: [k, k, cin, cout], data: seededUniform(reduction * cout, 23) },
    ],
    ours: ([x, f]) => conv2d(x, f, 1, 'same'),
    peer: (tf, [x, f]) => tf.conv2d(x as TF.Tensor4D, f as TF.Tensor4D, 1, 'same'),
  };
}

/** 3x3 depthwise conv (multiplier 1), 'same'; FLOPs = 2 * output elements * 9. */
function depthwiseCase(xShape: [number, number, number, number], stride: number): BenchCase {
  const [n, h, w, c] = xShape;
  const [oh, ow] = [Math.ceil(h / stride), Math.ceil(w / stride)];
  return {
    group: 'conv',
    op: 'depthwiseConv2d',
    shape: `${fmtDims(xShape)} 3x3 stride ${stride} same`,
    unit: 'GFLOP/s',
    work: 2 * n * oh * ow * c * 9,
    atol: 0,
    rtol: 2e-6 * 3 + 1e-6,
    inputs: () => [
      { shape: xShape, data: seededUniform(n * h * w * c, 31) },
      { shape: [3, 3, c, 1], data: seededUniform(9 * c, 37) },
    ],
    ours: ([x, f]) => depthwiseConv2d(x, f, stride, 'same'),
    peer: (tf, [x, f]) => tf.depthwiseConv2d(x as TF.Tensor4D, f as TF.Tensor4D, stride, 'same'),
  };
}

/**
 * A stride-1 MobileNetV2 inverted-residual block with folded batch norms (expand 1x1 + ReLU6,
 * depthwise 3x3 + ReLU6, project 1x1, + x): ours as the one fused dispatch, TF.js as its fused
 * convs and an add. Bytes: x, the weights and y once (bench/inverted-residual.ts has the
 * comparison with our unfused path and the bytes each path moves).
 */
function invertedResidualCase(n: number, hw: number, c: number, e: number): BenchCase {
  const px = n * hw * hw;
  const v = (k: number, seed: number, scale: number, shift = 0) =>
    seededUniform(k, seed).map((a) => a * scale + shift);
  return {
    group: 'conv',
    op: 'invertedResidualBlock',
    shape: `[${n},${hw},${hw},${c}] ${c}->${e}->${c} +x`,
    unit: 'GB/s',
    work: 4 * (2 * px * c + c * e + 11 * e + e * c + c),
    atol: 0,
    rtol: 1e-5,
    inputs: () => [
      { shape: [n, hw, hw, c], data: v(px * c, 41, 1) },
      { shape: [1, 1, c, e], data: v(c * e, 43, 2 / Math.sqrt(c)) },
      { shape: [e], data: v(e, 47, 1, 1) },
      { shape: [3, 3, e, 1], data: v(9 * e, 53, 0.5) },
      { shape: [e], data: v(e, 59, 1, 1) },
      { shape: [1, 1, e, c], data: v(e * c, 61, 2 / Math.sqrt(e)) },
      { shape: [c], data: v(c, 67, 1) },
    ],
    ours: ([x, we, be, wd, bd, wp, bp]) =>
      invertedResidualBlock(
        x,
        blockWeights({ filter: we, bias: be }, { filter: wd, bias: bd }, { filter: wp, bias: bp }),
        { residual: true },
      ),
    peer: (tf, [x, we, be, wd, bd, wp, bp]) => {
      const x4 = x as TF.Tensor4D;
      const h = tf.fused.conv2d({
        x: x4,
        filter: we as TF.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: be,
        activation: 'relu6',
      });
      const d = tf.fused.depthwiseConv2d({
        x: h,
        filter: wd as TF.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: bd,
        activation: 'relu6',
      });
      const p = tf.fused.conv2d({
        x: d,
        filter: wp as TF.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: bp,
      });
      return tf.add(p, x4);
    },
  };
}

/** Inference batch norm over the channels; bytes = x read + y written (+ the 4 channel vectors). */
function batchNormCase(xShape: number[]): BenchCase {
  const size = xShape.reduce((a, b) => a * b, 1);
  const c = xShape[xShape.length - 1];
  return {
    group: 'conv',
    op: 'batchNorm',
    shape: `${fmtDims(xShape)} inference eps 1e-3`,
    unit: 'GB/s',
    work: (2 * size + 4 * c) * F32,
    // Both compute (x - mean) * rsqrt(var + eps) * scale + offset, in a possibly different order.
    atol: 1e-6,
    rtol: 2e-6,
    inputs: () => [
      { shape: xShape, data: seededUniform(size, 41, -3, 3) },
      { shape: [c], data: seededUniform(c, 43, -0.5, 0.5) }, // mean
      { shape: [c], data: seededUniform(c, 47, 0.5, 1.5) }, // variance
      { shape: [c], data: seededUniform(c, 53, -1, 1) }, // offset (beta)
      { shape: [c], data: seededUniform(c, 59, 0.5, 2) }, // scale (gamma)
    ],
    ours: ([x, m, v, o, s]) => batchNorm(x, m, v, o, s, 1e-3),
    peer: (tf, [x, m, v, o, s]) =>
      tf.batchNorm(x, m as TF.Tensor1D, v as TF.Tensor1D, o as TF.Tensor1D, s as TF.Tensor1D, 1e-3),
  };
}

/**
 * Training batch norm (batch statistics, then normalize with relu6 as MobileNetV2's blocks do);
 * bytes = x read once + y written, the least any implementation moves (ours reads x twice: one
 * statistics pass, one normalize pass). TF.js: tf.moments + tf.batchNorm + tf.relu6.
 */
function batchNormTrainingCase(xShape: number[]): BenchCase {
  const size = xShape.reduce((a, b) => a * b, 1);
  const c = xShape[xShape.length - 1];
  const axes = xShape.slice(0, -1).map((_, i) => i);
  return {
    group: 'conv',
    op: 'batchNormTraining',
    shape: `${fmtDims(xShape)} batch statistics + relu6`,
    unit: 'GB/s',
    work: 2 * size * F32,
    atol: 2e-5,
    rtol: 2e-5,
    inputs: () => [
      { shape: xShape, data: seededUniform(size, 61, -3, 3) },
      { shape: [c], data: seededUniform(c, 67, -1, 1) }, // offset (beta)
      { shape: [c], data: seededUniform(c, 71, 0.5, 2) }, // scale (gamma)
    ],
    ours: ([x, o, s]) => batchNormTraining(x, s, o, 1e-3, 'relu6').y,
    peer: (tf, [x, o, s]) => {
      const m = tf.moments(x, axes);
      return tf.relu6(tf.batchNorm(x, m.mean, m.variance, o as TF.Tensor1D, s as TF.Tensor1D, 1e-3));
    },
  };
}

/**
 * Dilated convolutions, composed by space-to-batch (src/nn/layers/conv-ops.ts), against TF.js'
 * dilated kernels; FLOPs count the real taps only, as for conv2d.
 */
function dilatedCase(
  xShape: [number, number, number, number],
  k: number,
  cout: number,
  rate: number,
  depthwise: boolean,
): BenchCase {
  const [n, h, w, cin] = xShape;
  const reduction = depthwise ? k * k : k * k * cin;
  const pads = (): [[number, number], [number, number]] => {
    const t = rate * (k - 1);
    const p: [number, number] = [Math.floor(t / 2), t - Math.floor(t / 2)];
    return [p, p];
  };
  return {
    group: 'conv',
    op: depthwise ? 'depthwiseConv2d dilated' : 'conv2d dilated',
    shape: `${fmtDims(xShape)} ${k}x${k}${depthwise ? '' : `x${cin}->${cout}`} rate ${rate} same`,
    unit: 'GFLOP/s',
    work: 2 * n * h * w * (depthwise ? cin : cout) * reduction,
    atol: 0,
    rtol: 2e-6 * Math.sqrt(reduction) + 1e-6,
    inputs: () => [
      { shape: xShape, data: seededUniform(n * h * w * cin, 61) },
      {
        shape: [k, k, cin, depthwise ? 1 : cout],
        data: seededUniform(reduction * (depthwise ? cin : cout), 67),
      },
    ],
    ours: ([x, f]) => dilatedConv2d(x, { filter: f, depthwise, dilation: [rate, rate], pads: pads() }),
    peer: (tf, [x, f]) =>
      depthwise
        ? tf.depthwiseConv2d(x as TF.Tensor4D, f as TF.Tensor4D, 1, 'same', 'NHWC', rate)
        : tf.conv2d(x as TF.Tensor4D, f as TF.Tensor4D, 1, 'same', 'NHWC', rate),
  };
}

const fmtDims = (d: readonly number[]) => `[${d.join(',')}]`;

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
  // The convolution family at MobileNetV2-like sizes (batch 64).
  conv2dCase([64, 48, 48, 32], 3, 64),
  conv2dCase([64, 24, 24, 96], 1, 24),
  // MobileNetV2's second expansion: Cin 24, the weight-stationary kernel on CPU adapters.
  conv2dCase([64, 48, 48, 24], 1, 144),
  depthwiseCase([64, 48, 48, 144], 1),
  depthwiseCase([64, 48, 48, 144], 2),
  batchNormCase([64, 48, 48, 144]),
  // MobileNetV2's block 5 at batch 64 of a 192x192 input, fused (ours) vs TF.js's three convs + add.
  invertedResidualCase(64, 24, 32, 192),
  batchNormTrainingCase([64, 48, 48, 144]),
  // Dilation rate 2 (composed by space-to-batch), beside the undilated rows above.
  dilatedCase([64, 48, 48, 32], 3, 64, 2, false),
  dilatedCase([64, 48, 48, 144], 3, 1, 2, true),
  // Flip + rotation + zoom of a batch of 64 at 192x192x3: our one composed resample vs TF.js's three passes.
  augmentCase(),
];

/**
 * `--filter scaling`: square matmul from 64 to 4096 (no JS baseline). The output check already ran
 * each side once, so the big sizes get no further warm-up.
 */
export const SCALING_CASES: BenchCase[] = [64, 128, 256, 512, 1024, 2048, 4096].map((n) => ({
  ...matmulCase(n, n, n),
  group: 'scaling-matmul',
  js: undefined,
  warmup: n >= 2048 ? 0 : undefined,
  optIn: true,
}));
