import { add, mul } from '../../kernels/binary.js';
import { tile } from '../../kernels/concat.js';
import { gather } from '../../kernels/gather.js';
import { reshape } from '../../kernels/reshape.js';
import { slice } from '../../kernels/slice.js';
import { transpose } from '../../kernels/transpose.js';
import { tensor } from '../../tensor/creation.js';
import { ArgumentError, ShapeError } from '../../tensor/errors.js';
import type { OptionKeys } from '../../tensor/options.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import { checkInputShape, fmtSym, LAYER_KEYS, Layer, registerLayer, single } from '../layer.js';

/** Keras' reshaping layers Permute, RepeatVector, Cropping2D and UpSampling2D (channels last). */

function needRank(layer: Layer, s: SymShape, rank: number, what: string): void {
  if (s.length !== rank)
    throw new ShapeError(`${layer.className} '${layer.name}' needs ${what} inputs, got ${fmtSym(s)}`);
}

export interface PermuteArgs extends LayerArgs {
  /** A permutation of 1..rank-1 (the batch axis stays first), e.g. [2, 1] swaps the two axes. */
  dims: number[];
}

/** Permutes the non-batch axes: `dims` [2, 1] maps [b, n, m] to [b, m, n]. */
export class Permute extends Layer {
  static override readonly optionKeys: OptionKeys<PermuteArgs> = { ...LAYER_KEYS, dims: true };
  /** The permutation of the non-batch axes (1-based). */
  readonly dims: number[];
  constructor(args: PermuteArgs) {
    super(args);
    const d = args?.dims;
    const ok =
      Array.isArray(d) &&
      d.length > 0 &&
      d.every((v) => Number.isInteger(v) && v >= 1 && v <= d.length) &&
      new Set(d).size === d.length;
    if (!ok)
      throw new ArgumentError(
        `Permute '${this.name}': dims must be a permutation of 1..n (the batch axis is not included), got ${JSON.stringify(d)}`,
      );
    this.dims = [...d];
  }
  override computeOutputShape(s: SymShape): SymShape {
    needRank(this, s, this.dims.length + 1, `rank-${this.dims.length + 1}`);
    return [s[0], ...this.dims.map((d) => s[d])];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    checkInputShape(this, x, this.inputShapeBuilt);
    return transpose(x, [0, ...this.dims]);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), dims: this.dims };
  }
}
registerLayer('Permute', (c) => new Permute(c as unknown as PermuteArgs));

export interface RepeatVectorArgs extends LayerArgs {
  /** How many times to repeat. */
  n: number;
}

/** Repeats a [b, f] input n times: [b, n, f]. */
export class RepeatVector extends Layer {
  static override readonly optionKeys: OptionKeys<RepeatVectorArgs> = { ...LAYER_KEYS, n: true };
  /** How many times the input vector is repeated. */
  readonly n: number;
  constructor(args: RepeatVectorArgs) {
    super(args);
    if (!Number.isInteger(args?.n) || args.n < 1)
      throw new ArgumentError(
        `RepeatVector '${this.name}': n must be a positive integer, got ${JSON.stringify(args?.n)}`,
      );
    this.n = args.n;
  }
  override computeOutputShape(s: SymShape): SymShape {
    needRank(this, s, 2, '[batch, features]');
    return [s[0], this.n, s[1]];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    checkInputShape(this, x, this.inputShapeBuilt);
    const [b, f] = x.shape;
    return tile(reshape(x, [b, 1, f]), [1, this.n, 1]);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), n: this.n };
  }
}
registerLayer('RepeatVector', (c) => new RepeatVector(c as unknown as RepeatVectorArgs));

type Pairs = [[number, number], [number, number]];

/** n, [h, w] or [[top, bottom], [left, right]] as non-negative integer pairs. */
function pairs(v: unknown, who: string, what: string): Pairs {
  let out: unknown;
  if (typeof v === 'number')
    out = [
      [v, v],
      [v, v],
    ];
  else if (Array.isArray(v) && v.length === 2 && v.every((e) => typeof e === 'number'))
    out = [
      [v[0], v[0]],
      [v[1], v[1]],
    ];
  else out = v;
  const ok =
    Array.isArray(out) &&
    out.length === 2 &&
    out.every((p) => Array.isArray(p) && p.length === 2 && p.every((d) => Number.isInteger(d) && d >= 0));
  if (!ok)
    throw new ArgumentError(
      `${who}: ${what} must be a non-negative integer, [h, w] or [[top, bottom], [left, right]], got ${JSON.stringify(v)}`,
    );
  return out as Pairs;
}

export interface Cropping2DArgs extends LayerArgs {
  /** n, [h, w] (symmetric) or [[top, bottom], [left, right]] rows and columns to drop. */
  cropping?: number | [number, number] | Pairs;
}

/** Drops rows and columns at the borders of NHWC images. */
export class Cropping2D extends Layer {
  static override readonly optionKeys: OptionKeys<Cropping2DArgs> = { ...LAYER_KEYS, cropping: true };
  /** Rows cropped [top, bottom] and columns cropped [left, right]. */
  readonly cropping: Pairs;
  constructor(args: Cropping2DArgs = {}) {
    super(args);
    this.cropping = pairs(args.cropping ?? 0, `Cropping2D '${this.name}'`, 'cropping');
  }
  override computeOutputShape(s: SymShape): SymShape {
    needRank(this, s, 4, 'NHWC');
    const [[t, b], [l, r]] = this.cropping;
    const crop = (d: number | null, n: number) => {
      if (d === null) return null;
      if (d - n < 1)
        throw new ShapeError(
          `Cropping2D '${this.name}': cropping ${JSON.stringify(this.cropping)} leaves nothing of ${fmtSym(s)}`,
        );
      return d - n;
    };
    return [s[0], crop(s[1], t + b), crop(s[2], l + r), s[3]];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    checkInputShape(this, x, this.inputShapeBuilt);
    const out = this.computeOutputShape([null, ...x.shape.slice(1)]) as number[];
    const [[t], [l]] = this.cropping;
    return slice(x, [0, t, l, 0], [x.shape[0], out[1], out[2], x.shape[3]]);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), cropping: this.cropping };
  }
}
registerLayer('Cropping2D', (c) => new Cropping2D(c as Cropping2DArgs));

export interface UpSampling2DArgs extends LayerArgs {
  /** Factors for rows and columns (default [2, 2]). */
  size?: number | [number, number];
  /** 'nearest' repeats pixels; 'bilinear' interpolates with half-pixel centres, as Keras. */
  interpolation?: 'nearest' | 'bilinear';
}

/** Scales NHWC images up by integer factors. */
export class UpSampling2D extends Layer {
  static override readonly optionKeys: OptionKeys<UpSampling2DArgs> = {
    ...LAYER_KEYS,
    size: true,
    interpolation: true,
  };
  /** Upsampling factors for rows and columns. */
  readonly size: [number, number];
  /** 'nearest' or 'bilinear'. */
  readonly interpolation: 'nearest' | 'bilinear';
  constructor(args: UpSampling2DArgs = {}) {
    super(args);
    const who = `UpSampling2D '${this.name}'`;
    const s = args.size ?? 2;
    const p: unknown[] = typeof s === 'number' ? [s, s] : Array.isArray(s) ? s : [s];
    if (p.length !== 2 || !p.every((d) => Number.isInteger(d) && (d as number) >= 1))
      throw new ArgumentError(
        `${who}: size must be a positive integer or a pair of them, got ${JSON.stringify(s)}`,
      );
    this.size = p as [number, number];
    const i = args.interpolation ?? 'nearest';
    if (i !== 'nearest' && i !== 'bilinear')
      throw new ArgumentError(
        `${who}: interpolation must be 'nearest' or 'bilinear', got ${JSON.stringify(i)}`,
      );
    this.interpolation = i;
  }
  override computeOutputShape(s: SymShape): SymShape {
    needRank(this, s, 4, 'NHWC');
    const [sh, sw] = this.size;
    return [s[0], s[1] === null ? null : s[1] * sh, s[2] === null ? null : s[2] * sw, s[3]];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    checkInputShape(this, x, this.inputShapeBuilt);
    const [b, h, w, c] = x.shape;
    const [sh, sw] = this.size;
    if (this.interpolation === 'nearest') {
      const t = tile(reshape(x, [b, h, 1, w, 1, c]), [1, 1, sh, 1, sw, 1]);
      return reshape(t, [b, h * sh, w * sw, c]);
    }
    return lerpAxis(lerpAxis(x, 1, sh), 2, sw);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), size: this.size, interpolation: this.interpolation };
  }
}
registerLayer('UpSampling2D', (c) => new UpSampling2D(c as UpSampling2DArgs));

/**
 * Linear interpolation along `axis` to `scale` times its length with half-pixel centres
 * (TensorFlow's resize_bilinear, half_pixel_centers): src = (i + 0.5) / scale - 0.5, clamped.
 * Two gathers and a weighted sum, so it is differentiable.
 */
function lerpAxis(x: Tensor, axis: number, scale: number): Tensor {
  const n = x.shape[axis];
  const m = n * scale;
  const i0 = new Int32Array(m);
  const i1 = new Int32Array(m);
  const f = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    const src = Math.max((i + 0.5) / scale - 0.5, 0);
    const lo = Math.min(Math.floor(src), n - 1);
    i0[i] = lo;
    i1[i] = Math.min(lo + 1, n - 1);
    f[i] = src - lo;
  }
  const wShape = x.shape.map((_, k) => (k === axis ? m : 1));
  const idx0 = tensor(i0, [m], 'int32');
  const idx1 = tensor(i1, [m], 'int32');
  const w1 = tensor(f, wShape);
  const w0 = tensor(
    f.map((v) => 1 - v),
    wShape,
  );
  // The constants are tape inputs (leaves) of the recorded ops; they live as long as the outputs.
  return add(mul(gather(x, idx0, axis), w0), mul(gather(x, idx1, axis), w1));
}
