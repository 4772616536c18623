import type { InlineBatchNorm } from '../src/kernels/bn-inline.js';
import { conv2dFoldedBn } from '../src/kernels/conv.js';
import { depthwiseConv2dFoldedBn } from '../src/kernels/depthwise.js';
import * as lib from '../src/node.js';
import { conv2dRef, depthwiseRef, type RefAct } from '../test/oracle/conv.js';
import { type Check, type Pad, size, values } from './gpu-check-lib.js';

/**
 * gpu-check families of the batch norms that conv kernels fold themselves (src/kernels/bn-inline.ts):
 * the pointwise convs with a residual added in their epilogue ('conv2d bn': its name makes
 * gpu-check also run it with the weight-stationary kernels forced on, which 'auto' takes on
 * software adapters only) and the depthwise strip kernel ('depthwise bn'). Where the kernel
 * declines, the check runs the composed path on weights folded here, so both are held to the
 * same float64 oracle.
 */

const T = (v: ArrayLike<number>, s: readonly number[]) => lib.tensor(Float32Array.from(v), [...s]);
const EPS = 1e-3;

/** Random batch-norm statistics over c channels, as arrays. */
function stats(c: number, seed: number) {
  return {
    mean: values(c, seed, -0.5, 0.5),
    variance: values(c, seed + 1, 0.2, 2),
    gamma: values(c, seed + 2, 0.5, 1.5),
    beta: values(c, seed + 3, -0.3, 0.3),
  };
}

/** The folded filter (channel fastest) and bias, in float64. */
function fold(f: Float32Array, s: ReturnType<typeof stats>): { f: Float64Array; b: Float64Array } {
  const c = s.mean.length;
  const scale = Float64Array.from(s.gamma, (g, i) => g / Math.sqrt(s.variance[i] + EPS));
  return {
    f: Float64Array.from(f, (v, i) => v * scale[i % c]),
    b: Float64Array.from(scale, (k, i) => -s.mean[i] * k + s.beta[i]),
  };
}

function bnTensors(s: ReturnType<typeof stats>): InlineBatchNorm {
  const c = s.mean.length;
  return {
    mean: T(s.mean, [c]),
    variance: T(s.variance, [c]),
    gamma: T(s.gamma, [c]),
    beta: T(s.beta, [c]),
    epsilon: EPS,
  };
}

/** Pointwise: [x shape, cout, activation, residual]; one kernel block, several, idle lanes, the matmul. */
const POINTWISE: Array<[number[], number, RefAct, boolean]> = [
  [[2, 9, 7, 16], 24, 'relu6', false],
  [[1, 13, 11, 40], 148, 'linear', true],
  [[2, 12, 11, 192], 32, 'linear', true],
];

/** Depthwise: [x shape, stride, padding]. */
const DEPTHWISE: Array<[number[], number, Pad]> = [
  [[2, 9, 10, 8], 1, 'same'],
  [[1, 13, 11, 12], 2, 'same'],
];

export function checksFolded(): Check[] {
  const out: Check[] = [];
  POINTWISE.forEach(([xs, co, act, residual], i) => {
    const cin = xs[3];
    const fs = [1, 1, cin, co];
    const ys = [xs[0], xs[1], xs[2], co];
    const [x, f, r] = [
      values(size(xs), 300 + i),
      values(cin * co, 310 + i, -0.3, 0.3),
      values(size(ys), 320 + i),
    ];
    const s = stats(co, 330 + 4 * i);
    const folded = fold(f, s);
    out.push({
      family: 'conv2d bn',
      name: `[${xs}] 1x1 ${co} ${act}${residual ? ' + residual' : ''}`,
      run: () => {
        const [tx, tf] = [T(x, xs), T(f, fs)];
        const tr = residual ? T(r, ys) : undefined;
        const y = conv2dFoldedBn(tx, tf, 1, 'valid', { activation: act }, bnTensors(s), tr);
        if (y) return y;
        const z = lib.conv2d(tx, T(folded.f, fs), 1, 'valid', { bias: T(folded.b, [co]), activation: act });
        return tr ? lib.add(z, tr) : z;
      },
      want: () => {
        const y = conv2dRef(x, xs, folded.f, fs, 1, 'valid', folded.b, act);
        return residual ? y.map((v, j) => v + r[j]) : y;
      },
      atol: 2e-6 * Math.sqrt(cin) + 1e-6,
      rtol: 1e-5,
    });
  });
  DEPTHWISE.forEach(([xs, st, pad], i) => {
    const c = xs[3];
    const fs = [3, 3, c, 1];
    const [x, f] = [values(size(xs), 340 + i), values(9 * c, 350 + i)];
    const s = stats(c, 360 + 4 * i);
    const folded = fold(f, s);
    out.push({
      family: 'depthwise bn',
      name: `[${xs}] 3x3 s${st} ${pad} relu6`,
      run: () => {
        const [tx, tf] = [T(x, xs), T(f, fs)];
        const y = depthwiseConv2dFoldedBn(tx, tf, st, pad, { activation: 'relu6' }, bnTensors(s));
        return (
          y ??
          lib.depthwiseConv2d(tx, T(folded.f, fs), st, pad, { bias: T(folded.b, [c]), activation: 'relu6' })
        );
      },
      want: () => depthwiseRef(x, xs, folded.f, fs, st, pad, folded.b, 'relu6'),
      atol: 2e-6 * 3 + 1e-6,
      rtol: 1e-5,
    });
  });
  return out;
}
