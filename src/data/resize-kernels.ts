/**
 * Per-axis resampling weights of every `tf.image.resize` method other than plain bilinear, each
 * computed the way its TensorFlow kernel does (float32 scales and coordinates):
 * - `nearest`: ResizeNearestNeighbor with half-pixel centers, `floor((x + 0.5) * scale)`;
 * - `bicubic` without antialias: ResizeBicubic with half-pixel centers, Keys' cubic (a = -0.5)
 *   from its 1024-entry table, taps outside the image dropped and the rest renormalized;
 * - `area`: ResizeArea, the overlap of each output cell with the input pixels;
 * - antialias or `lanczos3`, `lanczos5`, `gaussian`, `mitchellcubic`: ScaleAndTranslate with the
 *   kernels of sampling_kernels.h (bilinear = triangle, bicubic = Keys cubic), widened by the
 *   downscale factor when antialiasing.
 * No Node-only imports.
 */

export type Interpolation =
  | 'bilinear'
  | 'nearest'
  | 'bicubic'
  | 'area'
  | 'lanczos3'
  | 'lanczos5'
  | 'gaussian'
  | 'mitchellcubic';

export const INTERPOLATIONS: readonly Interpolation[] = [
  'bilinear',
  'nearest',
  'bicubic',
  'area',
  'lanczos3',
  'lanczos5',
  'gaussian',
  'mitchellcubic',
];

/** For each output index i: `span` (index, weight) pairs at `i * span`. Weights 0 pad short spans. */
export interface AxisTaps {
  span: number;
  index: Int32Array;
  weight: Float32Array;
}

const f32 = Math.fround;

function nearest(inSize: number, outSize: number): AxisTaps {
  const scale = f32(inSize / outSize);
  const index = new Int32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    index[i] = Math.max(0, Math.min(Math.floor(f32(f32(i + 0.5) * scale)), inSize - 1));
  }
  return { span: 1, index, weight: new Float32Array(outSize).fill(1) };
}

// resize_bicubic_op.cc: InitCoeffsTable(-0.5) with kTableSize 1024.
const TABLE = 1024;
const KEYS = (() => {
  const a = -0.5;
  const t = new Float32Array((TABLE + 1) * 2);
  for (let i = 0; i <= TABLE; i++) {
    let x = f32(i / TABLE);
    t[i * 2] = ((a + 2) * x - (a + 3)) * x * x + 1;
    x += 1;
    t[i * 2 + 1] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  }
  return t;
})();

/** lrintf: round half to even. */
function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function bicubic(inSize: number, outSize: number): AxisTaps {
  const scale = f32(inSize / outSize);
  const index = new Int32Array(outSize * 4);
  const weight = new Float32Array(outSize * 4);
  for (let i = 0; i < outSize; i++) {
    const loc = f32(f32(f32(i + 0.5) * scale) - 0.5);
    const base = Math.floor(loc);
    const off = rint(f32(loc - base) * TABLE);
    const w = [KEYS[off * 2 + 1], KEYS[off * 2], KEYS[(TABLE - off) * 2], KEYS[(TABLE - off) * 2 + 1]];
    let sum = 0;
    for (let k = 0; k < 4; k++) {
      const at = base - 1 + k;
      const bounded = Math.min(inSize - 1, Math.max(0, at));
      index[i * 4 + k] = bounded;
      if (bounded !== at) w[k] = 0;
      sum = f32(sum + w[k]);
    }
    const inv = Math.abs(sum) >= 1e-35 ? f32(1 / sum) : 1;
    for (let k = 0; k < 4; k++) weight[i * 4 + k] = f32(w[k] * inv);
  }
  return { span: 4, index, weight };
}

function area(inSize: number, outSize: number): AxisTaps {
  const scale = f32(inSize / outSize);
  const span = Math.ceil(scale) + 1;
  const index = new Int32Array(outSize * span);
  const weight = new Float32Array(outSize * span);
  for (let i = 0; i < outSize; i++) {
    const a = f32(i * scale);
    const b = f32((i + 1) * scale);
    const start = Math.floor(a);
    const end = Math.ceil(b);
    for (let j = start, k = 0; j < end && k < span; j++, k++) {
      let w: number;
      if (j < a) w = j + 1 > b ? scale : f32(j + 1 - a);
      else w = j + 1 > b ? f32(b - j) : 1;
      index[i * span + k] = Math.min(j, inSize - 1);
      // ResizeArea divides the sum by (scaleY * scaleX) once; split per axis here.
      weight[i * span + k] = f32(w / scale);
    }
  }
  return { span, index, weight };
}

type Kernel = { radius: number; fn: (x: number) => number };

const PI = f32(Math.PI); // TF writes 3.14159265359, the same float32
function lanczos(r: number): Kernel {
  return {
    radius: r,
    fn: (x) => {
      if (x > r) return 0;
      if (x <= 1e-3) return 1;
      return f32((r * Math.sin(PI * x) * Math.sin((PI * x) / r)) / (PI * PI * x * x));
    },
  };
}
const KERNELS: Record<string, Kernel> = {
  bilinear: { radius: 1, fn: (x) => (x < 1 ? f32(1 - x) : 0) },
  bicubic: {
    radius: 2,
    fn: (x) => {
      if (x >= 2) return 0;
      if (x >= 1) return f32(((-0.5 * x + 2.5) * x - 4) * x + 2);
      return f32((1.5 * x - 2.5) * x * x + 1);
    },
  },
  lanczos3: lanczos(3),
  lanczos5: lanczos(5),
  gaussian: { radius: 1.5, fn: (x) => (x >= 1.5 ? 0 : f32(Math.exp((-x * x) / (2 * 0.5 * 0.5)))) },
  mitchellcubic: {
    radius: 2,
    fn: (x) => {
      if (x >= 2) return 0;
      if (x >= 1) return f32((((-7 / 18) * x + 2) * x - 10 / 3) * x + 16 / 9);
      return f32(((7 / 6) * x - 2) * x * x + 8 / 9);
    },
  },
};

/** scale_and_translate_op.cc ComputeSpansCore with translation 0. */
function scaleAndTranslate(k: Kernel, inSize: number, outSize: number, antialias: boolean): AxisTaps {
  const scale = f32(outSize / inSize);
  const invScale = f32(1 / scale);
  const ks = antialias ? Math.max(invScale, 1) : 1;
  const reach = f32(k.radius * ks);
  const span = Math.min(2 * Math.ceil(reach) + 1, inSize);
  const index = new Int32Array(outSize * span);
  const weight = new Float32Array(outSize * span);
  for (let i = 0; i < outSize; i++) {
    const sample = f32(f32(i + 0.5) * invScale);
    if (sample < 0 || sample > inSize) continue;
    const start = Math.max(0, Math.min(inSize - 1, Math.ceil(f32(f32(sample - reach) - 0.5))));
    const end = Math.max(0, Math.min(inSize - 1, Math.floor(f32(f32(sample + reach) - 0.5)))) + 1;
    const ws: number[] = [];
    let total = 0;
    for (let s = start; s < end && s - start < span; s++) {
      const pos = f32(f32(s + 0.5) - sample);
      const w = k.fn(Math.abs(f32(pos / ks)));
      total = f32(total + w);
      ws.push(w);
    }
    if (Math.abs(total) < 1e-35) continue;
    const inv = f32(1 / total);
    for (let j = 0; j < ws.length; j++) {
      index[i * span + j] = start + j;
      weight[i * span + j] = f32(ws[j] * inv);
    }
  }
  return { span, index, weight };
}

/** The taps of one axis for resizing `inSize` samples to `outSize` (not plain bilinear). */
export function axisTaps(
  method: Interpolation,
  antialias: boolean,
  inSize: number,
  outSize: number,
): AxisTaps {
  if (method === 'nearest') return nearest(inSize, outSize);
  if (method === 'area') return area(inSize, outSize);
  if (method === 'bicubic' && !antialias) return bicubic(inSize, outSize);
  return scaleAndTranslate(KERNELS[method], inSize, outSize, antialias);
}
