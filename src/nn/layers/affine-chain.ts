import {
  type AffineInterpolation,
  affineResample,
  FILL_MODES,
  type FillMode,
  INTERPOLATIONS,
} from '../../kernels/augment.js';
import { reshape } from '../../kernels/reshape.js';
import { upload } from '../../tensor/creation.js';
import { ArgumentError, fmtShape, ShapeError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { CallArgs, LayerArgs, SymbolicTensor, SymShape } from '../layer.js';
import { fmtSym, Layer, single } from '../layer.js';

/**
 * Geometric augmentations (flip, rotation, zoom, translation, crop) as one resample per image.
 * Each layer draws, per image, the affine map from its output pixels to its input pixels (a row
 * [a0 a1 a2 b0 b1 b2], pixel-index coordinates as Keras 3). Consecutive layers compose their maps
 * (out -> mid -> in is the product of the rows) and only the last one reads the pixels, so a
 * flip + rotation + zoom stack interpolates once. That equals applying the layers one after another
 * wherever each layer samples inside its input; near the borders the fill mode is applied once, to
 * the source image, instead of to already-filled intermediates. Flips and in-bounds crops move
 * pixel centres onto pixel centres, so they join any chain; layers that interpolate join one chain
 * while their interpolation, fill mode and fill value agree.
 */

/** How a chain reads the image: the options of its interpolating layers. */
export interface ResampleOptions {
  /** 'bilinear' or 'nearest'. */
  interpolation: AffineInterpolation;
  /** How points outside the image are read. */
  fillMode: FillMode;
  /** The value outside the image with fillMode 'constant'. */
  fillValue: number;
}

/** What a geometric layer does to a batch in training: per-image rows and the output size. */
export interface AffinePlan {
  /** b rows of [a0, a1, a2, b0, b1, b2] (output pixel -> input pixel), flat. */
  rows: Float64Array;
  /** Output height. */
  outH: number;
  /** Output width. */
  outW: number;
  /** How to read between pixels; undefined when every map sends pixel centres onto pixel centres. */
  resample?: ResampleOptions;
}

/** The options every geometric layer shares. */
export interface AffineLayerArgs extends LayerArgs {
  /** Seed of the random parameters: the same seed gives the same sequence (default: the global seed sequence). */
  seed?: number;
}

/** Base of the geometric augmentation layers: identity unless `training`. */
export abstract class AffineAugmentation extends Layer {
  /**
   * Draws this call's parameters for a batch of `b` images of `h` x `w` (advancing the layer's
   * random sequence) and returns the per-image maps, or undefined when the layer cannot be
   * expressed as an affine map for this input (then `fallback` runs).
   */
  abstract plan(b: number, h: number, w: number): AffinePlan | undefined;

  /** The layer's own computation when `plan` declines or when not training (default: identity). */
  fallback(x: Tensor, _training: boolean): Tensor {
    return x;
  }

  call(inputs: Tensor | Tensor[], args: CallArgs): Tensor {
    return applyAffineChain([this], single(this, inputs), args);
  }

  override computeOutputShape(inputShape: SymShape): SymShape {
    if (inputShape.length !== 4 && inputShape.length !== 3)
      throw new ShapeError(
        `${this.className} '${this.name}' needs [batch, height, width, channels] inputs, got ${fmtSym(inputShape)}`,
      );
    return inputShape;
  }
}

/** a ∘ b, row by row (b maps first). */
function compose(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let o = 0; o < a.length; o += 6) {
    out[o] = a[o] * b[o] + a[o + 1] * b[o + 3];
    out[o + 1] = a[o] * b[o + 1] + a[o + 1] * b[o + 4];
    out[o + 2] = a[o] * b[o + 2] + a[o + 1] * b[o + 5] + a[o + 2];
    out[o + 3] = a[o + 3] * b[o] + a[o + 4] * b[o + 3];
    out[o + 4] = a[o + 3] * b[o + 1] + a[o + 4] * b[o + 4];
    out[o + 5] = a[o + 3] * b[o + 2] + a[o + 4] * b[o + 5] + a[o + 5];
  }
  return out;
}

function isIdentity(rows: Float64Array): boolean {
  for (let o = 0; o < rows.length; o += 6)
    if (rows[o] !== 1 || rows[o + 1] || rows[o + 2] || rows[o + 3] || rows[o + 4] !== 1 || rows[o + 5])
      return false;
  return true;
}

function sameOptions(a: ResampleOptions, b: ResampleOptions): boolean {
  return a.interpolation === b.interpolation && a.fillMode === b.fillMode && a.fillValue === b.fillValue;
}

/**
 * Runs consecutive geometric layers on `x` ([b, h, w, c] or [h, w, c]) with as few resamples as
 * their options allow (one when they agree). Not training: each layer's `fallback` (identity for
 * all but RandomCrop).
 */
export function applyAffineChain(layers: readonly AffineAugmentation[], x: Tensor, args: CallArgs): Tensor {
  const training = !!args.training;
  if (x.rank !== 3 && x.rank !== 4)
    throw new ShapeError(
      `${layers[0].className} '${layers[0].name}' needs [batch, height, width, channels] or [height, width, channels] images, got ${fmtShape(x.shape)}`,
    );
  const unbatched = x.rank === 3;
  let cur = unbatched ? reshape(x, [1, ...x.shape]) : x;
  const b = cur.shape[0];
  let [h, w] = [cur.shape[1], cur.shape[2]];
  let rows: Float64Array | undefined;
  let opts: ResampleOptions | undefined;
  const flush = () => {
    if (!rows) return;
    const same = h === cur.shape[1] && w === cur.shape[2];
    if (!(same && !opts && isIdentity(rows))) {
      const t = upload(Float32Array.from(rows), [b, 6], 'float32');
      cur = affineResample(cur, t, {
        outputSize: [h, w],
        ...(opts ?? { interpolation: 'nearest', fillMode: 'nearest', fillValue: 0 }),
      });
    }
    rows = undefined;
    opts = undefined;
  };
  for (const l of layers) {
    const p = training ? l.plan(b, h, w) : undefined;
    if (!p) {
      flush();
      cur = l.fallback(cur, training);
      [h, w] = [cur.shape[1], cur.shape[2]];
      continue;
    }
    if (opts && p.resample && !sameOptions(opts, p.resample)) flush();
    rows = rows ? compose(rows, p.rows) : p.rows;
    opts ??= p.resample;
    [h, w] = [p.outH, p.outW];
  }
  flush();
  return unbatched ? reshape(cur, cur.shape.slice(1)) : cur;
}

/**
 * Runs a list of layers in order as Sequential does, giving each run of consecutive geometric
 * augmentations to `applyAffineChain` as one group.
 */
export function applyLayers(layers: readonly Layer[], x: Tensor, args: CallArgs): Tensor {
  let y = x;
  for (let i = 0; i < layers.length; ) {
    let j = i;
    while (j < layers.length && layers[j] instanceof AffineAugmentation) j++;
    if (j - i >= 2 && args.training) {
      y = applyAffineChain(layers.slice(i, j) as AffineAugmentation[], y, args);
      i = j;
    } else {
      y = layers[i].apply(y, args);
      i++;
    }
  }
  return y;
}

/** Runs of two or more geometric layers in a functional graph, keyed by their first node. */
export function findAffineChains(
  nodes: readonly SymbolicTensor[],
  outputs: readonly SymbolicTensor[],
): Map<SymbolicTensor, SymbolicTensor[]> {
  const consumers = new Map<SymbolicTensor, SymbolicTensor[]>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const next = (n: SymbolicTensor): SymbolicTensor | undefined => {
    const c = consumers.get(n);
    return c?.length === 1 && !outputs.includes(n) && c[0].layer instanceof AffineAugmentation
      ? c[0]
      : undefined;
  };
  const chains = new Map<SymbolicTensor, SymbolicTensor[]>();
  const covered = new Set<SymbolicTensor>();
  for (const n of nodes) {
    if (covered.has(n) || !(n.layer instanceof AffineAugmentation)) continue;
    const chain = [n];
    for (let m = next(n); m; m = next(m)) chain.push(m);
    if (chain.length < 2) continue;
    chains.set(n, chain);
    for (const c of chain) covered.add(c);
  }
  return chains;
}

/** Checks a Keras fill mode / interpolation option and returns it with its default. */
export function checkResample(args: Record<string, unknown>, who: string): ResampleOptions {
  const fillMode = (args.fillMode ?? 'reflect') as FillMode;
  const interpolation = (args.interpolation ?? 'bilinear') as AffineInterpolation;
  const fillValue = (args.fillValue ?? 0) as number;
  if (!FILL_MODES.includes(fillMode))
    throw new ArgumentError(
      `${who}: fillMode must be one of ${FILL_MODES.join(', ')}, got ${JSON.stringify(fillMode)}`,
    );
  if (!INTERPOLATIONS.includes(interpolation))
    throw new ArgumentError(
      `${who}: interpolation must be one of ${INTERPOLATIONS.join(', ')}, got ${JSON.stringify(interpolation)}`,
    );
  if (typeof fillValue !== 'number' || !Number.isFinite(fillValue))
    throw new ArgumentError(`${who}: fillValue must be a finite number, got ${String(fillValue)}`);
  return { fillMode, interpolation, fillValue };
}

/**
 * A Keras factor: a number f means [-|f|, |f|], a pair [lo, hi] is sorted; each bound must lie in
 * `bounds`.
 */
export function factorRange(
  v: unknown,
  what: string,
  who: string,
  bounds: [number, number] = [-1, 1],
): [number, number] {
  const ok = (x: unknown): x is number => typeof x === 'number' && x >= bounds[0] && x <= bounds[1];
  if (typeof v === 'number' && Number.isFinite(v) && ok(v)) return [-Math.abs(v), Math.abs(v)];
  if (Array.isArray(v) && v.length === 2 && v.every(ok)) return v[0] <= v[1] ? [v[0], v[1]] : [v[1], v[0]];
  throw new ArgumentError(
    `${who}: ${what} must be a number or a pair [lower, upper] in [${bounds[0]}, ${bounds[1]}], got ${JSON.stringify(v)}`,
  );
}
