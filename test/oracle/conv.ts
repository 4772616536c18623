/**
 * Float64 CPU references for the window ops (conv2d, depthwiseConv2d, pooling, pad, batch norm)
 * and their gradients, written as the plain definitions (loops over every output and tap), NHWC.
 * Inputs may be any ArrayLike<number>; outputs are Float64Array, so the same functions serve
 * finite-difference gradient checks.
 */

export type RefPadding = 'same' | 'valid' | [[number, number], [number, number]];
export type RefAct = 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'tanh';

export interface RefGeo {
  n: number;
  h: number;
  w: number;
  c: number;
  oh: number;
  ow: number;
  sh: number;
  sw: number;
  padT: number;
  padL: number;
}

/** TensorFlow's output size and leading pad of one spatial axis. */
function axis(size: number, k: number, s: number, padding: RefPadding, a: 0 | 1): [number, number] {
  if (padding === 'valid') return [Math.ceil((size - k + 1) / s), 0];
  if (padding === 'same') {
    const out = Math.ceil(size / s);
    const total = Math.max(0, (out - 1) * s + k - size);
    return [out, Math.floor(total / 2)];
  }
  const [before, after] = padding[a];
  return [Math.floor((size + before + after - k) / s) + 1, before];
}

export function refGeo(
  xShape: readonly number[],
  kh: number,
  kw: number,
  strides: number | [number, number],
  padding: RefPadding,
): RefGeo {
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  const [n, h, w, c] = xShape;
  const [oh, padT] = axis(h, kh, sh, padding, 0);
  const [ow, padL] = axis(w, kw, sw, padding, 1);
  return { n, h, w, c, oh, ow, sh, sw, padT, padL };
}

export function actRef(act: RefAct, v: number): number {
  switch (act) {
    case 'linear':
      return v;
    case 'relu':
      return Math.max(v, 0);
    case 'relu6':
      return Math.min(Math.max(v, 0), 6);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-v));
    case 'tanh':
      return Math.tanh(v);
  }
}

/** Calls fn(o, i) for every output pixel index o = (b,oy,ox) and its in-bounds input pixel i per tap t. */
function forTaps(g: RefGeo, kh: number, kw: number, fn: (o: number, i: number, t: number) => void): void {
  for (let b = 0; b < g.n; b++)
    for (let oy = 0; oy < g.oh; oy++)
      for (let ox = 0; ox < g.ow; ox++) {
        const o = (b * g.oh + oy) * g.ow + ox;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * g.sh - g.padT + ky;
          if (iy < 0 || iy >= g.h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * g.sw - g.padL + kx;
            if (ix < 0 || ix >= g.w) continue;
            fn(o, (b * g.h + iy) * g.w + ix, ky * kw + kx);
          }
        }
      }
}

// ---- conv2d ----

export function conv2dRef(
  x: ArrayLike<number>,
  xShape: readonly number[],
  f: ArrayLike<number>,
  fShape: readonly number[],
  strides: number | [number, number],
  padding: RefPadding,
  bias?: ArrayLike<number>,
  act: RefAct = 'linear',
): Float64Array {
  const [kh, kw, ci, co] = fShape;
  const g = refGeo(xShape, kh, kw, strides, padding);
  const y = new Float64Array(g.n * g.oh * g.ow * co);
  forTaps(g, kh, kw, (o, i, t) => {
    for (let c = 0; c < ci; c++) {
      const xv = x[i * ci + c];
      for (let d = 0; d < co; d++) y[o * co + d] += xv * f[(t * ci + c) * co + d];
    }
  });
  for (let j = 0; j < y.length; j++) y[j] = actRef(act, y[j] + (bias ? bias[j % co] : 0));
  return y;
}

/** d(sum(dy * conv2d(x, f)))/dx. */
export function conv2dBackpropInputRef(
  dy: ArrayLike<number>,
  f: ArrayLike<number>,
  fShape: readonly number[],
  xShape: readonly number[],
  strides: number | [number, number],
  padding: RefPadding,
): Float64Array {
  const [kh, kw, ci, co] = fShape;
  const g = refGeo(xShape, kh, kw, strides, padding);
  const dx = new Float64Array(g.n * g.h * g.w * ci);
  forTaps(g, kh, kw, (o, i, t) => {
    for (let c = 0; c < ci; c++) {
      let s = 0;
      for (let d = 0; d < co; d++) s += dy[o * co + d] * f[(t * ci + c) * co + d];
      dx[i * ci + c] += s;
    }
  });
  return dx;
}

/** d(sum(dy * conv2d(x, f)))/df. */
export function conv2dBackpropFilterRef(
  x: ArrayLike<number>,
  xShape: readonly number[],
  dy: ArrayLike<number>,
  fShape: readonly number[],
  strides: number | [number, number],
  padding: RefPadding,
): Float64Array {
  const [kh, kw, ci, co] = fShape;
  const g = refGeo(xShape, kh, kw, strides, padding);
  const df = new Float64Array(kh * kw * ci * co);
  forTaps(g, kh, kw, (o, i, t) => {
    for (let c = 0; c < ci; c++) {
      const xv = x[i * ci + c];
      for (let d = 0; d < co; d++) df[(t * ci + c) * co + d] += xv * dy[o * co + d];
    }
  });
  return df;
}

// ---- depthwise ----

export function depthwiseRef(
  x: ArrayLike<number>,
  xShape: readonly number[],
  f: ArrayLike<number>,
  fShape: readonly number[],
  strides: number | [number, number],
  padding: RefPadding,
  bias?: ArrayLike<number>,
  act: RefAct = 'linear',
): Float64Array {
  const [kh, kw, ci, mult] = fShape;
  const co = ci * mult;
  const g = refGeo(xShape, kh, kw, strides, padding);
  const y = new Float64Array(g.n * g.oh * g.ow * co);
  forTaps(g, kh, kw, (o, i, t) => {
    for (let c = 0; c < ci; c++)
      for (let m = 0; m < mult; m++) y[o * co + c * mult + m] += x[i * ci + c] * f[(t * ci + c) * mult + m];
  });
  for (let j = 0; j < y.length; j++) y[j] = actRef(act, y[j] + (bias ? bias[j % co] : 0));
  return y;
}

export function depthwiseBackpropInputRef(
  dy: ArrayLike<number>,
  f: ArrayLike<number>,
  fShape: readonly number[],
  xShape: readonly number[],
  strides: number | [number, number],
  padding: RefPadding,
): Float64Array {
  const [kh, kw, ci, mult] = fShape;
  const co = ci * mult;
  const g = refGeo(xShape, kh, kw, strides, padding);
  const dx = new Float64Array(g.n * g.h * g.w * ci);
  forTaps(g, kh, kw, (o, i, t) => {
    for (let c = 0; c < ci; c++)
      for (let m = 0; m < mult; m++) dx[i * ci + c] += dy[o * co + c * mult + m] * f[(t * ci + c) * mult + m];
  });
  return dx;
}

export function depthwiseBackpropFilterRef(
  x: ArrayLike<number>,
  xShape: readonly number[],
  dy: ArrayLike<number>,
  fShape: readonly number[],
  strides: number | [number, number],
  padding: RefPadding,
): Float64Array {
  const [kh, kw, ci, mult] = fShape;
  const co = ci * mult;
  const g = refGeo(xShape, kh, kw, strides, padding);
  const df = new Float64Array(kh * kw * ci * mult);
  forTaps(g, kh, kw, (o, i, t) => {
    for (let c = 0; c < ci; c++)
      for (let m = 0; m < mult; m++) df[(t * ci + c) * mult + m] += x[i * ci + c] * dy[o * co + c * mult + m];
  });
  return df;
}

// ---- pooling ----

export function maxPoolRef(
  x: ArrayLike<number>,
  xShape: readonly number[],
  k: [number, number],
  strides: number | [number, number],
  padding: 'same' | 'valid',
): Float64Array {
  const g = refGeo(xShape, k[0], k[1], strides, padding);
  const y = new Float64Array(g.n * g.oh * g.ow * g.c).fill(Number.NEGATIVE_INFINITY);
  forTaps(g, k[0], k[1], (o, i) => {
    for (let c = 0; c < g.c; c++) y[o * g.c + c] = Math.max(y[o * g.c + c], x[i * g.c + c]);
  });
  return y;
}

/** The gradient goes to the first maximum of each window in row-major order (TensorFlow). */
export function maxPoolGradRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  xShape: readonly number[],
  k: [number, number],
  strides: number | [number, number],
  padding: 'same' | 'valid',
): Float64Array {
  const g = refGeo(xShape, k[0], k[1], strides, padding);
  const best = new Float64Array(g.n * g.oh * g.ow * g.c).fill(Number.NEGATIVE_INFINITY);
  const arg = new Int32Array(best.length).fill(-1);
  forTaps(g, k[0], k[1], (o, i) => {
    for (let c = 0; c < g.c; c++) {
      if (x[i * g.c + c] > best[o * g.c + c] || arg[o * g.c + c] < 0) {
        best[o * g.c + c] = x[i * g.c + c];
        arg[o * g.c + c] = i * g.c + c;
      }
    }
  });
  const dx = new Float64Array(g.n * g.h * g.w * g.c);
  for (let j = 0; j < arg.length; j++) if (arg[j] >= 0) dx[arg[j]] += dy[j];
  return dx;
}

/** Average over the in-bounds cells of each window (padding excluded, as TensorFlow). */
export function avgPoolRef(
  x: ArrayLike<number>,
  xShape: readonly number[],
  k: [number, number],
  strides: number | [number, number],
  padding: 'same' | 'valid',
): Float64Array {
  const g = refGeo(xShape, k[0], k[1], strides, padding);
  const y = new Float64Array(g.n * g.oh * g.ow * g.c);
  const cnt = new Float64Array(g.n * g.oh * g.ow);
  forTaps(g, k[0], k[1], (o, i) => {
    cnt[o]++;
    for (let c = 0; c < g.c; c++) y[o * g.c + c] += x[i * g.c + c];
  });
  for (let j = 0; j < y.length; j++) y[j] /= cnt[Math.floor(j / g.c)];
  return y;
}

export function avgPoolGradRef(
  dy: ArrayLike<number>,
  xShape: readonly number[],
  k: [number, number],
  strides: number | [number, number],
  padding: 'same' | 'valid',
): Float64Array {
  const g = refGeo(xShape, k[0], k[1], strides, padding);
  const cnt = new Float64Array(g.n * g.oh * g.ow);
  forTaps(g, k[0], k[1], (o) => cnt[o]++);
  const dx = new Float64Array(g.n * g.h * g.w * g.c);
  forTaps(g, k[0], k[1], (o, i) => {
    for (let c = 0; c < g.c; c++) dx[i * g.c + c] += dy[o * g.c + c] / cnt[o];
  });
  return dx;
}

export function globalAvgPoolRef(x: ArrayLike<number>, xShape: readonly number[]): Float64Array {
  const [n, h, w, c] = xShape;
  const y = new Float64Array(n * c);
  for (let b = 0; b < n; b++)
    for (let p = 0; p < h * w; p++)
      for (let d = 0; d < c; d++) y[b * c + d] += x[(b * h * w + p) * c + d] / (h * w);
  return y;
}

// ---- pad ----

export function padRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  paddings: ReadonlyArray<readonly [number, number]>,
  value = 0,
): Float64Array {
  const outShape = shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  const size = outShape.reduce((a, b) => a * b, 1);
  const y = new Float64Array(size).fill(value);
  const n = shape.reduce((a, b) => a * b, 1);
  for (let j = 0; j < n; j++) {
    let rem = j;
    let o = 0;
    let stride = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const coord = rem % shape[d];
      rem = Math.floor(rem / shape[d]);
      o += (coord + paddings[d][0]) * stride;
      stride *= outShape[d];
    }
    y[o] = x[j];
  }
  return y;
}

// ---- batch norm (per channel over the last axis) ----

export function batchNormRef(
  x: ArrayLike<number>,
  c: number,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  offset: ArrayLike<number> | undefined,
  scale: ArrayLike<number> | undefined,
  eps: number,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let j = 0; j < x.length; j++) {
    const d = j % c;
    y[j] =
      ((x[j] - mean[d]) / Math.sqrt(variance[d] + eps)) * (scale ? scale[d] : 1) + (offset ? offset[d] : 0);
  }
  return y;
}

/** Batch mean and biased variance per channel. */
export function momentsRef(x: ArrayLike<number>, c: number): { mean: Float64Array; variance: Float64Array } {
  const rows = x.length / c;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let j = 0; j < x.length; j++) mean[j % c] += x[j] / rows;
  for (let j = 0; j < x.length; j++) variance[j % c] += (x[j] - mean[j % c]) ** 2 / rows;
  return { mean, variance };
}

export function batchNormGradRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  c: number,
  gamma: ArrayLike<number> | undefined,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const rows = x.length / c;
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  const inv = Array.from({ length: c }, (_, d) => 1 / Math.sqrt(variance[d] + eps));
  for (let j = 0; j < x.length; j++) {
    const d = j % c;
    dbeta[d] += dy[j];
    dgamma[d] += dy[j] * (x[j] - mean[d]) * inv[d];
  }
  const dx = new Float64Array(x.length);
  for (let j = 0; j < x.length; j++) {
    const d = j % c;
    const xhat = (x[j] - mean[d]) * inv[d];
    dx[j] = (gamma ? gamma[d] : 1) * inv[d] * (dy[j] - dbeta[d] / rows - (xhat * dgamma[d]) / rows);
  }
  return { dx, dgamma, dbeta };
}
