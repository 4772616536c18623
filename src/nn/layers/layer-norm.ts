import { add, mul, sub } from '../../kernels/binary.js';
import { layerNorm } from '../../kernels/layernorm.js';
import { mean } from '../../kernels/reduce.js';
import { reshape } from '../../kernels/reshape.js';
import { rsqrt, square } from '../../kernels/unary.js';
import { ArgumentError, ShapeError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Variable } from '../../tensor/variable.js';
import { assertInitializer, type InitializerName } from '../initializers.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import { fmtSym, Layer, registerLayer, single } from '../layer.js';
import { centerScaleArgs, pickConfig } from './util.js';

function checkEpsilon(v: unknown, who: string): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
    throw new ArgumentError(`${who}: epsilon must be a finite number > 0, got ${JSON.stringify(v)}`);
  }
  return v;
}

export interface LayerNormalizationArgs extends LayerArgs {
  /** The normalized axes: -1 (default) or the last few, e.g. [-2, -1]. */
  axis?: number | number[];
  /** Added to the variance (default 1e-3). */
  epsilon?: number;
  /** Learn an offset beta (default true). */
  center?: boolean;
  /** Learn a scale gamma (default true). */
  scale?: boolean;
  /** Initializer of gamma (default 'ones'). */
  gammaInitializer?: InitializerName;
  /** Initializer of beta (default 'zeros'). */
  betaInitializer?: InitializerName;
}

/** Keras `LayerNormalization`: normalizes each example over its last axes (one fused kernel). */
export class LayerNormalization extends Layer {
  /** The normalized axes. */
  readonly axis: number | number[];
  /** Added to the variance. */
  readonly epsilon: number;
  /** Whether an offset beta is learned. */
  readonly center: boolean;
  /** Whether a scale gamma is learned. */
  readonly scale: boolean;
  /** Initializer of gamma. */
  readonly gammaInitializer: InitializerName;
  /** Initializer of beta. */
  readonly betaInitializer: InitializerName;
  /** The scale, of the normalized axes' shape (when `scale`), created by `build`. */
  gamma?: Variable;
  /** The offset, of the normalized axes' shape (when `center`), created by `build`. */
  beta?: Variable;

  constructor(args: LayerNormalizationArgs = {}) {
    super(args);
    const who = `LayerNormalization '${this.name}'`;
    const axis = args.axis ?? -1;
    const list = typeof axis === 'number' ? [axis] : axis;
    if (!Array.isArray(list) || list.length === 0 || list.some((a) => !Number.isInteger(a))) {
      throw new ArgumentError(
        `${who}: axis must be an integer or a non-empty array of integers, got ${JSON.stringify(axis)}`,
      );
    }
    this.axis = axis;
    this.epsilon = checkEpsilon(args.epsilon ?? 1e-3, who);
    const cs = centerScaleArgs(args, who);
    this.center = cs.center;
    this.scale = cs.scale;
    this.gammaInitializer = args.gammaInitializer ?? 'ones';
    this.betaInitializer = args.betaInitializer ?? 'zeros';
    assertInitializer(this.gammaInitializer, `${who}: gammaInitializer`);
    assertInitializer(this.betaInitializer, `${who}: betaInitializer`);
  }

  /** The normalized axes, non-negative, for inputs of rank `rank`. */
  private axes(rank: number): number[] {
    const list = typeof this.axis === 'number' ? [this.axis] : this.axis;
    return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  }

  override build(inputShape: SymShape): void {
    const axes = this.axes(inputShape.length);
    const k = axes.length;
    if (axes.some((a, i) => a !== inputShape.length - k + i) || axes[0] < 1) {
      throw new ShapeError(
        `LayerNormalization '${this.name}': axis ${JSON.stringify(this.axis)} must name the last non-batch axes of inputs ${fmtSym(inputShape)}`,
      );
    }
    const shape = axes.map((a) => inputShape[a]);
    if (shape.some((d) => d === null)) {
      throw new ShapeError(
        `LayerNormalization '${this.name}' needs known normalized axes, got ${fmtSym(inputShape)}`,
      );
    }
    if (this.scale) this.gamma = this.addWeight('gamma', shape as number[], this.gammaInitializer);
    if (this.center) this.beta = this.addWeight('beta', shape as number[], this.betaInitializer);
    super.build(inputShape);
  }

  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    return layerNorm(x, { gamma: this.gamma, beta: this.beta, axis: this.axis, epsilon: this.epsilon });
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      ...pickConfig(this, ['axis', 'epsilon', 'center', 'scale', 'gammaInitializer', 'betaInitializer']),
    };
  }
}
registerLayer('LayerNormalization', (c) => new LayerNormalization(c as LayerNormalizationArgs));

export interface GroupNormalizationArgs extends LayerArgs {
  /** Number of channel groups (default 32); must divide the channels. -1: one group per channel. */
  groups?: number;
  /** Added to the variance (default 1e-3). */
  epsilon?: number;
  /** Learn an offset beta per channel (default true). */
  center?: boolean;
  /** Learn a scale gamma per channel (default true). */
  scale?: boolean;
}

/** @internal Group normalization of channels-last x (the computation of GroupNormalization). */
export function groupNorm(x: Tensor, groups: number, gamma?: Tensor, beta?: Tensor, epsilon = 1e-3): Tensor {
  const c = x.shape[x.rank - 1];
  const grouped = reshape(x, [x.shape[0], -1, groups, c / groups]);
  const m = mean(grouped, [1, 3], true);
  const centered = sub(grouped, m);
  const v = mean(square(centered), [1, 3], true);
  let y = reshape(mul(centered, rsqrt(add(v, epsilon))), x.shape);
  if (gamma) y = mul(y, gamma);
  if (beta) y = add(y, beta);
  return y;
}

/**
 * Keras `GroupNormalization` (channels last, axis -1): the channels are split into `groups`;
 * each example is normalized per group over its spatial positions and the group's channels, then
 * scaled and shifted per channel. Composed from reductions (autograd through them).
 */
export class GroupNormalization extends Layer {
  /** Number of channel groups. */
  readonly groups: number;
  /** Added to the variance. */
  readonly epsilon: number;
  /** Whether an offset beta is learned. */
  readonly center: boolean;
  /** Whether a scale gamma is learned. */
  readonly scale: boolean;
  /** The scale [channels] (when `scale`), created by `build`. */
  gamma?: Variable;
  /** The offset [channels] (when `center`), created by `build`. */
  beta?: Variable;

  constructor(args: GroupNormalizationArgs = {}) {
    super(args);
    const who = `GroupNormalization '${this.name}'`;
    const g = args.groups ?? 32;
    if (!Number.isInteger(g) || !(g > 0 || g === -1)) {
      throw new ArgumentError(
        `${who}: groups must be a positive integer or -1, got ${JSON.stringify(args.groups)}`,
      );
    }
    this.groups = g;
    this.epsilon = checkEpsilon(args.epsilon ?? 1e-3, who);
    const cs = centerScaleArgs(args, who);
    this.center = cs.center;
    this.scale = cs.scale;
  }

  override build(inputShape: SymShape): void {
    const c = inputShape[inputShape.length - 1];
    if (inputShape.length < 2 || c === null) {
      throw new ShapeError(
        `GroupNormalization '${this.name}' needs a known channel axis, got ${fmtSym(inputShape)}`,
      );
    }
    const g = this.groups === -1 ? c : this.groups;
    if (c % g !== 0 || g > c) {
      throw new ShapeError(
        `GroupNormalization '${this.name}': groups ${this.groups} must divide the ${c} channels of ${fmtSym(inputShape)}`,
      );
    }
    if (this.scale) this.gamma = this.addWeight('gamma', [c], 'ones');
    if (this.center) this.beta = this.addWeight('beta', [c], 'zeros');
    super.build(inputShape);
  }

  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    const c = x.shape[x.rank - 1];
    return groupNorm(x, this.groups === -1 ? c : this.groups, this.gamma, this.beta, this.epsilon);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      groups: this.groups,
      axis: -1,
      ...pickConfig(this, ['epsilon', 'center', 'scale']),
    };
  }
}
registerLayer('GroupNormalization', (c) => new GroupNormalization(c as GroupNormalizationArgs));
