import type { AffineInterpolation, FillMode } from '../../kernels/augment.js';
import { affineResample } from '../../kernels/augment.js';
import { add, mul, sub } from '../../kernels/binary.js';
import { mean } from '../../kernels/reduce.js';
import { reshape } from '../../kernels/reshape.js';
import { clipByValue } from '../../kernels/select.js';
import { slice } from '../../kernels/slice.js';
import { nextSeedValue, upload } from '../../tensor/creation.js';
import { ArgumentError } from '../../tensor/errors.js';
import { mulberry32 } from '../../tensor/mulberry.js';
import type { OptionKeys } from '../../tensor/options.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import { checkPositiveInt, checkSeed, LAYER_KEYS, Layer, registerLayer, single } from '../layer.js';
import {
  AffineAugmentation,
  type AffineLayerArgs,
  type AffinePlan,
  checkResample,
  factorRange,
  type ResampleOptions,
} from './affine-chain.js';

/**
 * Keras 3's image augmentation layers (channels last), active only with `training: true`. The
 * geometric ones (RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomCrop) compose
 * into one resample when consecutive (see affine-chain.ts); RandomContrast and RandomBrightness are
 * per-image scale and shift, built from elementwise ops. Parameters are drawn per image and call
 * on the CPU from the layer's seeded sequence.
 */

const SEED_KEYS = { ...LAYER_KEYS, seed: true } as const;
const RESAMPLE_KEYS = { ...SEED_KEYS, fillMode: true, interpolation: true, fillValue: true } as const;

/** Base of the layers with a seeded random sequence. */
function makeRandom(layer: Layer, seed: unknown): () => number {
  checkSeed(seed, `${layer.className} '${layer.name}'`);
  return mulberry32(typeof seed === 'number' ? seed : nextSeedValue());
}

function uniform(r: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * r();
}

/** The options shared by rotation, zoom and translation. */
export interface ResampleLayerArgs extends AffineLayerArgs {
  /** 'reflect' (default), 'wrap', 'constant' or 'nearest'. */
  fillMode?: FillMode;
  /** 'bilinear' (default) or 'nearest'. */
  interpolation?: AffineInterpolation;
  /** The value outside the image with fillMode 'constant' (default 0). */
  fillValue?: number;
}

/** Shared by the three layers that interpolate. */
abstract class ResampleLayer extends AffineAugmentation {
  /** How the layer reads between pixels and outside the image. */
  readonly resample: ResampleOptions;
  /** The seed given (undefined: the global sequence). */
  readonly seed?: number;
  /** The layer's seeded uniform [0, 1) sequence. */
  protected readonly random: () => number;
  constructor(args: ResampleLayerArgs) {
    super(args);
    this.resample = checkResample(args as Record<string, unknown>, `${this.className} '${this.name}'`);
    this.random = makeRandom(this, args.seed);
    this.seed = args.seed;
  }
  /** The options that recreate the layer. */
  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      ...this.resample,
      ...(this.seed !== undefined ? { seed: this.seed } : {}),
    };
  }
}

/** Options of RandomFlip. */
export interface RandomFlipArgs extends AffineLayerArgs {
  /** 'horizontal', 'vertical' or 'horizontal_and_vertical' (default; both flips together, as Keras). */
  mode?: 'horizontal' | 'vertical' | 'horizontal_and_vertical';
}

/** Flips each image with probability 1/2 (Keras `RandomFlip`). */
export class RandomFlip extends AffineAugmentation {
  static override readonly optionKeys: OptionKeys<RandomFlipArgs> = { ...SEED_KEYS, mode: true };
  /** Which axes flip. */
  readonly mode: 'horizontal' | 'vertical' | 'horizontal_and_vertical';
  /** The seed given. */
  readonly seed?: number;
  private readonly random: () => number;
  constructor(args: RandomFlipArgs = {}) {
    super(args);
    const mode = args.mode ?? 'horizontal_and_vertical';
    if (!['horizontal', 'vertical', 'horizontal_and_vertical'].includes(mode))
      throw new ArgumentError(
        `RandomFlip '${this.name}': mode must be 'horizontal', 'vertical' or 'horizontal_and_vertical', got ${JSON.stringify(mode)}`,
      );
    this.mode = mode;
    this.random = makeRandom(this, args.seed);
    this.seed = args.seed;
  }
  plan(b: number, h: number, w: number): AffinePlan {
    const rows = new Float64Array(b * 6);
    const fx = this.mode !== 'vertical';
    const fy = this.mode !== 'horizontal';
    for (let i = 0; i < b; i++) {
      const flip = this.random() <= 0.5;
      rows.set(
        [flip && fx ? -1 : 1, 0, flip && fx ? w - 1 : 0, 0, flip && fy ? -1 : 1, flip && fy ? h - 1 : 0],
        i * 6,
      );
    }
    return { rows, outH: h, outW: w };
  }
  /** The options that recreate the layer. */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), mode: this.mode, ...(this.seed !== undefined ? { seed: this.seed } : {}) };
  }
}
registerLayer('RandomFlip', (c) => new RandomFlip(c as RandomFlipArgs));

/** Options of RandomRotation. */
export interface RandomRotationArgs extends ResampleLayerArgs {
  /** Fraction of a full turn: f means [-f, f] * 2π, [lo, hi] means [lo, hi] * 2π; positive is counter-clockwise. */
  factor: number | [number, number];
}

/** Rotates each image about its centre by a random angle (Keras `RandomRotation`). */
export class RandomRotation extends ResampleLayer {
  static override readonly optionKeys: OptionKeys<RandomRotationArgs> = { ...RESAMPLE_KEYS, factor: true };
  /** The factor as given. */
  readonly factor: number | [number, number];
  private readonly range: [number, number];
  constructor(args: RandomRotationArgs) {
    super(args);
    this.range = factorRange(args?.factor, 'factor', `RandomRotation '${this.name}'`);
    this.factor = args.factor;
  }
  plan(b: number, h: number, w: number): AffinePlan {
    const rows = new Float64Array(b * 6);
    const cx = (w - 1) / 2;
    const cy = (h - 1) / 2;
    for (let i = 0; i < b; i++) {
      // Keras: degrees uniform in [lo, hi] * 360, then radians.
      const deg = uniform(this.random, this.range[0] * 360, this.range[1] * 360);
      const a = (deg * Math.PI) / 180;
      const c = Math.cos(a);
      const s = Math.sin(a);
      rows.set([c, -s, cx - cx * c + cy * s, s, c, cy - cx * s - cy * c], i * 6);
    }
    return { rows, outH: h, outW: w, resample: this.resample };
  }
  /** The options that recreate the layer. */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), factor: this.factor };
  }
}
registerLayer('RandomRotation', (c) => new RandomRotation(c as unknown as RandomRotationArgs));

/** Options of RandomZoom. */
export interface RandomZoomArgs extends ResampleLayerArgs {
  /** Vertical zoom: f means [-f, f]; positive zooms out, negative zooms in (the scale is 1 + value). */
  heightFactor: number | [number, number];
  /** Horizontal zoom, as heightFactor (default: the vertical zoom, keeping the aspect ratio). */
  widthFactor?: number | [number, number] | null;
}

/** Zooms each image about its centre by a random factor per axis (Keras `RandomZoom`). */
export class RandomZoom extends ResampleLayer {
  static override readonly optionKeys: OptionKeys<RandomZoomArgs> = {
    ...RESAMPLE_KEYS,
    heightFactor: true,
    widthFactor: true,
  };
  /** The vertical factor as given. */
  readonly heightFactor: number | [number, number];
  /** The horizontal factor as given. */
  readonly widthFactor?: number | [number, number] | null;
  private readonly hRange: [number, number];
  private readonly wRange?: [number, number];
  constructor(args: RandomZoomArgs) {
    super(args);
    const who = `RandomZoom '${this.name}'`;
    this.hRange = factorRange(args?.heightFactor, 'heightFactor', who);
    if (args.widthFactor !== undefined && args.widthFactor !== null)
      this.wRange = factorRange(args.widthFactor, 'widthFactor', who);
    this.heightFactor = args.heightFactor;
    this.widthFactor = args.widthFactor;
  }
  plan(b: number, h: number, w: number): AffinePlan {
    const rows = new Float64Array(b * 6);
    // Keras draws all the heights, then all the widths.
    const zy = Array.from({ length: b }, () => 1 + uniform(this.random, ...this.hRange));
    const zx = this.wRange ? Array.from({ length: b }, () => 1 + uniform(this.random, ...this.wRange!)) : zy;
    for (let i = 0; i < b; i++)
      rows.set([zx[i], 0, ((w - 1) / 2) * (1 - zx[i]), 0, zy[i], ((h - 1) / 2) * (1 - zy[i])], i * 6);
    return { rows, outH: h, outW: w, resample: this.resample };
  }
  /** The options that recreate the layer. */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), heightFactor: this.heightFactor, widthFactor: this.widthFactor ?? null };
  }
}
registerLayer('RandomZoom', (c) => new RandomZoom(c as unknown as RandomZoomArgs));

/** Options of RandomTranslation. */
export interface RandomTranslationArgs extends ResampleLayerArgs {
  /** Vertical shift as a fraction of the height: f means [-f, f]; positive moves the image down. */
  heightFactor: number | [number, number];
  /** Horizontal shift as a fraction of the width; positive moves the image right. */
  widthFactor: number | [number, number];
}

/** Shifts each image by a random fraction of its size (Keras `RandomTranslation`). */
export class RandomTranslation extends ResampleLayer {
  static override readonly optionKeys: OptionKeys<RandomTranslationArgs> = {
    ...RESAMPLE_KEYS,
    heightFactor: true,
    widthFactor: true,
  };
  /** The vertical factor as given. */
  readonly heightFactor: number | [number, number];
  /** The horizontal factor as given. */
  readonly widthFactor: number | [number, number];
  private readonly hRange: [number, number];
  private readonly wRange: [number, number];
  constructor(args: RandomTranslationArgs) {
    super(args);
    const who = `RandomTranslation '${this.name}'`;
    this.hRange = factorRange(args?.heightFactor, 'heightFactor', who);
    this.wRange = factorRange(args.widthFactor, 'widthFactor', who);
    this.heightFactor = args.heightFactor;
    this.widthFactor = args.widthFactor;
  }
  plan(b: number, h: number, w: number): AffinePlan {
    const rows = new Float64Array(b * 6);
    const dy = Array.from({ length: b }, () => uniform(this.random, ...this.hRange) * h);
    const dx = Array.from({ length: b }, () => uniform(this.random, ...this.wRange) * w);
    // Keras computes the shifts in float32.
    for (let i = 0; i < b; i++) rows.set([1, 0, -Math.fround(dx[i]), 0, 1, -Math.fround(dy[i])], i * 6);
    return { rows, outH: h, outW: w, resample: this.resample };
  }
  /** The options that recreate the layer. */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), heightFactor: this.heightFactor, widthFactor: this.widthFactor };
  }
}
registerLayer('RandomTranslation', (c) => new RandomTranslation(c as unknown as RandomTranslationArgs));

/** Options of RandomCrop. */
export interface RandomCropArgs extends AffineLayerArgs {
  /** Output height. */
  height: number;
  /** Output width. */
  width: number;
}

/**
 * Crops a random `height` x `width` window (one offset per batch, as Keras) in training when the
 * input is larger on both axes; otherwise, in training, Keras's fallback: a window at the
 * aspect-ratio-preserving offset, resized bilinearly to the target if its size differs. At
 * inference the images pass unchanged, as in Keras 3.15.
 */
export class RandomCrop extends AffineAugmentation {
  static override readonly optionKeys: OptionKeys<RandomCropArgs> = {
    ...SEED_KEYS,
    height: true,
    width: true,
  };
  /** Output height. */
  readonly height: number;
  /** Output width. */
  readonly width: number;
  /** The seed given. */
  readonly seed?: number;
  private readonly random: () => number;
  constructor(args: RandomCropArgs) {
    super(args);
    const who = `RandomCrop '${this.name}'`;
    this.height = checkPositiveInt(args?.height, 'height', who);
    this.width = checkPositiveInt(args.width, 'width', who);
    this.random = makeRandom(this, args.seed);
    this.seed = args.seed;
  }
  override computeOutputShape(inputShape: SymShape): SymShape {
    const s = super.computeOutputShape(inputShape);
    return [...s.slice(0, -3), this.height, this.width, s[s.length - 1]];
  }
  plan(b: number, h: number, w: number): AffinePlan | undefined {
    if (!(h > this.height && w > this.width)) return undefined;
    const y0 = Math.floor(uniform(this.random, 0, h - this.height + 1));
    const x0 = Math.floor(uniform(this.random, 0, w - this.width + 1));
    const rows = new Float64Array(b * 6);
    for (let i = 0; i < b; i++) rows.set([1, 0, x0, 0, 1, y0], i * 6);
    return { rows, outH: this.height, outW: this.width };
  }
  override fallback(x: Tensor, training: boolean): Tensor {
    // Keras 3 (3.15) returns the images unchanged at inference.
    if (!training) return x;
    const [b, h, w, c] = x.shape;
    const ch = Math.max(Math.min(h, Math.trunc((w * this.height) / this.width)), 1);
    const cw = Math.max(Math.min(w, Math.trunc((h * this.width) / this.height)), 1);
    const y0 = Math.trunc((h - ch) / 2);
    const x0 = Math.trunc((w - cw) / 2);
    // Keras slices `height` x `width` from that offset (clipped to the image), then resizes.
    const sh = Math.min(this.height, h - y0);
    const sw = Math.min(this.width, w - x0);
    const win = slice(x, [0, y0, x0, 0], [b, sh, sw, c]);
    if (sh === this.height && sw === this.width) return win;
    return resizeBilinearAffine(win, this.height, this.width);
  }
  /** The options that recreate the layer. */
  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      height: this.height,
      width: this.width,
      ...(this.seed !== undefined ? { seed: this.seed } : {}),
    };
  }
}
registerLayer('RandomCrop', (c) => new RandomCrop(c as unknown as RandomCropArgs));

/**
 * Bilinear resize with half-pixel centres (tf.image.resize / jax.image.resize without antialias)
 * as an affine resample: x_in = (x + 0.5) * inW / outW - 0.5, edges clamped. Differentiable.
 */
export function resizeBilinearAffine(
  x: Tensor,
  height: number,
  width: number,
  window?: { y: number; x: number; h: number; w: number },
  interpolation: AffineInterpolation = 'bilinear',
): Tensor {
  // The window is cut first so that the edge clamping happens at the window's edges, as TF's.
  const [b, h, w, c] = x.shape;
  const src =
    window && (window.h !== h || window.w !== w)
      ? slice(x, [0, window.y, window.x, 0], [b, window.h, window.w, c])
      : x;
  const sy = src.shape[1] / height;
  const sx = src.shape[2] / width;
  // Nearest reads floor((x + 0.5) * scale) (tf and jax); the kernel rounds x_in = that - 0.5, half to
  // even. Nudging x_in up by 1 / (4 * size) makes exact ties round up, as floor does, and moves no
  // other point across a rounding boundary (their fractions are multiples of 1 / (2 * size)).
  const ny = interpolation === 'nearest' ? 0.25 / height : 0;
  const nx = interpolation === 'nearest' ? 0.25 / width : 0;
  const t = upload(
    Float32Array.from([sx, 0, 0.5 * sx - 0.5 + nx, 0, sy, 0.5 * sy - 0.5 + ny]),
    [1, 6],
    'float32',
  );
  return affineResample(src, t, { outputSize: [height, width], interpolation, fillMode: 'nearest' });
}

/** Options of RandomContrast and RandomBrightness. */
export interface ColorAugmentArgs extends LayerArgs {
  /** See each layer. */
  factor: number | [number, number];
  /** The range of the pixel values, [low, high] (default [0, 255]); outputs are clipped to it. */
  valueRange?: [number, number];
  /** Seed of the random factors. */
  seed?: number;
}

abstract class ColorAugment extends Layer {
  static override readonly optionKeys: OptionKeys<ColorAugmentArgs> = {
    ...SEED_KEYS,
    factor: true,
    valueRange: true,
  };
  /** The factor as given. */
  readonly factor: number | [number, number];
  /** The pixel value range. */
  readonly valueRange: [number, number];
  /** The seed given. */
  readonly seed?: number;
  /** The layer's seeded uniform [0, 1) sequence. */
  protected readonly random: () => number;
  /** The factor as [lower, upper]. */
  protected readonly range: [number, number];
  constructor(args: ColorAugmentArgs, bounds: [number, number]) {
    super(args);
    const who = `${this.className} '${this.name}'`;
    this.range = factorRange(args?.factor, 'factor', who, bounds);
    const vr = args.valueRange ?? [0, 255];
    if (
      !Array.isArray(vr) ||
      vr.length !== 2 ||
      !vr.every((v) => typeof v === 'number' && Number.isFinite(v))
    )
      throw new ArgumentError(`${who}: valueRange must be [low, high] numbers, got ${JSON.stringify(vr)}`);
    this.valueRange = vr[0] <= vr[1] ? [vr[0], vr[1]] : [vr[1], vr[0]];
    this.factor = args.factor;
    this.random = makeRandom(this, args.seed);
    this.seed = args.seed;
  }
  /** The per-image [b, 1, 1, 1] values drawn for this call. */
  protected draw(b: number, f: (u: number) => number): Tensor {
    return upload(
      Float32Array.from({ length: b }, () => f(this.random())),
      [b, 1, 1, 1],
      'float32',
    );
  }
  /** The options that recreate the layer. */
  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      factor: this.factor,
      valueRange: this.valueRange,
      ...(this.seed !== undefined ? { seed: this.seed } : {}),
    };
  }
}

/**
 * Scales each image's deviation from its per-channel mean by a random factor in
 * [1 - lower, 1 + upper] (f means lower = upper = f, as the Keras docstring states), then clips to
 * `valueRange`: (x - mean) * factor + mean.
 */
export class RandomContrast extends ColorAugment {
  constructor(args: ColorAugmentArgs) {
    super(args, [0, 1]);
  }
  call(inputs: Tensor | Tensor[], args: CallArgs): Tensor {
    const x = single(this, inputs);
    if (!args.training) return x;
    const lower = typeof this.factor === 'number' ? this.range[1] : this.range[0];
    const x4 = x.rank === 3 ? reshape(x, [1, ...x.shape]) : x;
    const f = this.draw(x4.shape[0], (u) => 1 - lower + (lower + this.range[1]) * u);
    const m = mean(x4, [1, 2], true);
    const y = clipByValue(add(mul(sub(x4, m), f), m), ...this.valueRange);
    return x.rank === 3 ? reshape(y, x.shape) : y;
  }
}
registerLayer('RandomContrast', (c) => new RandomContrast(c as unknown as ColorAugmentArgs));

/**
 * Adds a random per-image offset, factor * (high - low) with factor uniform in [-f, f] (or
 * [lower, upper]), then clips to `valueRange` (Keras `RandomBrightness`).
 */
export class RandomBrightness extends ColorAugment {
  constructor(args: ColorAugmentArgs) {
    super(args, [-1, 1]);
  }
  call(inputs: Tensor | Tensor[], args: CallArgs): Tensor {
    const x = single(this, inputs);
    if (!args.training) return x;
    const [lo, hi] = this.range;
    const span = this.valueRange[1] - this.valueRange[0];
    const x4 = x.rank === 3 ? reshape(x, [1, ...x.shape]) : x;
    const d = this.draw(x4.shape[0], (u) => (lo + (hi - lo) * u) * span);
    const y = clipByValue(add(x4, d), ...this.valueRange);
    return x.rank === 3 ? reshape(y, x.shape) : y;
  }
}
registerLayer('RandomBrightness', (c) => new RandomBrightness(c as unknown as ColorAugmentArgs));
