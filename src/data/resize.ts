import { ArgumentError } from '../tensor/errors.js';
import { axisTaps, INTERPOLATIONS, type Interpolation } from './resize-kernels.js';

export type { Interpolation } from './resize-kernels.js';

/**
 * Image resizing on the CPU with the semantics of `tf.image.resize`: bilinear (half-pixel centers,
 * no antialiasing: what Keras' `image_dataset_from_directory` uses by default) here, the other
 * methods and `antialias` through the per-axis weights of `resize-kernels.ts`; plus its `crop_to_aspect_ratio` (Keras `smart_resize`) and `pad_to_aspect_ratio`
 * (`tf.image.resize_with_pad`) variants. TensorFlow computes in float32, so every step here is
 * rounded with `Math.fround` to give the same values. No Node-only imports: this runs in workers
 * and browsers. `resize-gpu.ts` is the WGSL kernel with the same arithmetic.
 */

/** Interleaved pixels, row-major `[height, width, channels]`. */
export interface PixelBuffer {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Values per pixel. */
  channels: number;
  /** The pixels, row-major, channels interleaved. */
  data: ArrayLike<number>;
}

/** How to keep the aspect ratio when resizing (Keras' options; default: stretch). */
export interface ResizeOptions {
  /** Keep the aspect ratio by cropping the largest centered window of the target ratio first. */
  cropToAspectRatio?: boolean;
  /** Keep the aspect ratio by resizing to fit inside the target and padding with zeros. */
  padToAspectRatio?: boolean;
}

/** `ResizeOptions` plus the method, as `tf.image.resize(method, antialias)` / Keras `interpolation`. */
export interface ImageResizeOptions extends ResizeOptions {
  /** 'bilinear' (default), 'nearest', 'bicubic', 'area', 'lanczos3', 'lanczos5', 'gaussian' or 'mitchellcubic'. */
  interpolation?: Interpolation;
  /** Low-pass filter when downsampling, as `tf.image.resize(antialias=True)`. Default false. */
  antialias?: boolean;
}

/** Checks `interpolation` and `antialias` of resize options. */
export function assertResizeOptions(opts: ImageResizeOptions, op: string): void {
  const m = opts.interpolation;
  if (m !== undefined && !INTERPOLATIONS.includes(m)) {
    throw new ArgumentError(
      `${op}: interpolation must be one of ${INTERPOLATIONS.map((x) => `'${x}'`).join(', ')}, got ${JSON.stringify(m)}`,
    );
  }
  if (opts.antialias !== undefined && typeof opts.antialias !== 'boolean') {
    throw new ArgumentError(`${op}: antialias must be a boolean, got ${JSON.stringify(opts.antialias)}`);
  }
}

/** A rectangle in pixels: top row, left column, height, width. */
export interface Box {
  y: number;
  x: number;
  h: number;
  w: number;
}

/**
 * Where one resize reads and writes: the `src` window of the input is resampled into the `dst`
 * window of the `outH x outW` output; output pixels outside `dst` are 0 (padding).
 */
export interface ResizePlan {
  src: Box;
  dst: Box;
  outH: number;
  outW: number;
  /** float32 source pixels per output pixel along y and x, as TF computes them. */
  scaleY: number;
  scaleX: number;
  /** The method (bilinear unless the options say otherwise) and antialiasing. */
  interpolation: Interpolation;
  antialias: boolean;
}

const f32 = Math.fround;

/** Checks `[height, width]` of a resize target (positive integers). */
export function assertSize(
  size: unknown,
  op: string,
  arg = 'size',
): asserts size is readonly [number, number] {
  const ok =
    Array.isArray(size) &&
    size.length === 2 &&
    size.every((v) => typeof v === 'number' && Number.isInteger(v) && v > 0);
  if (!ok) {
    throw new ArgumentError(
      `${op}: ${arg} must be [height, width] with two positive integers, got ${JSON.stringify(size)}`,
    );
  }
}

/**
 * The centered crop of Keras `smart_resize`: the largest window of `inH x inW` with the aspect
 * ratio of `outH x outW` (integer sizes truncated from float32 divisions, at least 1).
 */
export function cropBox(inH: number, inW: number, outH: number, outW: number): Box {
  const h = Math.max(1, Math.min(inH, Math.trunc(f32(f32(inW * outH) / outW))));
  const w = Math.max(1, Math.min(inW, Math.trunc(f32(f32(inH * outW) / outH))));
  return { y: Math.trunc(f32(inH - h) / 2), x: Math.trunc(f32(inW - w) / 2), h, w };
}

/**
 * Where `tf.image.resize_with_pad` puts the resized image inside the `outH x outW` output: scaled
 * by the float32 ratio that makes it fit, floored, and offset by the floored half padding. A side
 * that would round to 0 pixels is kept at 1 (TensorFlow would fail on it).
 */
export function padBox(inH: number, inW: number, outH: number, outW: number): Box {
  const ratio = Math.max(f32(inW / outW), f32(inH / outH));
  const hf = f32(inH / ratio);
  const wf = f32(inW / ratio);
  const h = Math.min(outH, Math.max(1, Math.floor(hf)));
  const w = Math.min(outW, Math.max(1, Math.floor(wf)));
  const y = Math.max(0, Math.floor(f32(f32(outH - hf) / 2)));
  const x = Math.max(0, Math.floor(f32(f32(outW - wf) / 2)));
  return { y: Math.min(y, outH - h), x: Math.min(x, outW - w), h, w };
}

/** The read and write windows of a resize of `inH x inW` to `size` with the given options. */
export function resizePlan(
  inH: number,
  inW: number,
  size: readonly [number, number],
  opts: ImageResizeOptions = {},
  op = 'resize',
): ResizePlan {
  assertSize(size, op);
  assertResizeOptions(opts, op);
  if (!(Number.isInteger(inH) && Number.isInteger(inW) && inH > 0 && inW > 0)) {
    throw new ArgumentError(`${op}: the input image must be at least 1x1, got ${inH}x${inW}`);
  }
  if (opts.cropToAspectRatio && opts.padToAspectRatio) {
    throw new ArgumentError(`${op}: only one of cropToAspectRatio and padToAspectRatio can be true`);
  }
  const [outH, outW] = size;
  const full = (h: number, w: number): Box => ({ y: 0, x: 0, h, w });
  const src = opts.cropToAspectRatio ? cropBox(inH, inW, outH, outW) : full(inH, inW);
  const dst = opts.padToAspectRatio ? padBox(inH, inW, outH, outW) : full(outH, outW);
  return {
    src,
    dst,
    outH,
    outW,
    scaleY: f32(src.h / dst.h),
    scaleX: f32(src.w / dst.w),
    interpolation: opts.interpolation ?? 'bilinear',
    antialias: opts.antialias ?? false,
  };
}

/** Per output coordinate: the two source indices (within the window) and the float32 weight. */
interface Taps {
  lo: Int32Array;
  hi: Int32Array;
  lerp: Float32Array;
}

function taps(n: number, scale: number, inSize: number): Taps {
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  const lerp = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = f32(f32((i + 0.5) * scale) - 0.5);
    const fl = Math.floor(v);
    lo[i] = Math.max(fl, 0);
    hi[i] = Math.min(Math.ceil(v), inSize - 1);
    lerp[i] = f32(v - fl);
  }
  return { lo, hi, lerp };
}

function resizeWith(
  op: string,
  img: PixelBuffer,
  size: readonly [number, number],
  opts: ImageResizeOptions,
): Float32Array {
  if (img === null || typeof img !== 'object' || typeof img.data?.length !== 'number') {
    throw new ArgumentError(
      `${op}: img must be { width, height, channels, data: array of values }, got ${img === null ? 'null' : typeof img}`,
    );
  }
  if (opts === null || typeof opts !== 'object') {
    throw new ArgumentError(`${op}: options must be an object, got ${JSON.stringify(opts)}`);
  }
  const { width: inW, height: inH, channels: c, data } = img;
  if (!Number.isInteger(c) || c < 1) {
    throw new ArgumentError(`${op}: channels must be a positive integer, got ${c}`);
  }
  if (data.length !== inW * inH * c) {
    throw new ArgumentError(
      `${op}: data has ${data.length} values, but ${inH}x${inW}x${c} needs ${inW * inH * c}`,
    );
  }
  const plan = resizePlan(inH, inW, size, opts, op);
  const out = new Float32Array(plan.outH * plan.outW * c);
  resampleInto(data, inW, c, plan, out);
  return out;
}

/**
 * Bilinear resize (`tf.image.resize` default: half-pixel centers, no antialias) of interleaved
 * pixels to `size` = [height, width]; float32 `[height, width, channels]` in the input's range.
 */
export function resizeBilinearCpu(
  img: PixelBuffer,
  size: readonly [number, number],
  opts: ResizeOptions = {},
): Float32Array {
  return resizeWith('resizeBilinearCpu', img, size, {
    cropToAspectRatio: opts?.cropToAspectRatio,
    padToAspectRatio: opts?.padToAspectRatio,
  });
}

/**
 * `tf.image.resize(img, size, method=interpolation, antialias)` of interleaved pixels on the CPU
 * (with Keras' crop / pad to the aspect ratio); float32 `[height, width, channels]`.
 */
export function resizeImageCpu(
  img: PixelBuffer,
  size: readonly [number, number],
  opts: ImageResizeOptions = {},
): Float32Array {
  return resizeWith('resizeImageCpu', img, size, opts);
}

/** Writes the resize described by `plan` of `src` (row length `inW`, `c` channels) into `out`. */
export function resampleInto(
  src: ArrayLike<number>,
  inW: number,
  c: number,
  plan: ResizePlan,
  out: Float32Array,
  outOffset = 0,
): void {
  if (plan.interpolation !== 'bilinear' || plan.antialias) {
    resampleSeparable(src, inW, c, plan, out, outOffset);
    return;
  }
  const { src: s, dst: d, outW } = plan;
  const ty = taps(d.h, plan.scaleY, s.h);
  const tx = taps(d.w, plan.scaleX, s.w);
  // Padding rows and columns stay 0: `out` may be a reused buffer, so clear them explicitly.
  out.fill(0, outOffset, outOffset + plan.outH * outW * c);
  for (let y = 0; y < d.h; y++) {
    const top = ((s.y + ty.lo[y]) * inW + s.x) * c;
    const bot = ((s.y + ty.hi[y]) * inW + s.x) * c;
    const ly = ty.lerp[y];
    let o = outOffset + ((d.y + y) * outW + d.x) * c;
    for (let x = 0; x < d.w; x++) {
      const l = tx.lo[x] * c;
      const r = tx.hi[x] * c;
      const lx = tx.lerp[x];
      for (let k = 0; k < c; k++) {
        const tl = src[top + l + k];
        const tr = src[top + r + k];
        const bl = src[bot + l + k];
        const br = src[bot + r + k];
        const t = f32(tl + f32(f32(tr - tl) * lx));
        const b = f32(bl + f32(f32(br - bl) * lx));
        out[o++] = t + f32(f32(b - t) * ly);
      }
    }
  }
}

/** Any other method: rows through the x taps into a float32 buffer, then columns through the y taps. */
function resampleSeparable(
  src: ArrayLike<number>,
  inW: number,
  c: number,
  plan: ResizePlan,
  out: Float32Array,
  outOffset: number,
): void {
  const { src: s, dst: d, outW } = plan;
  const tx = axisTaps(plan.interpolation, plan.antialias, s.w, d.w);
  const ty = axisTaps(plan.interpolation, plan.antialias, s.h, d.h);
  const mid = new Float32Array(s.h * d.w * c);
  for (let y = 0; y < s.h; y++) {
    const row = ((s.y + y) * inW + s.x) * c;
    let o = y * d.w * c;
    for (let x = 0; x < d.w; x++) {
      for (let k = 0; k < c; k++) {
        let acc = 0;
        for (let j = x * tx.span; j < (x + 1) * tx.span; j++) {
          const w = tx.weight[j];
          if (w !== 0) acc += w * src[row + tx.index[j] * c + k];
        }
        mid[o++] = acc;
      }
    }
  }
  out.fill(0, outOffset, outOffset + plan.outH * outW * c);
  const rowLen = d.w * c;
  for (let y = 0; y < d.h; y++) {
    const o = outOffset + ((d.y + y) * outW + d.x) * c;
    for (let j = y * ty.span; j < (y + 1) * ty.span; j++) {
      const w = ty.weight[j];
      if (w === 0) continue;
      const m = ty.index[j] * rowLen;
      for (let i = 0; i < rowLen; i++) out[o + i] += w * mid[m + i];
    }
  }
}
