import type { AffineInterpolation } from '../../kernels/augment.js';
import { add, div, maximum, mul, sub } from '../../kernels/binary.js';
import { reshape } from '../../kernels/reshape.js';
import { slice } from '../../kernels/slice.js';
import { sqrt } from '../../kernels/unary.js';
import { tensor } from '../../tensor/creation.js';
import { ArgumentError, ShapeError } from '../../tensor/errors.js';
import type { OptionKeys } from '../../tensor/options.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Variable } from '../../tensor/variable.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import { checkBool, checkPositiveInt, fmtSym, LAYER_KEYS, Layer, registerLayer, single } from '../layer.js';
import { resizeBilinearAffine } from './augmentation.js';

/**
 * Keras 3's preprocessing layers Rescaling, Normalization, Resizing and CenterCrop (channels last).
 * They run on the GPU from existing ops (the resizes are affine resamples), so they are
 * differentiable and can sit inside a model.
 */

/** A number, or one per channel / feature. */
export type Numbers = number | number[];

function checkNumbers(v: unknown, what: string, who: string): void {
  const ok = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  if (!(ok(v) || (Array.isArray(v) && v.length > 0 && v.every(ok))))
    throw new ArgumentError(
      `${who}: ${what} must be a finite number or an array of them, got ${JSON.stringify(v)}`,
    );
}

const asOperand = (v: Numbers): number | Tensor => (typeof v === 'number' ? v : tensor(v));

/** Options of Rescaling. */
export interface RescalingArgs extends LayerArgs {
  /** Multiplier (a number, or one per channel). */
  scale: Numbers;
  /** Added after scaling (default 0). */
  offset?: Numbers;
}

/** `x * scale + offset` (Keras `Rescaling`; e.g. scale 1/255 maps [0, 255] to [0, 1]). */
export class Rescaling extends Layer {
  static override readonly optionKeys: OptionKeys<RescalingArgs> = {
    ...LAYER_KEYS,
    scale: true,
    offset: true,
  };
  /** The multiplier. */
  readonly scale: Numbers;
  /** The offset. */
  readonly offset: Numbers;
  constructor(args: RescalingArgs) {
    super(args);
    checkNumbers(args?.scale, 'scale', `Rescaling '${this.name}'`);
    checkNumbers(args.offset ?? 0, 'offset', `Rescaling '${this.name}'`);
    this.scale = args.scale;
    this.offset = args.offset ?? 0;
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const y = mul(single(this, inputs), asOperand(this.scale));
    return this.offset === 0 ? y : add(y, asOperand(this.offset));
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), scale: this.scale, offset: this.offset };
  }
}
registerLayer('Rescaling', (c) => new Rescaling(c as unknown as RescalingArgs));

/** Options of Normalization. */
export interface NormalizationArgs extends LayerArgs {
  /** The axis (or axes) that keep separate statistics (default -1, the channels); null: one mean and variance for all. */
  axis?: number | number[] | null;
  /** Fixed mean (with `variance`), instead of `adapt`. */
  mean?: Numbers;
  /** Fixed variance (with `mean`). */
  variance?: Numbers;
  /** Undo the normalization instead: x * sqrt(variance) + mean. */
  invert?: boolean;
}

/** What `Normalization.adapt` reads: one tensor, or batches of tensors or of `{ xs }`. */
export type AdaptData = Tensor | AsyncIterable<Tensor | AdaptBatch> | Iterable<Tensor | AdaptBatch>;
/** A dataset batch `adapt` reads the inputs of. */
export interface AdaptBatch {
  /** The inputs (labels, if any, are ignored). */
  xs: Tensor;
}

/** Keras 3 divides by max(sqrt(variance), epsilon) with epsilon = backend.epsilon(). */
const EPSILON = 1e-7;

/**
 * `(x - mean) / max(sqrt(variance), 1e-7)` per feature along `axis` (Keras `Normalization`). The
 * statistics are given or computed by `adapt` (population variance, float64, streaming). They
 * are the non-trainable weights `mean` and `variance`.
 */
export class Normalization extends Layer {
  static override readonly optionKeys: OptionKeys<NormalizationArgs> = {
    ...LAYER_KEYS,
    axis: true,
    mean: true,
    variance: true,
    invert: true,
  };
  /** The axes with their own statistics (as given). */
  readonly axis: number[];
  /** Inverts the normalization. */
  readonly invert: boolean;
  /** The mean weight (after build). */
  mean?: Variable;
  /** The variance weight (after build). */
  variance?: Variable;
  private readonly given?: { mean: Numbers; variance: Numbers };
  constructor(args: NormalizationArgs = {}) {
    super(args);
    const who = `Normalization '${this.name}'`;
    const axis =
      args.axis === undefined
        ? [-1]
        : args.axis === null
          ? []
          : Array.isArray(args.axis)
            ? args.axis
            : [args.axis];
    if (!axis.every((a) => Number.isInteger(a)))
      throw new ArgumentError(
        `${who}: axis must be an integer, an array of them or null, got ${JSON.stringify(args.axis)}`,
      );
    this.axis = axis;
    checkBool(args.invert, 'invert', who);
    this.invert = args.invert ?? false;
    if ((args.mean === undefined) !== (args.variance === undefined))
      throw new ArgumentError(
        `${who}: give both mean and variance, or neither (then call adapt), got only ${args.mean === undefined ? 'variance' : 'mean'}`,
      );
    if (args.mean !== undefined) {
      checkNumbers(args.mean, 'mean', who);
      checkNumbers(args.variance, 'variance', who);
      this.given = { mean: args.mean, variance: args.variance! };
    }
  }

  private keptAxes(rank: number): number[] {
    const ax = this.axis.map((a) => (a < 0 ? a + rank : a));
    if (ax.some((a) => a < 1 || a >= rank))
      throw new ShapeError(
        `Normalization '${this.name}': axis ${JSON.stringify(this.axis)} is out of range for inputs of rank ${rank} (axis 0 is the batch)`,
      );
    return [...new Set(ax)].sort((a, b) => a - b);
  }

  override build(inputShape: SymShape): void {
    const kept = this.keptAxes(inputShape.length);
    const dims = kept.map((a) => inputShape[a]);
    if (dims.some((d) => d === null))
      throw new ShapeError(
        `Normalization '${this.name}': the axes ${JSON.stringify(this.axis)} of ${fmtSym(inputShape)} must be known`,
      );
    const shape = dims as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const init = (v: Numbers | undefined, fallback: number) =>
      tensor(
        Float32Array.from({ length: n }, (_, i) =>
          v === undefined ? fallback : typeof v === 'number' ? v : v.length === 1 ? v[0] : v[i],
        ),
        shape,
      );
    if (this.given) {
      for (const [k, v] of Object.entries(this.given))
        if (Array.isArray(v) && v.length !== 1 && v.length !== n)
          throw new ShapeError(
            `Normalization '${this.name}': ${k} has ${v.length} values, expected 1 or ${n} for inputs ${fmtSym(inputShape)}`,
          );
    }
    this.mean = this.addWeight('mean', shape, init(this.given?.mean, 0), false);
    this.variance = this.addWeight('variance', shape, init(this.given?.variance, 1), false);
    super.build(inputShape);
  }

  /**
   * Computes the mean and (population) variance of `data` over every axis but `axis`, in float64 on
   * the CPU, batch by batch (Chan's parallel update), and stores them in the layer's weights.
   */
  async adapt(data: AdaptData): Promise<void> {
    const who = `Normalization '${this.name}'.adapt`;
    const batches: AsyncIterable<Tensor | AdaptBatch> | Iterable<Tensor | AdaptBatch> =
      data instanceof Tensor ? [data] : data;
    if (
      batches === null ||
      typeof batches !== 'object' ||
      !(Symbol.asyncIterator in batches || Symbol.iterator in batches)
    )
      throw new ArgumentError(
        `${who}: data must be a Tensor or an iterable of tensors or { xs } batches, got ${String(data)}`,
      );
    let count: Float64Array | undefined;
    let mean: Float64Array | undefined;
    let m2: Float64Array | undefined;
    for await (const item of batches) {
      const x = item instanceof Tensor ? item : item?.xs;
      if (!(x instanceof Tensor))
        throw new ArgumentError(`${who}: each batch must be a Tensor or { xs: Tensor }, got ${String(item)}`);
      if (!this.built) this.build([null, ...x.shape.slice(1)]);
      const kept = this.keptAxes(x.rank);
      const want = this.mean!.shape;
      if (kept.some((a, i) => x.shape[a] !== want[i]))
        throw new ShapeError(
          `${who}: batch shape ${JSON.stringify(x.shape)} does not match the layer's statistics shape ${JSON.stringify(want)} on axes ${JSON.stringify(this.axis)}`,
        );
      const v = await x.data();
      const n = this.mean!.size;
      const bc = new Float64Array(n);
      const bs = new Float64Array(n);
      const feature = featureIndex(x.shape, kept);
      for (let i = 0; i < v.length; i++) {
        const f = feature(i);
        bc[f]++;
        bs[f] += v[i];
      }
      const bm = bs.map((s, f) => s / Math.max(bc[f], 1));
      const bq = new Float64Array(n);
      for (let i = 0; i < v.length; i++) {
        const f = feature(i);
        bq[f] += (v[i] - bm[f]) ** 2;
      }
      if (!count || !mean || !m2) {
        [count, mean, m2] = [bc, bm, bq];
        continue;
      }
      for (let f = 0; f < n; f++) {
        const tot = count[f] + bc[f];
        if (tot === 0) continue;
        const d = bm[f] - mean[f];
        m2[f] += bq[f] + (d * d * count[f] * bc[f]) / tot;
        mean[f] += (d * bc[f]) / tot;
        count[f] = tot;
      }
    }
    if (!count || !mean || !m2) throw new ArgumentError(`${who}: data has no batches`);
    const c = count;
    const m = mean;
    const q = m2;
    const shape = this.mean!.shape;
    const mt = tensor(Float32Array.from(m), shape);
    const vt = tensor(
      Float32Array.from(q, (s, f) => s / Math.max(c[f], 1)),
      shape,
    );
    this.mean!.assign(mt);
    this.variance!.assign(vt);
    mt.dispose();
    vt.dispose();
  }

  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    const kept = this.keptAxes(x.rank);
    const bshape = x.shape.map((d, i) => (kept.includes(i) ? d : 1));
    const m = reshape(this.mean!, bshape);
    const sd = maximum(sqrt(reshape(this.variance!, bshape)), EPSILON);
    return this.invert ? add(mul(x, sd), m) : div(sub(x, m), sd);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      axis: this.axis,
      invert: this.invert,
      ...(this.given ? { mean: this.given.mean, variance: this.given.variance } : {}),
    };
  }
}
registerLayer('Normalization', (c) => new Normalization(c as NormalizationArgs));

/** Maps a flat index of a tensor of `shape` to its feature index over the `kept` axes. */
function featureIndex(shape: readonly number[], kept: readonly number[]): (i: number) => number {
  const strides = shape.map((_, a) => shape.slice(a + 1).reduce((p, d) => p * d, 1));
  const fStrides = kept.map((_, k) => kept.slice(k + 1).reduce((p, a) => p * shape[a], 1));
  return (i) => {
    let f = 0;
    kept.forEach((a, k) => {
      f += (Math.floor(i / strides[a]) % shape[a]) * fStrides[k];
    });
    return f;
  };
}

/**
 * The centred window with the target aspect ratio, as Keras 3's Resizing layer computes it (Python
 * float64 divisions). Not `cropBox` of src/data/resize.ts: that one repeats TensorFlow's float32
 * `smart_resize` for the image datasets, and the two can differ by a pixel.
 */
function aspectWindow(h: number, w: number, th: number, tw: number) {
  const ch = Math.max(Math.min(h, Math.trunc((w * th) / tw)), 1);
  const cw = Math.max(Math.min(w, Math.trunc((h * tw) / th)), 1);
  return { y: Math.trunc((h - ch) / 2), x: Math.trunc((w - cw) / 2), h: ch, w: cw };
}

function needImages(layer: Layer, s: readonly (number | null)[]): void {
  if (s.length !== 4)
    throw new ShapeError(
      `${layer.className} '${layer.name}' needs [batch, height, width, channels] inputs, got ${fmtSym([...s])}`,
    );
}

/** Options of Resizing. */
export interface ResizingArgs extends LayerArgs {
  /** Output height. */
  height: number;
  /** Output width. */
  width: number;
  /** 'bilinear' (default) or 'nearest'. */
  interpolation?: AffineInterpolation;
  /** Resize the largest centred window with the target aspect ratio instead of the whole image. */
  cropToAspectRatio?: boolean;
}

/**
 * Resizes images to `height` x `width` with half-pixel centres and no antialiasing (Keras
 * `Resizing`, tf.image.resize / jax.image.resize bilinear), on the GPU as one affine resample.
 */
export class Resizing extends Layer {
  static override readonly optionKeys: OptionKeys<ResizingArgs> = {
    ...LAYER_KEYS,
    height: true,
    width: true,
    interpolation: true,
    cropToAspectRatio: true,
  };
  /** Output height. */
  readonly height: number;
  /** Output width. */
  readonly width: number;
  /** How pixels are read. */
  readonly interpolation: AffineInterpolation;
  /** Crops to the target aspect ratio first. */
  readonly cropToAspectRatio: boolean;
  constructor(args: ResizingArgs) {
    super(args);
    const who = `Resizing '${this.name}'`;
    this.height = checkPositiveInt(args?.height, 'height', who);
    this.width = checkPositiveInt(args.width, 'width', who);
    const interp = args.interpolation ?? 'bilinear';
    if (interp !== 'bilinear' && interp !== 'nearest')
      throw new ArgumentError(
        `${who}: interpolation must be 'bilinear' or 'nearest', got ${JSON.stringify(interp)}`,
      );
    this.interpolation = interp;
    checkBool(args.cropToAspectRatio, 'cropToAspectRatio', who);
    this.cropToAspectRatio = args.cropToAspectRatio ?? false;
  }
  override computeOutputShape(s: SymShape): SymShape {
    needImages(this, s);
    return [s[0], this.height, this.width, s[3]];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    needImages(this, x.shape);
    const [, h, w] = x.shape;
    const win = this.cropToAspectRatio ? aspectWindow(h, w, this.height, this.width) : undefined;
    return resizeBilinearAffine(x, this.height, this.width, win, this.interpolation);
  }
  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      height: this.height,
      width: this.width,
      interpolation: this.interpolation,
      cropToAspectRatio: this.cropToAspectRatio,
    };
  }
}
registerLayer('Resizing', (c) => new Resizing(c as unknown as ResizingArgs));

/** Options of CenterCrop. */
export interface CenterCropArgs extends LayerArgs {
  /** Output height. */
  height: number;
  /** Output width. */
  width: number;
}

/**
 * Crops the centre `height` x `width` window (offset floor((size - target) / 2)); an image smaller
 * than the target on either axis is instead cropped to the target aspect ratio and resized
 * bilinearly (Keras 3 `CenterCrop`, which calls `smart_resize` there).
 */
export class CenterCrop extends Layer {
  static override readonly optionKeys: OptionKeys<CenterCropArgs> = {
    ...LAYER_KEYS,
    height: true,
    width: true,
  };
  /** Output height. */
  readonly height: number;
  /** Output width. */
  readonly width: number;
  constructor(args: CenterCropArgs) {
    super(args);
    this.height = checkPositiveInt(args?.height, 'height', `CenterCrop '${this.name}'`);
    this.width = checkPositiveInt(args.width, 'width', `CenterCrop '${this.name}'`);
  }
  override computeOutputShape(s: SymShape): SymShape {
    needImages(this, s);
    return [s[0], this.height, this.width, s[3]];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    needImages(this, x.shape);
    const [b, h, w, c] = x.shape;
    if (h >= this.height && w >= this.width) {
      const y0 = Math.floor((h - this.height) / 2);
      const x0 = Math.floor((w - this.width) / 2);
      return slice(x, [0, y0, x0, 0], [b, this.height, this.width, c]);
    }
    return resizeBilinearAffine(x, this.height, this.width, aspectWindow(h, w, this.height, this.width));
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), height: this.height, width: this.width };
  }
}
registerLayer('CenterCrop', (c) => new CenterCrop(c as unknown as CenterCropArgs));
