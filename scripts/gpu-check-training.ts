import * as lib from '../src/node.js';
import { affineResampleCpu, type FillMode } from '../test/oracle/augment.js';
import { momentsRef } from '../test/oracle/conv.js';
import { sigmoidCe } from '../test/oracle/losses.js';
import { type OracleOptimizer, oracleTrain } from '../test/oracle/optimizers.js';
import { type Check, size, values } from './gpu-check-lib.js';

/**
 * gpu-check families of the training kit: the affine resample of the augmentation layers, the
 * fused sigmoid cross-entropy, every optimizer's update kernel (scalar and vec4 paths, clipping and
 * weight decay), and the one-pass batch statistics far from zero.
 */

const T = (v: ArrayLike<number>, s: readonly number[]) => lib.tensor(Float32Array.from(v), [...s]);

/** [image shape, output size, interpolation, fill mode]: odd sizes, every mode. */
const RESAMPLES: Array<[number[], [number, number], 'bilinear' | 'nearest', FillMode]> = [
  [[1, 1, 1, 1], [1, 1], 'bilinear', 'constant'],
  [[2, 7, 5, 3], [7, 5], 'bilinear', 'reflect'],
  [[1, 33, 17, 4], [20, 29], 'bilinear', 'wrap'],
  [[3, 9, 13, 2], [9, 13], 'nearest', 'nearest'],
  [[1, 16, 16, 5], [12, 12], 'nearest', 'reflect'],
];

function augmentChecks(): Check[] {
  return RESAMPLES.map(([xs, [oh, ow], interpolation, fillMode], i) => {
    const x = values(size(xs), 110 + i);
    // Rotation by ~17 degrees, zoom 0.9, a shift, differing per image.
    const rows = Array.from({ length: xs[0] }, (_, n) => {
      const a = 0.3 + 0.1 * n;
      const z = 0.9 + 0.05 * n;
      return [z * Math.cos(a), -z * Math.sin(a), 1.5 - n, z * Math.sin(a), z * Math.cos(a), -0.75 + n];
    });
    return {
      family: 'augment',
      name: `[${xs}] -> ${oh}x${ow} ${interpolation} ${fillMode}`,
      run: () =>
        lib.affineResample(T(x, xs), T(rows.flat(), [xs[0], 6]), {
          outputSize: [oh, ow],
          interpolation,
          fillMode,
          fillValue: 0.25,
        }),
      want: () =>
        affineResampleCpu({
          data: x,
          shape: xs,
          transforms: rows,
          outH: oh,
          outW: ow,
          interpolation,
          fillMode,
          fillValue: 0.25,
        }),
      atol: 2e-5,
      rtol: 2e-5,
    };
  });
}

function lossChecks(): Check[] {
  return [
    [13, 0],
    [4099, 0.1],
  ].map(([n, smoothing], i) => {
    const z = values(n, 120 + i, 0, 1);
    const x = values(n, 130 + i, -30, 30);
    return {
      family: 'crossentropy',
      name: `sigmoid [${n}] smoothing ${smoothing}`,
      run: () => lib.sigmoidCrossEntropyWithLogits(T(z, [n]), T(x, [n]), smoothing),
      want: () => Array.from(z, (zi, k) => sigmoidCe(zi, x[k], smoothing)),
      atol: 1e-5,
      rtol: 1e-5,
    };
  });
}

/**
 * Optimizers as Keras configs: every rule, weight decay and the three clippings. The same object
 * builds ours (`optimizerFromConfig`) and drives the float64 oracle.
 */
const OPTIMIZERS: Array<[string, OracleOptimizer & { learningRate: number }]> = [
  ['SGD nesterov', { name: 'SGD', learningRate: 0.1, momentum: 0.9, nesterov: true }],
  ['Adam clipvalue', { name: 'Adam', learningRate: 0.01, clipvalue: 0.3 }],
  ['AdamW', { name: 'AdamW', learningRate: 0.01 }],
  [
    'RMSprop centered momentum clipnorm',
    { name: 'RMSprop', learningRate: 0.01, centered: true, momentum: 0.5, clipnorm: 1 },
  ],
  ['Adagrad weightDecay', { name: 'Adagrad', learningRate: 0.05, weightDecay: 0.01 }],
  ['Nadam globalClipnorm', { name: 'Nadam', learningRate: 0.01, globalClipnorm: 2 }],
];

function optimizerChecks(): Check[] {
  const out: Check[] = [];
  for (const n of [1003, 4100]) {
    OPTIMIZERS.forEach(([label, config], i) => {
      const w0 = values(n, 140 + i);
      const grads = [0, 1, 2].map((s) => values(n, 150 + 10 * i + s));
      out.push({
        family: 'optimizer',
        name: `${label} [${n}] 3 steps`,
        run: () => {
          const opt = lib.optimizerFromConfig({ ...config });
          const init = T(w0, [n]);
          const v = lib.variable(init, { name: `gpu_check_w${i}` });
          init.dispose();
          for (const g of grads) {
            const gt = T(g, [n]);
            opt.applyGradients([[v, gt]]);
            gt.dispose();
          }
          const w = lib.mul(v, 1);
          v.dispose();
          opt.dispose();
          return w;
        },
        want: () =>
          oracleTrain(
            config,
            [Array.from(w0)],
            grads.map((g) => [Array.from(g)]),
          )[0],
        atol: 2e-6,
        rtol: 2e-5,
      });
    });
  }
  return out;
}

function statsChecks(): Check[] {
  // One statistics pass: mean 1000 with unit spread, rows split into unequal parts.
  return [
    [1003, 5],
    [40961, 8],
  ].map(([rows, c]) => {
    const x = Array.from(values(rows * c, rows, -1.5, 1.5), (v) => v + 1000);
    return {
      family: 'batchNorm',
      name: `batch variance [${rows},${c}] mean 1000`,
      run: () => lib.batchNormTraining(T(x, [rows, c])).variance,
      want: () => momentsRef(Float32Array.from(x), c).variance,
      atol: 0,
      rtol: 2e-4,
    };
  });
}

/** The training kit's checks. */
export function checksTraining(): Check[] {
  return [...augmentChecks(), ...lossChecks(), ...optimizerChecks(), ...statsChecks()];
}
