import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { recordOp } from '../tensor/record.js';
import { shapesEqual, sizeOf } from '../tensor/shape.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { defineKernel } from './program.js';
import { assertBindable, assertDTypeIn, assertTensor, grid } from './util.js';

/**
 * Layer normalization over the last axes (Keras `LayerNormalization`): each row of `n` elements
 * (the product of the normalized axes) becomes (x - mean) / sqrt(variance + epsilon) * gamma + beta
 * with the row's population mean and variance. One lane per row, two passes for the statistics
 * (no E[x²] - E[x]² cancellation). The backward recomputes the statistics (nothing is stored
 * between the passes): one lane per row for dx, one lane per column for dgamma and dbeta.
 */

const WG = 64;

const forward = defineKernel<{ gamma: boolean; beta: boolean }, string, 'rows' | 'n' | 'eps'>({
  name: 'layer_norm',
  bindings: (c) => ({
    x: 'read f32',
    ...(c.gamma ? { gamma: 'read f32' } : {}),
    ...(c.beta ? { beta: 'read f32' } : {}),
    out: 'rw f32',
  }),
  uniforms: { rows: 'u32', n: 'u32', eps: 'f32' },
  workgroupSize: WG,
  index: { total: 'rows', name: 'r' },
  helpers: () => STATS,
  body: (c) => `
  let base = r * p.n;
  let st = stats(base);
  for (var j = 0u; j < p.n; j++) {
    var y = (x[base + j] - st.x) * st.y;
    ${c.gamma ? 'y = y * gamma[j];' : ''}
    ${c.beta ? 'y = y + beta[j];' : ''}
    out[base + j] = y;
  }`,
});

/** mean and 1/sqrt(variance + eps) of the row starting at `base`, as (x, y). */
const STATS = `
fn stats(base: u32) -> vec2f {
  var s = 0.0;
  for (var j = 0u; j < p.n; j++) { s += x[base + j]; }
  let mean = s / f32(p.n);
  var v = 0.0;
  for (var j = 0u; j < p.n; j++) { let d = x[base + j] - mean; v = fma(d, d, v); }
  return vec2f(mean, inverseSqrt(v / f32(p.n) + p.eps));
}`;

const backwardRows = defineKernel<{ gamma: boolean }, string, 'rows' | 'n' | 'eps'>({
  name: 'layer_norm_grad_rows',
  bindings: (c) => ({
    dy: 'read f32',
    x: 'read f32',
    ...(c.gamma ? { gamma: 'read f32' } : {}),
    dx: 'rw f32',
    st: 'rw f32',
  }),
  uniforms: { rows: 'u32', n: 'u32', eps: 'f32' },
  workgroupSize: WG,
  index: { total: 'rows', name: 'r' },
  helpers: () => STATS,
  body: (c) => {
    const g = c.gamma ? 'dy[base + j] * gamma[j]' : 'dy[base + j]';
    return `
  let base = r * p.n;
  let s = stats(base);
  var s1 = 0.0;
  var s2 = 0.0;
  for (var j = 0u; j < p.n; j++) {
    let g = ${g};
    s1 += g;
    s2 = fma(g, (x[base + j] - s.x) * s.y, s2);
  }
  let inv = 1.0 / f32(p.n);
  for (var j = 0u; j < p.n; j++) {
    let xh = (x[base + j] - s.x) * s.y;
    dx[base + j] = s.y * (${g} - s1 * inv - xh * s2 * inv);
  }
  st[2u * r] = s.x;
  st[2u * r + 1u] = s.y;`;
  },
});

const backwardParams = defineKernel({
  name: 'layer_norm_grad_params',
  bindings: { dy: 'read f32', x: 'read f32', st: 'read f32', dgamma: 'rw f32', dbeta: 'rw f32' },
  uniforms: { rows: 'u32', n: 'u32' },
  workgroupSize: WG,
  index: { total: 'n', name: 'c' },
  body: () => `
  var dg = 0.0;
  var db = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let d = dy[r * p.n + c];
    dg = fma(d, (x[r * p.n + c] - st[2u * r]) * st[2u * r + 1u], dg);
    db += d;
  }
  dgamma[c] = dg;
  dbeta[c] = db;`,
});

/** Normalizes `axis` (an axis or list of axes) into the count of trailing axes it names. */
function trailing(x: Tensor, axis: number | readonly number[], op: string): number {
  const list = typeof axis === 'number' ? [axis] : axis;
  if (!Array.isArray(list) || list.length === 0 || list.some((a) => !Number.isInteger(a))) {
    throw new ArgumentError(
      `${op}: axis must be an integer or a non-empty array of integers, got ${JSON.stringify(axis)}`,
    );
  }
  const norm = [...new Set(list.map((a) => (a < 0 ? a + x.rank : a)))].sort((a, b) => a - b);
  const k = norm.length;
  if (norm.some((a, i) => a !== x.rank - k + i)) {
    throw new ArgumentError(
      `${op}: axis must name the last axes of x ${fmtShape(x.shape)} (e.g. -1 or [-2, -1]), got ${JSON.stringify(axis)}`,
    );
  }
  return k;
}

function checkEps(eps: unknown, op: string): number {
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) {
    throw new ArgumentError(`${op}: epsilon must be a finite number > 0, got ${JSON.stringify(eps)}`);
  }
  return eps;
}

function checkParam(t: Tensor | undefined, shape: readonly number[], op: string, arg: string): void {
  if (t === undefined) return;
  assertTensor(t, op, arg);
  assertDTypeIn(t, ['float32'], op, arg);
  if (!shapesEqual(t.shape, shape)) {
    throw new ShapeError(
      `${op}: ${arg} must have the normalized shape ${fmtShape(shape)}, got ${fmtShape(t.shape)}`,
    );
  }
}

/** Options of `layerNorm`. */
export interface LayerNormOptions {
  /** Scale, of the normalized axes' shape (default: none). */
  gamma?: Tensor;
  /** Offset, of the normalized axes' shape (default: none). */
  beta?: Tensor;
  /** The normalized axes: the last one (default -1) or the last few, e.g. [-2, -1]. */
  axis?: number | readonly number[];
  /** Added to the variance (default 1e-3, as Keras). */
  epsilon?: number;
}

/**
 * Layer normalization (Keras `LayerNormalization` as an op): over the last axes of `x`,
 * `(x - mean) / sqrt(variance + epsilon) * gamma + beta`, with population statistics per row.
 */
export function layerNorm(x: Tensor, opts: LayerNormOptions = {}): Tensor {
  const op = 'layerNorm';
  assertTensor(x, op, 'x');
  assertDTypeIn(x, ['float32'], op, 'x');
  if (opts === null || typeof opts !== 'object') {
    throw new ArgumentError(`${op}: options must be an object, got ${JSON.stringify(opts)}`);
  }
  if (x.rank < 1) throw new ShapeError(`${op}: x must have rank >= 1, got ${fmtShape(x.shape)}`);
  const k = trailing(x, opts.axis ?? -1, op);
  const eps = checkEps(opts.epsilon ?? 1e-3, op);
  const normShape = x.shape.slice(x.rank - k);
  checkParam(opts.gamma, normShape, op, 'gamma');
  checkParam(opts.beta, normShape, op, 'beta');
  assertBindable(x, op, 'x');
  const n = sizeOf(normShape);
  const rows = n === 0 ? 0 : x.size / n;
  const out = emptyTensor(x.shape, 'float32');
  const { gamma, beta } = opts;
  if (x.size > 0) {
    forward.run({
      constants: { gamma: !!gamma, beta: !!beta },
      buffers: { x, out, ...(gamma ? { gamma } : {}), ...(beta ? { beta } : {}) },
      uniforms: { rows, n, eps },
      workgroups: grid(rows, WG),
    });
  }
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  return recordOp(op, inputs, out, { epsilon: eps, normRank: k, hasGamma: !!gamma, hasBeta: !!beta });
}

export interface LayerNormGradResult {
  dx: Tensor;
  /** Of the normalized shape: sum over rows of dy * xhat. */
  dgamma: Tensor;
  /** Of the normalized shape: sum over rows of dy. */
  dbeta: Tensor;
}

/**
 * The gradient of `layerNorm` over the last `normRank` axes: dx (recomputing the statistics from
 * x), dgamma and dbeta. gamma may be omitted (no scale). Not differentiable again.
 */
export function layerNormGrad(
  dy: Tensor,
  x: Tensor,
  gamma: Tensor | undefined,
  normRank = 1,
  epsilon = 1e-3,
): LayerNormGradResult {
  const op = 'layerNormGrad';
  assertTensor(dy, op, 'dy');
  assertTensor(x, op, 'x');
  assertDTypeIn(dy, ['float32'], op, 'dy');
  assertDTypeIn(x, ['float32'], op, 'x');
  if (!shapesEqual(dy.shape, x.shape)) {
    throw new ShapeError(
      `${op}: dy must have the shape of x ${fmtShape(x.shape)}, got ${fmtShape(dy.shape)}`,
    );
  }
  if (!Number.isInteger(normRank) || normRank < 1 || normRank > x.rank) {
    throw new ArgumentError(
      `${op}: normRank must be an integer in [1, ${x.rank}], got ${JSON.stringify(normRank)}`,
    );
  }
  const eps = checkEps(epsilon, op);
  const normShape = x.shape.slice(x.rank - normRank);
  checkParam(gamma, normShape, op, 'gamma');
  assertBindable(x, op, 'x');
  const n = sizeOf(normShape);
  const rows = n === 0 ? 0 : x.size / n;
  const dx = emptyTensor(x.shape, 'float32');
  const dgamma = emptyTensor(normShape, 'float32');
  const dbeta = emptyTensor(normShape, 'float32');
  if (n > 0) {
    const st = emptyTensor([Math.max(1, rows), 2], 'float32');
    if (rows > 0) {
      backwardRows.run({
        constants: { gamma: !!gamma },
        buffers: { dy, x, dx, st, ...(gamma ? { gamma } : {}) },
        uniforms: { rows, n, eps },
        workgroups: grid(rows, WG),
      });
    }
    backwardParams.run({
      buffers: { dy, x, st, dgamma, dbeta },
      uniforms: { rows, n },
      workgroups: grid(n, WG),
    });
    st.dispose();
  }
  const inputs = [dy, x, ...(gamma ? [gamma] : [])];
  recordOp(op, inputs, dx);
  recordOp('layerNormParamGrad', [dy, x], dgamma);
  recordOp('layerNormParamGrad', [dy, x], dbeta);
  return { dx, dgamma, dbeta };
}
