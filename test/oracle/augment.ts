/**
 * CPU oracle of `affineResample` (Keras 3 `affine_transform` on JAX: `map_coordinates` with
 * pixel-index coordinates, per-tap fill modes), in float64, and of the 3x3 composition the
 * augmentation layers use.
 */
export type FillMode = 'reflect' | 'wrap' | 'constant' | 'nearest';

export interface ResampleCase {
  data: ArrayLike<number>;
  /** [b, h, w, c] */
  shape: readonly number[];
  /** b rows (or 1) of [a0, a1, a2, b0, b1, b2]. */
  transforms: readonly number[][];
  outH?: number;
  outW?: number;
  interpolation?: 'bilinear' | 'nearest';
  fillMode?: FillMode;
  fillValue?: number;
}

function fix(i: number, n: number, mode: FillMode): number {
  if (mode === 'reflect') {
    const m = ((i % (2 * n)) + 2 * n) % (2 * n);
    return m >= n ? 2 * n - 1 - m : m;
  }
  if (mode === 'wrap') return ((i % n) + n) % n;
  if (mode === 'nearest') return Math.min(Math.max(i, 0), n - 1);
  return i;
}

/** Round half to even, as jnp.round and WGSL round. */
function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

export function affineResampleCpu(c: ResampleCase): Float64Array {
  const [b, h, w, ch] = c.shape;
  const oh = c.outH ?? h;
  const ow = c.outW ?? w;
  const mode = c.fillMode ?? 'constant';
  const fv = c.fillValue ?? 0;
  const out = new Float64Array(b * oh * ow * ch);
  const tap = (n: number, y: number, x: number, k: number): number => {
    if (mode === 'constant' && (y < 0 || y >= h || x < 0 || x >= w)) return fv;
    return c.data[((n * h + fix(y, h, mode)) * w + fix(x, w, mode)) * ch + k];
  };
  for (let n = 0; n < b; n++) {
    const t = c.transforms[c.transforms.length === 1 ? 0 : n];
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++) {
        const sx = t[0] * x + t[1] * y + t[2];
        const sy = t[3] * x + t[4] * y + t[5];
        for (let k = 0; k < ch; k++) {
          let v: number;
          if (c.interpolation === 'nearest') v = tap(n, roundEven(sy), roundEven(sx), k);
          else {
            const x0 = Math.floor(sx);
            const y0 = Math.floor(sy);
            const wx = sx - x0;
            const wy = sy - y0;
            v =
              (1 - wy) * ((1 - wx) * tap(n, y0, x0, k) + wx * tap(n, y0, x0 + 1, k)) +
              wy * ((1 - wx) * tap(n, y0 + 1, x0, k) + wx * tap(n, y0 + 1, x0 + 1, k));
          }
          out[((n * oh + y) * ow + x) * ch + k] = v;
        }
      }
  }
  return out;
}

/** a ∘ b for rows [a0 a1 a2 b0 b1 b2] (maps applied output -> input: b first, then a). */
export function composeRows(a: readonly number[], b: readonly number[]): number[] {
  return [
    a[0] * b[0] + a[1] * b[3],
    a[0] * b[1] + a[1] * b[4],
    a[0] * b[2] + a[1] * b[5] + a[2],
    a[3] * b[0] + a[4] * b[3],
    a[3] * b[1] + a[4] * b[4],
    a[3] * b[2] + a[4] * b[5] + a[5],
  ];
}
