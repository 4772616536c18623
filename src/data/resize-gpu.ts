import { defineKernel } from '../kernels/program.js';
import {
  assertBindable,
  assertDTypeIn,
  assertRank,
  assertTensor,
  grid,
  maxBindingBytes,
} from '../kernels/util.js';
import { ArgumentError, DeviceError, fmtShape } from '../tensor/errors.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { assertSize, type ResizeOptions, resizePlan } from './resize.js';

/**
 * `resizeBilinear` on the GPU: the WGSL twin of `resizeBilinearCpu` (tf.image.resize bilinear,
 * half-pixel centers, no antialias, optional crop or pad to the aspect ratio). The crop and pad
 * windows and the float32 scales are computed on the CPU by `resizePlan`, so both paths share them.
 */

/** The uniforms, in struct order; the crop/pad windows and scales come from `resizePlan`. */
const UNIFORMS = {
  n: 'u32',
  c: 'u32',
  inH: 'u32',
  inW: 'u32',
  outH: 'u32',
  outW: 'u32',
  srcY: 'u32',
  srcX: 'u32',
  srcH: 'u32',
  srcW: 'u32',
  dstY: 'i32',
  dstX: 'i32',
  dstH: 'i32',
  dstW: 'i32',
  scaleY: 'f32',
  scaleX: 'f32',
} as const;

const resizeKernel = defineKernel<{ t: 'f32' | 'i32' }, 'x' | 'out', keyof typeof UNIFORMS>({
  name: 'resize_bilinear',
  bindings: ({ t }) => ({ x: `read ${t}`, out: 'rw f32' }),
  uniforms: UNIFORMS,
  index: { total: 'n' },
  helpers: () => `
struct Tap { lo: u32, hi: u32, w: f32 }

fn tap(i: i32, scale: f32, size: u32) -> Tap {
  let v = (f32(i) + 0.5) * scale - 0.5;
  let f = floor(v);
  return Tap(u32(max(i32(f), 0)), u32(min(i32(ceil(v)), i32(size) - 1)), v - f);
}

fn at(b: u32, y: u32, xx: u32, k: u32) -> f32 {
  return f32(x[((b * p.inH + p.srcY + y) * p.inW + p.srcX + xx) * p.c + k]);
}
`,
  body: () => `  let k = i % p.c;
  let px = (i / p.c) % p.outW;
  let py = (i / (p.c * p.outW)) % p.outH;
  let b = i / (p.c * p.outW * p.outH);
  let ry = i32(py) - p.dstY;
  let rx = i32(px) - p.dstX;
  if (ry < 0 || ry >= p.dstH || rx < 0 || rx >= p.dstW) {
    out[i] = 0.0;
    return;
  }
  let ty = tap(ry, p.scaleY, p.srcH);
  let tx = tap(rx, p.scaleX, p.srcW);
  let tl = at(b, ty.lo, tx.lo, k);
  let tr = at(b, ty.lo, tx.hi, k);
  let bl = at(b, ty.hi, tx.lo, k);
  let br = at(b, ty.hi, tx.hi, k);
  let top = tl + (tr - tl) * tx.w;
  let bot = bl + (br - bl) * tx.w;
  out[i] = top + (bot - top) * ty.w;`,
});

/**
 * Resizes images `[h, w, c]` or `[b, h, w, c]` (float32 or int32) to `size` = [height, width] with
 * bilinear interpolation as `tf.image.resize` does. Returns float32 `[..., height, width, c]`.
 */
export function resizeBilinear(
  images: Tensor,
  size: readonly [number, number],
  opts: ResizeOptions = {},
): Tensor {
  assertTensor(images, 'resizeBilinear', 'images');
  assertRank(images, [3, 4], 'resizeBilinear', 'images');
  assertDTypeIn(images, ['float32', 'int32'], 'resizeBilinear', 'images');
  assertSize(size, 'resizeBilinear');
  if (opts === null || typeof opts !== 'object') {
    throw new ArgumentError(`resizeBilinear: opts must be an object, got ${String(opts)}`);
  }
  const s = images.shape;
  const [inH, inW, c] = s.slice(-3);
  const batch = s.length === 4 ? s[0] : 1;
  const outShape = [...s.slice(0, -3), size[0], size[1], c];
  if (inH === 0 || inW === 0) {
    throw new ArgumentError(`resizeBilinear: images must be at least 1x1, got shape ${fmtShape(s)}`);
  }
  const plan = resizePlan(inH, inW, size, opts, 'resizeBilinear');
  assertBindable(images, 'resizeBilinear', 'images');
  const n = batch * size[0] * size[1] * c;
  if (n * 4 > maxBindingBytes()) {
    throw new DeviceError(
      `resizeBilinear: the output of shape ${fmtShape(outShape)} is ${n * 4} bytes, over the adapter's maxStorageBufferBindingSize of ${maxBindingBytes()} bytes; resize fewer images at once`,
    );
  }
  const out = emptyTensor(outShape, 'float32');
  if (n > 0) {
    const t = images.dtype === 'float32' ? 'f32' : 'i32';
    const { src, dst } = plan;
    resizeKernel.run({
      constants: { t },
      buffers: { x: images, out },
      uniforms: {
        n,
        c,
        inH,
        inW,
        outH: size[0],
        outW: size[1],
        srcY: src.y,
        srcX: src.x,
        srcH: src.h,
        srcW: src.w,
        dstY: dst.y,
        dstX: dst.x,
        dstH: dst.h,
        dstW: dst.w,
        scaleY: plan.scaleY,
        scaleX: plan.scaleX,
      },
      workgroups: grid(n),
    });
  }
  return recordOp('resizeBilinear', [images], out, {
    size: [size[0], size[1]],
    cropToAspectRatio: !!opts.cropToAspectRatio,
    padToAspectRatio: !!opts.padToAspectRatio,
  });
}
