import { zeros } from '../tensor/creation.js';
import { ArgumentError, fmtShape, ShapeError } from '../tensor/errors.js';
import { checkOptions } from '../tensor/options.js';
import { recordOp } from '../tensor/record.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { defineKernel } from './program.js';
import { reshape } from './reshape.js';
import { assertBindable, assertDTypeIn, assertRank, assertTensor, grid } from './util.js';

/**
 * `affineResample`: one resampling pass of a batch of NHWC images through per-image affine maps,
 * as Keras 3's `ops.image.affine_transform` on JAX (`jax.scipy.ndimage.map_coordinates`): output
 * pixel (x, y) (column, row; pixel indices, no half-pixel shift) reads the input at
 * (a0 x + a1 y + a2, b0 x + b1 y + b2). Bilinear reads the taps floor(s) and floor(s) + 1 with
 * weights 1 - f and f; nearest reads round(s) (half to even, as jnp.round). Each tap index is
 * mapped into the image by the fill mode on its own (reflect: d c b a | a b c d | d c b a; wrap;
 * nearest: clamp), and in 'constant' mode a tap outside the image reads `fillValue`.
 *
 * The backward pass w.r.t. the image scatters each output gradient to the taps it read. WGSL has
 * no float atomics, so the adds are a compare-exchange loop on the bits (`bitcast<u32>`); several
 * outputs can read one input pixel (zooming out, or the fill modes folding coordinates back), so
 * a gather formulation would need the preimage of every pixel under every fold.
 */

/** How a coordinate outside the image is mapped back in (Keras `fill_mode`). */
export type FillMode = 'reflect' | 'wrap' | 'constant' | 'nearest';
/** How the image is read between pixels (Keras `interpolation` of the affine layers). */
export type AffineInterpolation = 'bilinear' | 'nearest';

/** Options of `affineResample`. */
export interface AffineResampleOptions {
  /** [height, width] of the output (default: the input's). */
  outputSize?: readonly [number, number];
  /** Default 'bilinear'. */
  interpolation?: AffineInterpolation;
  /** Default 'constant' (as `keras.ops.image.affine_transform`; the layers default to 'reflect'). */
  fillMode?: FillMode;
  /** The value read outside the image in 'constant' mode (default 0). */
  fillValue?: number;
}

export const FILL_MODES: readonly FillMode[] = ['reflect', 'wrap', 'constant', 'nearest'];
export const INTERPOLATIONS: readonly AffineInterpolation[] = ['bilinear', 'nearest'];

const UNIFORMS = {
  n: 'u32',
  c: 'u32',
  inH: 'u32',
  inW: 'u32',
  outH: 'u32',
  outW: 'u32',
  perImage: 'u32',
  fillValue: 'f32',
} as const;

type Consts = { mode: FillMode; interp: AffineInterpolation };

/** WGSL shared by both directions: the index fixer of the fill mode, and the sampling point. */
const helpers = ({ mode }: Consts) => `
fn fixIndex(i: i32, n: i32) -> i32 {
  ${
    mode === 'reflect'
      ? 'let m = ((i % (2 * n)) + 2 * n) % (2 * n);\n  return select(m, 2 * n - 1 - m, m >= n);'
      : mode === 'wrap'
        ? 'return ((i % n) + n) % n;'
        : mode === 'nearest'
          ? 'return clamp(i, 0, n - 1);'
          : 'return i;'
  }
}

fn inside(i: i32, n: i32) -> bool {
  return ${mode === 'constant' ? 'i >= 0 && i < n' : 'true'};
}

fn source(b: u32, px: u32, py: u32) -> vec2<f32> {
  let m = select(0u, b * 6u, p.perImage == 1u);
  let x = f32(px);
  let y = f32(py);
  return vec2<f32>(t[m] * x + t[m + 1u] * y + t[m + 2u], t[m + 3u] * x + t[m + 4u] * y + t[m + 5u]);
}
`;

/**
 * One lane per output pixel: the sampling point, the tap offsets and weights are computed once and
 * used for every channel (on lavapipe the index arithmetic, not the loads, dominated a lane per
 * value). A tap outside the image in 'constant' mode has offset -1.
 */
const locate = (interp: AffineInterpolation) => `  let px = i % p.outW;
  let py = (i / p.outW) % p.outH;
  let b = i / (p.outW * p.outH);
  let s = source(b, px, py);
  let h = i32(p.inH);
  let w = i32(p.inW);
  let base = i32(b * p.inH * p.inW * p.c);
  let o = i * p.c;
${
  interp === 'nearest'
    ? `  let t0 = tapOffset(base, i32(round(s.y)), i32(round(s.x)), h, w);`
    : `  let f = floor(s);
  let x0 = i32(f.x);
  let y0 = i32(f.y);
  let wx = s.x - f.x;
  let wy = s.y - f.y;
  let t00 = tapOffset(base, y0, x0, h, w);
  let t01 = tapOffset(base, y0, x0 + 1, h, w);
  let t10 = tapOffset(base, y0 + 1, x0, h, w);
  let t11 = tapOffset(base, y0 + 1, x0 + 1, h, w);
  let w00 = (1.0 - wy) * (1.0 - wx);
  let w01 = (1.0 - wy) * wx;
  let w10 = wy * (1.0 - wx);
  let w11 = wy * wx;`
}`;

const tapOffset = `
fn tapOffset(base: i32, iy: i32, ix: i32, h: i32, w: i32) -> i32 {
  if (!inside(iy, h) || !inside(ix, w)) { return -1; }
  return base + (fixIndex(iy, h) * w + fixIndex(ix, w)) * i32(p.c);
}
`;

const forward = defineKernel<Consts, 'x' | 't' | 'out', keyof typeof UNIFORMS>({
  name: 'affine_resample',
  bindings: { x: 'read f32', t: 'read f32', out: 'rw f32' },
  uniforms: UNIFORMS,
  index: { total: 'n' },
  helpers: (c) => `${helpers(c)}${tapOffset}
fn readTap(at: i32, k: u32) -> f32 {
  if (at < 0) { return p.fillValue; }
  return x[u32(at) + k];
}
`,
  body: ({ interp }) =>
    interp === 'nearest'
      ? `${locate(interp)}
  for (var k = 0u; k < p.c; k++) { out[o + k] = readTap(t0, k); }`
      : `${locate(interp)}
  for (var k = 0u; k < p.c; k++) {
    out[o + k] = (1.0 - wy) * ((1.0 - wx) * readTap(t00, k) + wx * readTap(t01, k))
      + wy * ((1.0 - wx) * readTap(t10, k) + wx * readTap(t11, k));
  }`,
});

const backward = defineKernel<Consts, 'dy' | 't' | 'dx', keyof typeof UNIFORMS>({
  name: 'affine_resample_grad',
  bindings: { dy: 'read f32', t: 'read f32', dx: 'rw atomic<u32>' },
  uniforms: UNIFORMS,
  index: { total: 'n' },
  helpers: (c) => `${helpers(c)}${tapOffset}
fn scatter(at: i32, v: f32) {
  if (v == 0.0 || at < 0) { return; }
  let a = u32(at);
  var old = atomicLoad(&dx[a]);
  loop {
    let r = atomicCompareExchangeWeak(&dx[a], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
`,
  body: ({ interp }) =>
    interp === 'nearest'
      ? `${locate(interp)}
  for (var k = 0u; k < p.c; k++) { scatter(select(-1, t0 + i32(k), t0 >= 0), dy[o + k]); }`
      : `${locate(interp)}
  for (var k = 0u; k < p.c; k++) {
    let g = dy[o + k];
    let ki = i32(k);
    scatter(select(-1, t00 + ki, t00 >= 0), g * w00);
    scatter(select(-1, t01 + ki, t01 >= 0), g * w01);
    scatter(select(-1, t10 + ki, t10 >= 0), g * w10);
    scatter(select(-1, t11 + ki, t11 >= 0), g * w11);
  }`,
});

const OPTION_KEYS = { outputSize: true, interpolation: true, fillMode: true, fillValue: true } as const;

/** Normalises and checks the options (snake_case values accepted as Keras spells them). */
function resolve(op: string, opts: AffineResampleOptions) {
  checkOptions(opts, OPTION_KEYS, op);
  const interpolation = opts.interpolation ?? 'bilinear';
  const fillMode = opts.fillMode ?? 'constant';
  const fillValue = opts.fillValue ?? 0;
  if (!INTERPOLATIONS.includes(interpolation))
    throw new ArgumentError(
      `${op}: interpolation must be one of ${INTERPOLATIONS.join(', ')}, got ${JSON.stringify(interpolation)}`,
    );
  if (!FILL_MODES.includes(fillMode))
    throw new ArgumentError(
      `${op}: fillMode must be one of ${FILL_MODES.join(', ')}, got ${JSON.stringify(fillMode)}`,
    );
  if (typeof fillValue !== 'number' || !Number.isFinite(fillValue))
    throw new ArgumentError(`${op}: fillValue must be a finite number, got ${String(fillValue)}`);
  return { interpolation, fillMode, fillValue };
}

function checkTransforms(op: string, transforms: Tensor, batch: number): void {
  assertTensor(transforms, op, 'transforms');
  assertDTypeIn(transforms, ['float32'], op, 'transforms');
  const s = transforms.shape;
  if (s.length !== 2 || s[1] !== 6 || (s[0] !== batch && s[0] !== 1)) {
    throw new ShapeError(
      `${op}: transforms must have shape [${batch}, 6] or [1, 6] (rows a0 a1 a2 b0 b1 b2), got ${fmtShape(s)}`,
    );
  }
}

/**
 * Resamples images `[b, h, w, c]` (or `[h, w, c]`, float32) through per-image affine maps:
 * `transforms` is float32 `[b, 6]` (or `[1, 6]` for all), rows `[a0, a1, a2, b0, b1, b2]` mapping
 * output pixel (x, y) to input point (a0 x + a1 y + a2, b0 x + b1 y + b2), the first six entries
 * of a Keras `affine_transform` row. Differentiable w.r.t. the images (not the transforms).
 */
export function affineResample(images: Tensor, transforms: Tensor, opts: AffineResampleOptions = {}): Tensor {
  const op = 'affineResample';
  assertTensor(images, op, 'images');
  assertRank(images, [3, 4], op, 'images');
  assertDTypeIn(images, ['float32'], op, 'images');
  const o = resolve(op, opts);
  const x4 = images.rank === 3 ? reshape(images, [1, ...images.shape]) : images;
  const [b, inH, inW, c] = x4.shape;
  checkTransforms(op, transforms, b);
  const size = opts.outputSize ?? [inH, inW];
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d > 0))
    throw new ArgumentError(
      `${op}: outputSize must be [height, width] of positive integers, got ${JSON.stringify(size)}`,
    );
  if (inH === 0 || inW === 0)
    throw new ShapeError(`${op}: images must be at least 1x1, got shape ${fmtShape(images.shape)}`);
  assertBindable(x4, op, 'images');
  const out = emptyTensor([b, size[0], size[1], c], 'float32');
  const n = out.size === 0 ? 0 : b * size[0] * size[1];
  if (n > 0) {
    forward.run({
      constants: { mode: o.fillMode, interp: o.interpolation },
      buffers: { x: x4, t: transforms, out },
      uniforms: {
        n,
        c,
        inH,
        inW,
        outH: size[0],
        outW: size[1],
        perImage: transforms.shape[0] === 1 ? 0 : 1,
        fillValue: o.fillValue,
      },
      workgroups: grid(n),
    });
  }
  const y = recordOp('affineResample', [x4, transforms], out, {
    interpolation: o.interpolation,
    fillMode: o.fillMode,
  });
  return images.rank === 3 ? reshape(y, y.shape.slice(1)) : y;
}

/**
 * The gradient of `affineResample` w.r.t. its images: `dy` `[b, outH, outW, c]` scattered back onto
 * `[b, inputSize[0], inputSize[1], c]` along the taps the forward pass read (fill reads add nothing).
 */
export function affineResampleGrad(
  dy: Tensor,
  transforms: Tensor,
  inputSize: readonly [number, number],
  opts: Pick<AffineResampleOptions, 'interpolation' | 'fillMode'> = {},
): Tensor {
  const op = 'affineResampleGrad';
  assertTensor(dy, op, 'dy');
  assertRank(dy, 4, op, 'dy');
  assertDTypeIn(dy, ['float32'], op, 'dy');
  const o = resolve(op, opts);
  const [b, outH, outW, c] = dy.shape;
  checkTransforms(op, transforms, b);
  if (
    !Array.isArray(inputSize) ||
    inputSize.length !== 2 ||
    !inputSize.every((d) => Number.isInteger(d) && d > 0)
  )
    throw new ArgumentError(
      `${op}: inputSize must be [height, width] of positive integers, got ${JSON.stringify(inputSize)}`,
    );
  assertBindable(dy, op, 'dy');
  const [inH, inW] = inputSize;
  const dx = zeros([b, inH, inW, c]);
  const n = dy.size === 0 ? 0 : b * outH * outW;
  if (n > 0) {
    backward.run({
      constants: { mode: o.fillMode, interp: o.interpolation },
      buffers: { dy, t: transforms, dx },
      uniforms: { n, c, inH, inW, outH, outW, perImage: transforms.shape[0] === 1 ? 0 : 1, fillValue: 0 },
      workgroups: grid(n),
    });
  }
  return recordOp('affineResampleGrad', [dy, transforms], dx, {
    interpolation: o.interpolation,
    fillMode: o.fillMode,
    outputSize: [outH, outW],
  });
}
