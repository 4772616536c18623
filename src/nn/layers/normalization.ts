import {
  type BnActivation,
  batchNorm,
  batchNormTraining,
  updateMovingStats,
} from '../../kernels/batchnorm.js';
import { ArgumentError, ShapeError } from '../../tensor/errors.js';
import type { OptionKeys } from '../../tensor/options.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Variable } from '../../tensor/variable.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import { fmtSym, LAYER_KEYS, Layer, registerLayer, single } from '../layer.js';
import { centerScaleArgs } from './util.js';

export interface BatchNormalizationArgs extends LayerArgs {
  /** Only the last axis (channels) is supported. */
  axis?: number;
  /** Momentum of the moving mean and variance (default 0.99). */
  momentum?: number;
  /** Added to the variance (default 0.001). */
  epsilon?: number;
  /** Whether to add the learned offset `beta` (default true). */
  center?: boolean;
  /** Whether to multiply by the learned scale `gamma` (default true). */
  scale?: boolean;
}

/**
 * Keras BatchNormalization over the channel axis. In training mode it normalises with the batch
 * statistics and updates the moving ones (moving = moving * momentum + batch * (1 - momentum));
 * otherwise, or when the layer is frozen (`trainable = false`, as in transfer learning), it uses
 * the moving statistics.
 */
export class BatchNormalization extends Layer {
  static override readonly optionKeys: OptionKeys<BatchNormalizationArgs> = {
    ...LAYER_KEYS,
    axis: true,
    momentum: true,
    epsilon: true,
    center: true,
    scale: true,
  };
  /** Momentum of the moving statistics. */
  readonly momentum: number;
  /** Added to the variance. */
  readonly epsilon: number;
  /** Whether `beta` is added. */
  readonly center: boolean;
  /** Whether `gamma` multiplies. */
  readonly scale: boolean;
  /** The learned scale (when `scale`). */
  gamma?: Variable;
  /** The learned offset (when `center`). */
  beta?: Variable;
  /** The moving mean used in inference (not trainable). */
  movingMean?: Variable;
  /** The moving variance used in inference (not trainable). */
  movingVariance?: Variable;

  constructor(args: BatchNormalizationArgs = {}) {
    super(args);
    const who = `BatchNormalization '${this.name}'`;
    if (args.axis !== undefined && args.axis !== -1) {
      throw new ArgumentError(`${who}: only axis -1 (channels last) is supported, got ${args.axis}`);
    }
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 1e-3;
    if (!(this.momentum >= 0 && this.momentum <= 1))
      throw new ArgumentError(`${who}: momentum must be in [0, 1], got ${this.momentum}`);
    if (!(this.epsilon > 0 && Number.isFinite(this.epsilon)))
      throw new ArgumentError(`${who}: epsilon must be a finite number > 0, got ${this.epsilon}`);
    const cs = centerScaleArgs(args, who);
    this.center = cs.center;
    this.scale = cs.scale;
  }

  override build(inputShape: SymShape): void {
    const c = inputShape[inputShape.length - 1];
    if (c === null || inputShape.length < 2) {
      throw new ShapeError(
        `BatchNormalization '${this.name}' needs a known channel dimension, got ${fmtSym(inputShape)}`,
      );
    }
    // Keras order: gamma, beta, moving_mean, moving_variance.
    if (this.scale) this.gamma = this.addWeight('gamma', [c], 'ones');
    if (this.center) this.beta = this.addWeight('beta', [c], 'zeros');
    this.movingMean = this.addWeight('moving_mean', [c], 'zeros', false);
    this.movingVariance = this.addWeight('moving_variance', [c], 'ones', false);
    super.build(inputShape);
  }

  call(inputs: Tensor | Tensor[], args: CallArgs): Tensor {
    const x = single(this, inputs);
    const c = x.shape[x.rank - 1];
    if (c !== this.movingMean!.size) {
      throw new ShapeError(
        `BatchNormalization '${this.name}' was built for ${this.movingMean!.size} channels, got input with ${c}`,
      );
    }
    if (args.training && this.trainable) return this.trainingForward(x);
    return batchNorm(x, this.movingMean!, this.movingVariance!, this.beta, this.gamma, this.epsilon);
  }

  /**
   * @internal The training-mode pass: normalise with the batch statistics (then `activation`, for
   * graph fusion) and update the moving averages.
   */
  trainingForward(x: Tensor, activation: BnActivation = 'linear'): Tensor {
    const { y, mean, variance } = batchNormTraining(x, this.gamma, this.beta, this.epsilon, activation);
    updateMovingStats(this.movingMean!, this.movingVariance!, mean, variance, this.momentum);
    return y;
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      axis: -1,
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
    };
  }
}
registerLayer('BatchNormalization', (c) => new BatchNormalization(c as BatchNormalizationArgs));
