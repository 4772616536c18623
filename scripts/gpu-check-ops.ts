import { forwardWindow, geometry } from '../src/kernels/conv-args.js';
import { depthwiseProject, dwProjectPlan } from '../src/kernels/dw-project.js';
import { expandDepthwise, expandDwPlan } from '../src/kernels/expand-dw.js';
import * as lib from '../src/node.js';
import {
  avgPoolRef,
  batchNormRef,
  conv2dBackpropFilterRef,
  conv2dBackpropInputRef,
  conv2dRef,
  depthwiseBackpropFilterRef,
  depthwiseBackpropInputRef,
  depthwiseRef,
  maxPoolRef,
  momentsRef,
  padRef,
  type RefAct,
  refGeo,
} from '../test/oracle/conv.js';
import { concatRef, gatherRef, sliceRef, transposeRef } from '../test/oracle/movement.js';
import { reduceRef, softmaxRef } from '../test/oracle/reduce.js';
import { type Check, type Pad, size, values } from './gpu-check-lib.js';

const T = (v: ArrayLike<number>, s: readonly number[]) => lib.tensor(Float32Array.from(v), [...s]);
const tol = { atol: 1e-5, rtol: 1e-5 };
// Window sums: error grows with the taps x channels summed.
const sumTol = (terms: number) => ({ atol: 2e-6 * Math.sqrt(terms) + 1e-6, rtol: 1e-5 });

/** [x shape, kh, kw, cout, stride, padding, activation]: pointwise, windowed, strided, odd sizes. */
const CONVS: Array<[number[], number, number, number, number, Pad, RefAct]> = [
  [[1, 1, 1, 1], 1, 1, 1, 1, 'valid', 'linear'],
  [[2, 9, 9, 3], 3, 3, 8, 1, 'same', 'relu'],
  [[1, 16, 16, 16], 1, 1, 24, 1, 'valid', 'relu6'],
  [[2, 13, 11, 40], 1, 1, 148, 1, 'valid', 'linear'], // weight-stationary kernel: 5 lane blocks, idle lanes
  [[2, 11, 13, 5], 3, 3, 7, 2, 'valid', 'linear'],
  [[1, 15, 15, 32], 3, 3, 33, 2, 'same', 'relu6'],
  [[3, 7, 7, 6], 5, 5, 4, 1, 'same', 'linear'],
];
/** [x shape, k, multiplier, stride, padding]. */
const DEPTHWISE: Array<[number[], number, number, number, Pad]> = [
  [[2, 12, 12, 8], 3, 1, 1, 'same'],
  [[1, 13, 13, 6], 3, 1, 2, 'same'],
  [[1, 7, 7, 3], 3, 2, 1, 'valid'],
  [[2, 9, 9, 36], 2, 1, 1, 'same'], // even window; 5x5 took ~25 s per kernel to compile on a loaded lavapipe
  [[1, 13, 11, 12], 3, 1, 2, 'same'], // the strided input gradient (depthwise-grad-strided.ts)
];

/** Fused depthwise + projection: [x shape, cout, stride]; 2 quads per lane at 8 lanes, odd sizes. */
const DW_PROJECT: Array<[number[], number, number]> = [
  [[2, 13, 11, 32], 16, 1],
  [[1, 9, 20, 12], 68, 2],
];

/** Fused expansion + depthwise: [x shape, expanded channels, stride]; 3 quads per lane at 8 lanes. */
const EXPAND_DW: Array<[number[], number, number]> = [
  [[2, 13, 11, 16], 96, 2],
  [[1, 9, 20, 8], 36, 1],
];

function convChecks(): Check[] {
  const out: Check[] = [];
  CONVS.forEach(([xs, kh, kw, co, s, pad, act], i) => {
    const fs = [kh, kw, xs[3], co];
    const x = values(size(xs), 10 + i);
    const f = values(size(fs), 20 + i);
    const b = values(co, 30 + i);
    const name = `[${xs}] ${kh}x${kw}x${xs[3]}->${co} s${s} ${pad} ${act}`;
    const t = sumTol(kh * kw * xs[3]);
    out.push({
      family: 'conv2d',
      name,
      run: () => lib.conv2d(T(x, xs), T(f, fs), s, pad, { bias: T(b, [co]), activation: act }),
      want: () => conv2dRef(x, xs, f, fs, s, pad, b, act),
      ...t,
    });
    const g = refGeo(xs, kh, kw, s, pad);
    const ys = [g.n, g.oh, g.ow, co];
    const dy = values(size(ys), 40 + i);
    out.push({
      family: 'conv2d grad',
      name: `input ${name}`,
      run: () => lib.conv2dBackpropInput(T(dy, ys), T(f, fs), xs, s, pad),
      want: () => conv2dBackpropInputRef(dy, f, fs, xs, s, pad),
      ...sumTol(kh * kw * co),
    });
    out.push({
      family: 'conv2d grad',
      name: `filter ${name}`,
      run: () => lib.conv2dBackpropFilter(T(x, xs), T(dy, ys), fs, s, pad),
      want: () => conv2dBackpropFilterRef(x, xs, dy, fs, s, pad),
      ...sumTol(g.n * g.oh * g.ow),
    });
  });
  DEPTHWISE.forEach(([xs, k, m, s, pad], i) => {
    const fs = [k, k, xs[3], m];
    const x = values(size(xs), 50 + i);
    const f = values(size(fs), 60 + i);
    const name = `[${xs}] ${k}x${k} x${m} s${s} ${pad}`;
    out.push({
      family: 'depthwise',
      name,
      run: () => lib.depthwiseConv2d(T(x, xs), T(f, fs), s, pad, { activation: 'relu6' }),
      want: () => depthwiseRef(x, xs, f, fs, s, pad, undefined, 'relu6'),
      ...sumTol(k * k),
    });
    const g = refGeo(xs, k, k, s, pad);
    const ys = [g.n, g.oh, g.ow, xs[3] * m];
    const dy = values(size(ys), 70 + i);
    out.push({
      family: 'depthwise grad',
      name: `input ${name}`,
      run: () => lib.depthwiseConv2dBackpropInput(T(dy, ys), T(f, fs), xs, s, pad),
      want: () => depthwiseBackpropInputRef(dy, f, fs, xs, s, pad),
      ...sumTol(k * k * m),
    });
    out.push({
      family: 'depthwise grad',
      name: `filter ${name}`,
      run: () => lib.depthwiseConv2dBackpropFilter(T(x, xs), T(dy, ys), fs, s, pad),
      want: () => depthwiseBackpropFilterRef(x, xs, dy, fs, s, pad),
      ...sumTol(g.n * g.oh * g.ow),
    });
  });
  // The fused depthwise + 1x1 projection (dw-project.ts): 'conv2d' family, so that the
  // weight-stationary variant runs it where 'auto' leaves the two kernels.
  DW_PROJECT.forEach(([xs, co, s], i) => {
    const ce = xs[3];
    const [x, fd, bd] = [values(size(xs), 110 + i), values(9 * ce, 120 + i), values(ce, 130 + i)];
    const [fp, bp] = [values(ce * co, 140 + i), values(co, 150 + i)];
    const win = forwardWindow(geometry('gpu-check', xs, 3, 3, s, 'same'));
    out.push({
      family: 'conv2d dw-project',
      name: `[${xs}] 3x3 s${s} relu6 -> 1x1 ${co}`,
      run: () => {
        const plan = dwProjectPlan(win, ce, co);
        const [tx, tfd, tbd, tfp, tbp] = [
          T(x, xs),
          T(fd, [3, 3, ce, 1]),
          T(bd, [ce]),
          T(fp, [1, 1, ce, co]),
          T(bp, [co]),
        ];
        if (plan)
          return depthwiseProject(
            { ...win, x: tx, fd: tfd, bd: tbd, dwAct: 'relu6', fp: tfp, bp: tbp, act: 'linear', ce, co },
            plan,
          );
        const d = lib.depthwiseConv2d(tx, tfd, s, 'same', { bias: tbd, activation: 'relu6' });
        return lib.conv2d(d, tfp, 1, 'valid', { bias: tbp });
      },
      want: () => {
        const d = depthwiseRef(x, xs, fd, [3, 3, ce, 1], s, 'same', bd, 'relu6');
        return conv2dRef(d, [xs[0], win.oh, win.ow, ce], fp, [1, 1, ce, co], 1, 'valid', bp, 'linear');
      },
      ...sumTol(9 + ce),
    });
  });
  EXPAND_DW.forEach(([xs, ce, s], i) => {
    const cin = xs[3];
    const [x, fe, be] = [values(size(xs), 160 + i), values(cin * ce, 170 + i), values(ce, 180 + i)];
    const [fd, bd] = [values(9 * ce, 190 + i), values(ce, 200 + i)];
    const es = [xs[0], xs[1], xs[2], ce];
    const win = forwardWindow(geometry('gpu-check', es, 3, 3, s, 'same'));
    out.push({
      family: 'conv2d expand-dw',
      name: `[${xs}] 1x1 ${ce} relu6 -> 3x3 s${s} relu6`,
      run: () => {
        const plan = expandDwPlan(win, cin, ce);
        const [tx, tfe, tbe] = [T(x, xs), T(fe, [1, 1, cin, ce]), T(be, [ce])];
        const [tfd, tbd] = [T(fd, [3, 3, ce, 1]), T(bd, [ce])];
        if (plan)
          return expandDepthwise(
            { ...win, x: tx, fe: tfe, be: tbe, eAct: 'relu6', fd: tfd, bd: tbd, dAct: 'relu6', cin, ce },
            plan,
          );
        const e = lib.conv2d(tx, tfe, 1, 'valid', { bias: tbe, activation: 'relu6' });
        return lib.depthwiseConv2d(e, tfd, s, 'same', { bias: tbd, activation: 'relu6' });
      },
      want: () => {
        const e = conv2dRef(x, xs, fe, [1, 1, cin, ce], 1, 'valid', be, 'relu6');
        return depthwiseRef(e, es, fd, [3, 3, ce, 1], s, 'same', bd, 'relu6');
      },
      ...sumTol(9 + cin),
    });
  });
  return out;
}

function poolAndNormChecks(): Check[] {
  const out: Check[] = [];
  const pools: Array<[number[], number, number, Pad]> = [
    [[2, 9, 9, 4], 3, 2, 'same'],
    [[1, 8, 8, 3], 2, 2, 'valid'],
    [[1, 7, 5, 17], 3, 1, 'same'],
  ];
  pools.forEach(([xs, k, s, pad], i) => {
    const x = values(size(xs), 80 + i);
    out.push({
      family: 'pool',
      name: `max [${xs}] ${k} s${s} ${pad}`,
      run: () => lib.maxPool(T(x, xs), k, s, pad),
      want: () => maxPoolRef(x, xs, [k, k], s, pad),
      ...tol,
    });
    out.push({
      family: 'pool',
      name: `avg [${xs}] ${k} s${s} ${pad}`,
      run: () => lib.avgPool(T(x, xs), k, s, pad),
      want: () => avgPoolRef(x, xs, [k, k], s, pad),
      ...tol,
    });
  });
  for (const [rows, c] of [
    [1, 1],
    [37, 5],
    [1000, 32],
    [4099, 12],
  ]) {
    const x = values(rows * c, rows + c);
    const mean = values(c, 1);
    const v = values(c, 2, 0.5, 2);
    const off = values(c, 3);
    const sc = values(c, 4);
    out.push({
      family: 'batchNorm',
      name: `inference [${rows},${c}]`,
      run: () => lib.batchNorm(T(x, [rows, c]), T(mean, [c]), T(v, [c]), T(off, [c]), T(sc, [c]), 1e-3),
      want: () => batchNormRef(x, c, mean, v, off, sc, 1e-3),
      ...tol,
    });
    if (rows > 1) {
      out.push({
        family: 'batchNorm',
        name: `training [${rows},${c}]`,
        run: () => lib.batchNormTraining(T(x, [rows, c]), T(sc, [c]), T(off, [c]), 1e-3).y,
        want: () => {
          const m = momentsRef(x, c);
          return batchNormRef(x, c, m.mean, m.variance, off, sc, 1e-3);
        },
        atol: 1e-4,
        rtol: 1e-4,
      });
    }
  }
  return out;
}

const REDUCERS = { sum: lib.sum, max: lib.max, mean: lib.mean };

function reduceChecks(): Check[] {
  const out: Check[] = [];
  const cases: Array<[number[], number[]]> = [
    [[1], [0]],
    [[33, 65], [0]],
    [[33, 65], [1]],
    [
      [2, 3, 129, 5],
      [1, 2],
    ],
    [[100003], [0]],
    [[7, 1001], [1]],
  ];
  cases.forEach(([xs, axes], i) => {
    const x = values(size(xs), 90 + i);
    for (const kind of ['sum', 'max', 'mean'] as const) {
      const R = axes.reduce((p, a) => p * xs[a], 1);
      out.push({
        family: 'reduce',
        name: `${kind} [${xs}] axes ${axes}`,
        run: () => REDUCERS[kind](T(x, xs), axes),
        want: () => reduceRef(kind, x, xs, axes),
        ...(kind === 'max' ? tol : sumTol(R)),
      });
    }
  });
  for (const [xs, axis] of [
    [[3, 5], 1],
    [[7, 1001], 1],
    [[4, 9, 3], 1],
  ] as Array<[number[], number]>) {
    const x = values(size(xs), 5, -4, 4);
    out.push({
      family: 'softmax',
      name: `[${xs}] axis ${axis}`,
      run: () => lib.softmax(T(x, xs), axis),
      want: () => softmaxRef('softmax', x, xs, axis),
      ...tol,
    });
  }
  const logits = values(13 * 10, 6, -3, 3);
  const labels = Array.from({ length: 13 }, (_, i) => (i * 7) % 10);
  out.push({
    family: 'crossentropy',
    name: 'sparse [13,10]',
    run: () => lib.sparseSoftmaxCrossEntropy(lib.tensor(labels, [13], 'int32'), T(logits, [13, 10])),
    want: () => {
      const ls = softmaxRef('logSoftmax', logits, [13, 10], 1);
      return labels.map((l, r) => -ls[r * 10 + l]);
    },
    ...tol,
  });
  return out;
}

function elementwiseAndMovementChecks(): Check[] {
  const a = values(4 * 1 * 5, 1);
  const b = values(3 * 1, 2);
  const bcast = (fn: (x: number, y: number) => number) => {
    const y: number[] = [];
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 3; j++) for (let k = 0; k < 5; k++) y.push(fn(a[i * 5 + k], b[j]));
    return y;
  };
  const big = values(70001, 3, -3, 3);
  const unary: Array<[string, (t: lib.Tensor) => lib.Tensor, (v: number) => number]> = [
    ['relu', lib.relu, (v) => Math.max(v, 0)],
    ['exp', lib.exp, Math.exp],
    ['sigmoid', lib.sigmoid, (v) => 1 / (1 + Math.exp(-v))],
  ];
  const out: Check[] = [
    {
      family: 'binary',
      name: 'add [4,1,5]+[3,1]',
      run: () => lib.add(T(a, [4, 1, 5]), T(b, [3, 1])),
      want: () => bcast((x, y) => x + y),
      ...tol,
    },
    {
      family: 'binary',
      name: 'mul [4,1,5]*[3,1]',
      run: () => lib.mul(T(a, [4, 1, 5]), T(b, [3, 1])),
      want: () => bcast((x, y) => x * y),
      ...tol,
    },
    ...unary.map(([n, f, r]) => ({
      family: 'unary',
      name: `${n} [70001]`,
      run: () => f(T(big, [70001])),
      want: () => Array.from(big, r),
      atol: 1e-6,
      rtol: 2e-6,
    })),
  ];
  const xs = [3, 4, 5];
  const x = values(60, 7);
  const X = { data: x, shape: xs };
  const y = values(3 * 2 * 5, 8);
  out.push(
    {
      family: 'movement',
      name: 'transpose [3,4,5] [2,0,1]',
      run: () => lib.transpose(T(x, xs), [2, 0, 1]),
      want: () => transposeRef(X, [2, 0, 1]).data,
      exact: true,
      ...tol,
    },
    {
      family: 'movement',
      name: 'slice [3,4,5] [1,1,2] [2,3,3]',
      run: () => lib.slice(T(x, xs), [1, 1, 2], [2, 3, 3]),
      want: () => sliceRef(X, [1, 1, 2], [2, 3, 3]).data,
      exact: true,
      ...tol,
    },
    {
      family: 'movement',
      name: 'concat axis 1',
      run: () => lib.concat([T(x, xs), T(y, [3, 2, 5])], 1),
      want: () => concatRef([X, { data: y, shape: [3, 2, 5] }], 1).data,
      exact: true,
      ...tol,
    },
    {
      family: 'movement',
      name: 'pad [3,4,5]',
      run: () =>
        lib.pad(T(x, xs), [
          [1, 0],
          [0, 2],
          [3, 1],
        ]),
      want: () =>
        padRef(x, xs, [
          [1, 0],
          [0, 2],
          [3, 1],
        ]),
      exact: true,
      ...tol,
    },
    {
      family: 'movement',
      name: 'gather axis 1',
      run: () => lib.gather(T(x, xs), lib.tensor([3, 0, 0, 2], [4], 'int32'), 1),
      want: () => gatherRef(X, { data: [3, 0, 0, 2], shape: [4] }, 1).data,
      exact: true,
      ...tol,
    },
  );
  return out;
}

export function checksOthers(): Check[] {
  return [...convChecks(), ...poolAndNormChecks(), ...reduceChecks(), ...elementwiseAndMovementChecks()];
}
