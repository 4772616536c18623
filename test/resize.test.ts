import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  cropBox,
  type PixelBuffer,
  padBox,
  type ResizeOptions,
  resizeBilinearCpu,
} from '../src/data/resize.js';
import { resizeBilinear } from '../src/data/resize-gpu.js';
import { ArgumentError, DisposedTensorError, DTypeError, memory, ShapeError, tensor } from '../src/index.js';
import { expectClose, randArray, rng } from './helpers.js';

// The oracle for tf.image.resize(bilinear) is TensorFlow.js's CPU kernel with halfPixelCenters=true:
// the same formula as TF, but in float64. TF (and our CPU and GPU code) round the scale and source
// coordinates to float32, which moves values at 0..255 by up to ~5e-3 on large images.
const TF_TOL = { atol: 1e-2, rtol: 1e-6 };
// CPU vs GPU: the same float32 arithmetic, up to fused multiply-adds.
const TOL = { atol: 1e-3, rtol: 1e-6 };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function tfResize(img: PixelBuffer, size: readonly [number, number]): Float32Array {
  const x = tf.tensor3d(Float32Array.from(img.data), [img.height, img.width, img.channels]);
  const y = tf.image.resizeBilinear(x, [size[0], size[1]], false, true);
  const out = y.dataSync() as Float32Array;
  x.dispose();
  y.dispose();
  return out;
}

function randImage(r: () => number, h: number, w: number, c: number, ints = true): PixelBuffer {
  const data = randArray(h * w * c, r, 0, 256);
  if (ints) for (let i = 0; i < data.length; i++) data[i] = Math.floor(data[i]);
  return { width: w, height: h, channels: c, data };
}

/** A sub-image, for checking crops against resizing an explicitly cropped image. */
function crop(img: PixelBuffer, y: number, x: number, h: number, w: number): PixelBuffer {
  const c = img.channels;
  const data = new Float32Array(h * w * c);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      for (let k = 0; k < c; k++) data[(i * w + j) * c + k] = img.data[((y + i) * img.width + x + j) * c + k];
    }
  }
  return { width: w, height: h, channels: c, data };
}

describe('resizeBilinearCpu (tf.image.resize bilinear, half-pixel centers)', () => {
  it('gives the TF values on a hand-checked 2x2 -> 4x4 upsample', () => {
    const out = resizeBilinearCpu({ width: 2, height: 2, channels: 1, data: [0, 10, 20, 30] }, [4, 4]);
    expect(Array.from(out)).toEqual([
      0, 2.5, 7.5, 10, 5, 7.5, 12.5, 15, 15, 17.5, 22.5, 25, 20, 22.5, 27.5, 30,
    ]);
  });

  it('matches TensorFlow.js on random images: up, down, odd ratios, 1 pixel, 1-4 channels', () => {
    const r = rng(11);
    const cases: Array<[number, number, number, number, number]> = [
      [1, 1, 1, 1, 1],
      [1, 1, 3, 5, 7],
      [5, 7, 1, 1, 3],
      [224, 227, 3, 192, 192],
      [227, 227, 3, 224, 224],
      [13, 9, 4, 31, 2],
      [3, 50, 2, 17, 9],
      [64, 64, 3, 64, 64],
    ];
    for (const [h, w, c, oh, ow] of cases) {
      const img = randImage(r, h, w, c);
      expectClose(
        resizeBilinearCpu(img, [oh, ow]),
        tfResize(img, [oh, ow]),
        TF_TOL,
        `${h}x${w}x${c} -> ${oh}x${ow}`,
      );
    }
  });

  it('is the identity at the same size and accepts float input', () => {
    const img = randImage(rng(2), 9, 6, 3, false);
    expect(Array.from(resizeBilinearCpu(img, [9, 6]))).toEqual(Array.from(img.data as Float32Array));
  });

  it('crops like Keras smart_resize: the largest centered window of the target ratio', () => {
    expect(cropBox(100, 200, 50, 50)).toEqual({ y: 0, x: 50, h: 100, w: 100 });
    expect(cropBox(200, 100, 30, 60)).toEqual({ y: 75, x: 0, h: 50, w: 100 });
    expect(cropBox(224, 227, 224, 224)).toEqual({ y: 0, x: 1, h: 224, w: 224 });
    expect(cropBox(5, 5, 5, 5)).toEqual({ y: 0, x: 0, h: 5, w: 5 });
    expect(cropBox(1, 1000, 100, 1)).toEqual({ y: 0, x: 499, h: 1, w: 1 });
    const r = rng(3);
    for (const [h, w, oh, ow] of [
      [40, 60, 10, 10],
      [33, 17, 8, 20],
      [7, 7, 3, 5],
    ]) {
      const img = randImage(r, h, w, 3);
      const b = cropBox(h, w, oh, ow);
      const want = tfResize(crop(img, b.y, b.x, b.h, b.w), [oh, ow]);
      expectClose(
        resizeBilinearCpu(img, [oh, ow], { cropToAspectRatio: true }),
        want,
        TF_TOL,
        `crop ${h}x${w}`,
      );
    }
  });

  it('pads like tf.image.resize_with_pad: fit inside, center, zeros around', () => {
    expect(padBox(100, 200, 50, 50)).toEqual({ y: 12, x: 0, h: 25, w: 50 });
    expect(padBox(200, 100, 50, 50)).toEqual({ y: 0, x: 12, h: 50, w: 25 });
    expect(padBox(30, 30, 10, 20)).toEqual({ y: 0, x: 5, h: 10, w: 10 });
    expect(padBox(1000, 1, 10, 10)).toEqual({ y: 0, x: 4, h: 10, w: 1 });
    const r = rng(4);
    for (const [h, w, oh, ow] of [
      [40, 60, 10, 10],
      [17, 33, 20, 8],
      [5, 5, 9, 4],
    ]) {
      const img = randImage(r, h, w, 2);
      const b = padBox(h, w, oh, ow);
      const inner = tfResize(img, [b.h, b.w]);
      const want = new Float32Array(oh * ow * 2);
      for (let i = 0; i < b.h; i++) {
        for (let j = 0; j < b.w; j++) {
          for (let k = 0; k < 2; k++) want[((b.y + i) * ow + b.x + j) * 2 + k] = inner[(i * b.w + j) * 2 + k];
        }
      }
      expectClose(
        resizeBilinearCpu(img, [oh, ow], { padToAspectRatio: true }),
        want,
        TF_TOL,
        `pad ${h}x${w}`,
      );
    }
  });

  it('rejects bad arguments', () => {
    const img = { width: 2, height: 2, channels: 1, data: [1, 2, 3, 4] };
    expect(() => resizeBilinearCpu(img, [0, 2])).toThrow(ArgumentError);
    expect(() => resizeBilinearCpu(img, [0, 2])).toThrow(
      /resizeBilinearCpu: size must be \[height, width\].*got \[0,2\]/,
    );
    expect(() => resizeBilinearCpu(img, [2.5, 2] as [number, number])).toThrow(/got \[2.5,2\]/);
    expect(() => resizeBilinearCpu({ ...img, data: [1, 2, 3] }, [2, 2])).toThrow(
      /data has 3 values, but 2x2x1 needs 4/,
    );
    expect(() => resizeBilinearCpu({ ...img, channels: 0 }, [2, 2])).toThrow(
      /channels must be a positive integer, got 0/,
    );
    expect(() => resizeBilinearCpu(img, [2, 2], { cropToAspectRatio: true, padToAspectRatio: true })).toThrow(
      /only one of cropToAspectRatio and padToAspectRatio/,
    );
  });
});

describe('resizeBilinear (WGSL kernel) against the CPU implementation', () => {
  it('matches on random batches, ranks 3 and 4, sizes off the workgroup grid, crop and pad', async () => {
    const r = rng(21);
    const before = memory().numTensors;
    const optsList: ResizeOptions[] = [{}, { cropToAspectRatio: true }, { padToAspectRatio: true }];
    let n = 0;
    for (let trial = 0; trial < 18; trial++) {
      const b = trial % 4;
      const h = 1 + Math.floor(r() * 20);
      const w = 1 + Math.floor(r() * 20);
      const c = 1 + Math.floor(r() * 4);
      const size: [number, number] = [1 + Math.floor(r() * 17), 1 + Math.floor(r() * 17)];
      const opts = optsList[trial % 3];
      const imgs = Array.from({ length: Math.max(b, 1) }, () => randImage(r, h, w, c));
      const flat = new Float32Array(imgs.length * h * w * c);
      imgs.forEach((im, i) => {
        flat.set(im.data as Float32Array, i * h * w * c);
      });
      const shape = b === 0 ? [h, w, c] : [b, h, w, c];
      const dtype = trial % 2 ? 'int32' : 'float32';
      const x = tensor(dtype === 'int32' ? Int32Array.from(flat) : flat, shape, dtype);
      const y = resizeBilinear(x, size, opts);
      expect(y.shape).toEqual(b === 0 ? [size[0], size[1], c] : [b, size[0], size[1], c]);
      expect(y.dtype).toBe('float32');
      const want = new Float32Array(imgs.length * size[0] * size[1] * c);
      imgs.forEach((im, i) => {
        want.set(resizeBilinearCpu(im, size, opts), i * size[0] * size[1] * c);
      });
      expectClose(
        await y.data(),
        want,
        TOL,
        `trial ${trial} ${JSON.stringify({ shape, size, opts, dtype })}`,
      );
      x.dispose();
      y.dispose();
      n++;
    }
    expect(n).toBe(18);
    expect(memory().numTensors).toBe(before);
  });

  it('resizes a flowers-sized batch (4 x 227x227x3 -> 192x192)', async () => {
    const r = rng(5);
    const imgs = Array.from({ length: 4 }, () => randImage(r, 227, 227, 3));
    const flat = new Float32Array(4 * 227 * 227 * 3);
    imgs.forEach((im, i) => {
      flat.set(im.data as Float32Array, i * 227 * 227 * 3);
    });
    const x = tensor(flat, [4, 227, 227, 3]);
    const y = resizeBilinear(x, [192, 192]);
    const want = new Float32Array(4 * 192 * 192 * 3);
    imgs.forEach((im, i) => {
      want.set(resizeBilinearCpu(im, [192, 192]), i * 192 * 192 * 3);
    });
    expectClose(await y.data(), want, TOL);
    x.dispose();
    y.dispose();
  });

  it('handles an empty batch', async () => {
    const x = tensor(new Float32Array(0), [0, 4, 4, 3]);
    const y = resizeBilinear(x, [2, 3]);
    expect(y.shape).toEqual([0, 2, 3, 3]);
    expect((await y.data()).length).toBe(0);
    x.dispose();
    y.dispose();
  });

  it('rejects bad arguments with typed errors naming the op', () => {
    const x = tensor(new Float32Array(12), [2, 2, 3]);
    expect(() => resizeBilinear(tensor([1, 2, 3, 4], [2, 2]), [2, 2])).toThrow(ShapeError);
    expect(() => resizeBilinear(tensor([1, 2, 3, 4], [2, 2]), [2, 2])).toThrow(
      /resizeBilinear: images must have rank 3 or 4, got shape \[2,2\]/,
    );
    expect(() => resizeBilinear(tensor([true, false, true, false], [1, 2, 2]), [2, 2])).toThrow(DTypeError);
    expect(() => resizeBilinear(x, [0, 1])).toThrow(/resizeBilinear: size must be \[height, width\]/);
    expect(() => resizeBilinear(x, [2, 2], { cropToAspectRatio: true, padToAspectRatio: true })).toThrow(
      ArgumentError,
    );
    expect(() => resizeBilinear(tensor(new Float32Array(0), [0, 4, 3]), [2, 2])).toThrow(
      /images must be at least 1x1, got shape \[0,4,3\]/,
    );
    expect(() => resizeBilinear([1, 2] as never, [2, 2])).toThrow(/resizeBilinear: images must be a Tensor/);
    x.dispose();
    expect(() => resizeBilinear(x, [2, 2])).toThrow(DisposedTensorError);
  });
});
