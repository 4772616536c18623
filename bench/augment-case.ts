import type * as TF from '@tensorflow/tfjs-core';
import { affineResample } from '../src/kernels/augment.js';
import type { BenchCase } from './cases.js';
import type { Tf } from './peer-tfjs.js';

/**
 * The fused augmentation pass: RandomFlip('horizontal') + RandomRotation + RandomZoom on a batch of
 * 64 at 192x192x3, as our geometric layers run it in a model (one affine resample with the three
 * maps composed), against TF.js applying them one after another as Keras does (flip, then
 * tf.image.transform twice). The per-image parameters are fixed (seeded) and the same on both
 * sides; the image is smooth so that one interpolation and two agree closely (their difference is
 * what the check bounds), and the fill mode is reflect on both. The zoom zooms in, so only the
 * rotation reads outside an image (the source, in both pipelines): a zoom out would read outside
 * the rotated intermediate, which the composed pass reflects about the source's edges instead.
 */
export function augmentCase(n = 64, size = 192, c = 3): BenchCase {
  const h = size;
  const w = size;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  let s = 12345;
  const u = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const flip: number[] = [];
  const rot: number[] = [];
  const zoom: number[] = [];
  const fused: number[] = [];
  const compose = (a: number[], b: number[]) => [
    a[0] * b[0] + a[1] * b[3],
    a[0] * b[1] + a[1] * b[4],
    a[0] * b[2] + a[1] * b[5] + a[2],
    a[3] * b[0] + a[4] * b[3],
    a[3] * b[1] + a[4] * b[4],
    a[3] * b[2] + a[4] * b[5] + a[5],
  ];
  for (let i = 0; i < n; i++) {
    const f = u() <= 0.5;
    const a = (u() - 0.5) * 0.2 * 2 * Math.PI;
    // zoom in (RandomZoom((-0.2, 0))): the zoom then reads the rotated image inside its bounds only
    const z = 1 - 0.2 * u();
    const [co, si] = [Math.cos(a), Math.sin(a)];
    const fr = f ? [-1, 0, w - 1, 0, 1, 0] : [1, 0, 0, 0, 1, 0];
    const rr = [co, -si, cx - cx * co + cy * si, si, co, cy - cx * si - cy * co];
    const zr = [z, 0, cx * (1 - z), 0, z, cy * (1 - z)];
    flip.push(f ? 1 : 0);
    rot.push(...rr, 0, 0);
    zoom.push(...zr, 0, 0);
    fused.push(...compose(compose(fr, rr), zr));
  }
  const img = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++)
          img[((b * h + y) * w + x) * c + k] =
            Math.sin(0.05 * x + 0.3 * k + b) * Math.cos(0.04 * y - 0.2 * k);
  return {
    group: 'augment',
    op: 'augment flip+rotate+zoom',
    shape: `[${n},${h},${w},${c}] reflect bilinear`,
    unit: 'GB/s',
    // one pass: every output written once, about as many input values read
    work: 2 * n * h * w * c * 4,
    // one interpolation against two, on an image with slopes up to ~0.07 per pixel
    atol: 2e-2,
    rtol: 0,
    inputs: () => [
      { shape: [n, h, w, c], data: img },
      { shape: [n, 6], data: Float32Array.from(fused) },
      { shape: [n], data: Float32Array.from(flip) },
      { shape: [n, 8], data: Float32Array.from(rot) },
      { shape: [n, 8], data: Float32Array.from(zoom) },
    ],
    ours: ([x, t]) => affineResample(x, t, { fillMode: 'reflect' }),
    peer: (tf: Tf, [x, , m, r, z]) =>
      tf.tidy(() => {
        // per-image flip as a blend with a 0/1 mask (exact: one term is multiplied by 0)
        const mask = tf.reshape(m, [n, 1, 1, 1]);
        const flipped = tf.add(tf.mul(tf.reverse(x, 2), mask), tf.mul(x, tf.sub(1, mask))) as TF.Tensor4D;
        const rotated = tf.image.transform(flipped, r as TF.Tensor2D, 'bilinear', 'reflect');
        return tf.image.transform(rotated, z as TF.Tensor2D, 'bilinear', 'reflect');
      }),
  };
}
