import { ravel, sizeOf, unravel } from './movement.js';

/**
 * Float64 CPU references of the merge and reshaping layers (Keras semantics), on flat row-major
 * arrays: Dot (batch_dot with normalize), Permute, RepeatVector, Cropping2D and UpSampling2D.
 */

/** Keras Dot on [b, ...] inputs: contracts axis a0 of x with axis a1 of y per sample. */
export function dotRef(
  x: ArrayLike<number>,
  xs: readonly number[],
  y: ArrayLike<number>,
  ys: readonly number[],
  a0: number,
  a1: number,
  normalize = false,
): { data: Float64Array; shape: number[] } {
  const nx = normalize ? l2NormalizeRef(x, xs, a0) : Float64Array.from(x);
  const ny = normalize ? l2NormalizeRef(y, ys, a1) : Float64Array.from(y);
  const restX = xs.map((d, i) => [d, i] as const).filter(([, i]) => i !== 0 && i !== a0);
  const restY = ys.map((d, i) => [d, i] as const).filter(([, i]) => i !== 0 && i !== a1);
  const shape = [xs[0], ...restX.map(([d]) => d), ...restY.map(([d]) => d)];
  const outShape = shape.length === 1 ? [xs[0], 1] : shape;
  const out = new Float64Array(sizeOf(outShape));
  for (let o = 0; o < out.length; o++) {
    const c = unravel(o, shape.length === 1 ? [xs[0]] : shape);
    const b = c[0];
    const cx = [b, ...restX.map((_, k) => c[1 + k])];
    const cy = [b, ...restY.map((_, k) => c[1 + restX.length + k])];
    let s = 0;
    for (let k = 0; k < xs[a0]; k++) {
      const ix = [...cx];
      ix.splice(a0, 0, k);
      const iy = [...cy];
      iy.splice(a1, 0, k);
      s += nx[ravel(ix, xs)] * ny[ravel(iy, ys)];
    }
    out[o] = s;
  }
  return { data: out, shape: outShape };
}

function l2NormalizeRef(x: ArrayLike<number>, shape: readonly number[], axis: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = unravel(i, shape);
    let ss = 0;
    for (let k = 0; k < shape[axis]; k++) {
      const j = [...c];
      j[axis] = k;
      ss += x[ravel(j, shape)] ** 2;
    }
    out[i] = x[i] / Math.sqrt(Math.max(ss, 1e-12));
  }
  return out;
}

/** Keras Permute: `dims` (1-based) of the non-batch axes. */
export function permuteRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  dims: readonly number[],
): Float64Array {
  const perm = [0, ...dims];
  const outShape = perm.map((p) => shape[p]);
  const out = new Float64Array(x.length);
  for (let o = 0; o < out.length; o++) {
    const c = unravel(o, outShape);
    const src = new Array<number>(shape.length);
    perm.forEach((p, i) => {
      src[p] = c[i];
    });
    out[o] = x[ravel(src, shape)];
  }
  return out;
}

export function repeatVectorRef(x: ArrayLike<number>, b: number, f: number, n: number): Float64Array {
  const out = new Float64Array(b * n * f);
  for (let i = 0; i < b; i++)
    for (let r = 0; r < n; r++) for (let k = 0; k < f; k++) out[(i * n + r) * f + k] = x[i * f + k];
  return out;
}

export function cropRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  crop: [[number, number], [number, number]],
): Float64Array {
  const [b, h, w, c] = shape;
  const oh = h - crop[0][0] - crop[0][1];
  const ow = w - crop[1][0] - crop[1][1];
  const out = new Float64Array(b * oh * ow * c);
  let o = 0;
  for (let n = 0; n < b; n++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let k = 0; k < c; k++) out[o++] = x[((n * h + i + crop[0][0]) * w + j + crop[1][0]) * c + k];
  return out;
}

/** UpSampling2D: nearest repeats; bilinear is TF's resize with half-pixel centres (no antialias). */
export function upsampleRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  size: [number, number],
  interpolation: 'nearest' | 'bilinear',
): Float64Array {
  const [b, h, w, c] = shape;
  const oh = h * size[0];
  const ow = w * size[1];
  const out = new Float64Array(b * oh * ow * c);
  const at = (n: number, i: number, j: number, k: number) => x[((n * h + i) * w + j) * c + k];
  const src = (o: number, s: number, len: number) => {
    const v = Math.max((o + 0.5) / s - 0.5, 0);
    const lo = Math.min(Math.floor(v), len - 1);
    return [lo, Math.min(lo + 1, len - 1), v - lo] as const;
  };
  let o = 0;
  for (let n = 0; n < b; n++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let k = 0; k < c; k++) {
          if (interpolation === 'nearest') {
            out[o++] = at(n, Math.floor(i / size[0]), Math.floor(j / size[1]), k);
            continue;
          }
          const [i0, i1, fi] = src(i, size[0], h);
          const [j0, j1, fj] = src(j, size[1], w);
          const top = at(n, i0, j0, k) * (1 - fj) + at(n, i0, j1, k) * fj;
          const bot = at(n, i1, j0, k) * (1 - fj) + at(n, i1, j1, k) * fj;
          out[o++] = top * (1 - fi) + bot * fi;
        }
  return out;
}

/**
 * Convolution with dilation, stride and explicit pads, dense ([kh, kw, ci, co]) or depthwise
 * ([kh, kw, ci, m], output channel c * m + j): the definition, tap by tap.
 */
export function dilatedConvRef(
  x: ArrayLike<number>,
  xShape: readonly number[],
  f: ArrayLike<number>,
  fShape: readonly number[],
  o: {
    strides?: [number, number];
    dilation?: [number, number];
    pads: [[number, number], [number, number]];
    depthwise?: boolean;
  },
): { data: Float64Array; shape: number[] } {
  const [n, h, w, ci] = xShape;
  const [kh, kw, , k4] = fShape;
  const [sh, sw] = o.strides ?? [1, 1];
  const [dh, dw] = o.dilation ?? [1, 1];
  const [[pt, pb], [pl, pr]] = o.pads;
  const oh = Math.floor((h + pt + pb - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + pl + pr - dw * (kw - 1) - 1) / sw) + 1;
  const co = o.depthwise ? ci * k4 : k4;
  const y = new Float64Array(n * oh * ow * co);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let u = 0; u < kh; u++)
          for (let v = 0; v < kw; v++) {
            const yi = i * sh + u * dh - pt;
            const xj = j * sw + v * dw - pl;
            if (yi < 0 || yi >= h || xj < 0 || xj >= w) continue;
            const base = ((b * oh + i) * ow + j) * co;
            for (let c = 0; c < ci; c++) {
              const xv = x[((b * h + yi) * w + xj) * ci + c];
              for (let d = 0; d < k4; d++) {
                const fv = f[((u * kw + v) * ci + c) * k4 + d];
                y[base + (o.depthwise ? c * k4 + d : d)] += xv * fv;
              }
            }
          }
  return { data: y, shape: [n, oh, ow, co] };
}

/** TF 'same' pads of a stride-1 window k dilated by d. */
export function samePads(k: [number, number], d: [number, number]): [[number, number], [number, number]] {
  return [0, 1].map((i) => {
    const t = d[i] * (k[i] - 1);
    return [Math.floor(t / 2), t - Math.floor(t / 2)];
  }) as [[number, number], [number, number]];
}
