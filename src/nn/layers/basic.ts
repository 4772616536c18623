import { greaterEqual, minimum, mul } from '../../kernels/binary.js';
import { cast } from '../../kernels/cast.js';
import { reshape } from '../../kernels/reshape.js';
import { softmax } from '../../kernels/softmax.js';
import { relu, relu6 } from '../../kernels/unary.js';
import { nextSeedValue, randomUniform } from '../../tensor/creation.js';
import { ArgumentError, ShapeError } from '../../tensor/errors.js';
import type { OptionKeys } from '../../tensor/options.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type ActivationName, applyActivation, assertActivationName } from '../activations.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import { checkSeed, fmtSym, LAYER_KEYS, Layer, registerLayer, single } from '../layer.js';

// Layers never dispose their intermediates: a gradient tape may still need them. Callers run
// layers inside `tidy` (fit, evaluate and predict do).

/** Flattens all but the batch dimension: [b, h, w, c] -> [b, h*w*c]. */
export class Flatten extends Layer {
  static override readonly optionKeys: OptionKeys<LayerArgs> = { ...LAYER_KEYS };
  override computeOutputShape(inputShape: SymShape): SymShape {
    const rest = inputShape.slice(1);
    if (rest.some((d) => d === null)) {
      throw new ShapeError(
        `Flatten '${this.name}' needs fully known non-batch dimensions, got ${fmtSym(inputShape)}`,
      );
    }
    return [inputShape[0], rest.reduce<number>((a, d) => a * (d as number), 1)];
  }

  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    return reshape(x, [x.shape[0] ?? 1, -1]);
  }
}
registerLayer('Flatten', (c) => new Flatten(c as LayerArgs));

/** Options of Activation. */
export interface ActivationArgs extends LayerArgs {
  /** The activation to apply. */
  activation: ActivationName;
}

/** Applies an activation by name. */
export class Activation extends Layer {
  static override readonly optionKeys: OptionKeys<ActivationArgs> = { ...LAYER_KEYS, activation: true };
  /** The activation applied. */
  readonly activation: ActivationName;
  constructor(args: ActivationArgs) {
    super(args);
    assertActivationName(args?.activation, `Activation '${this.name}': activation`);
    this.activation = args.activation;
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    return applyActivation(this.activation, single(this, inputs));
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), activation: this.activation };
  }
}
registerLayer('Activation', (c) => new Activation(c as unknown as ActivationArgs));

export interface ReLUArgs extends LayerArgs {
  /** Upper bound (Keras `max_value`); 6 gives ReLU6 as in MobileNetV2. */
  maxValue?: number;
}

export class ReLU extends Layer {
  static override readonly optionKeys: OptionKeys<ReLUArgs> = { ...LAYER_KEYS, maxValue: true };
  /** The upper clamp, if any (6 gives ReLU6). */
  readonly maxValue?: number;
  constructor(args: ReLUArgs = {}) {
    super(args);
    const max = args.maxValue;
    if (max !== undefined && !(typeof max === 'number' && max > 0 && Number.isFinite(max))) {
      throw new ArgumentError(
        `ReLU '${this.name}': maxValue must be a positive finite number, got ${JSON.stringify(args.maxValue)}`,
      );
    }
    this.maxValue = args.maxValue;
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    if (this.maxValue === undefined) return relu(x);
    if (this.maxValue === 6) return relu6(x);
    return minimum(relu(x), this.maxValue);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), ...(this.maxValue !== undefined ? { maxValue: this.maxValue } : {}) };
  }
}
registerLayer('ReLU', (c) => new ReLU(c as unknown as ReLUArgs));

/** Options of Softmax. */
export interface SoftmaxArgs extends LayerArgs {
  /** The axis to normalise (default -1, the last). */
  axis?: number;
}

export class Softmax extends Layer {
  static override readonly optionKeys: OptionKeys<SoftmaxArgs> = { ...LAYER_KEYS, axis: true };
  /** The axis normalised. */
  readonly axis: number;
  constructor(args: SoftmaxArgs = {}) {
    super(args);
    this.axis = args.axis ?? -1;
    if (!Number.isInteger(this.axis))
      throw new ArgumentError(`Softmax '${this.name}': axis must be an integer, got ${this.axis}`);
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    return this.axis === -1 || this.axis === x.rank - 1
      ? applyActivation('softmax', x)
      : softmax(x, this.axis);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axis: this.axis };
  }
}
registerLayer('Softmax', (c) => new Softmax(c as unknown as SoftmaxArgs));

/** Options of Dropout. */
export interface DropoutArgs extends LayerArgs {
  /** The fraction of inputs zeroed in training, in [0, 1). */
  rate: number;
  /** Seed of the drop masks (default: the global seed sequence). */
  seed?: number;
}

/** Zeroes a `rate` fraction of inputs in training and scales the rest by 1/(1-rate); identity otherwise. */
export class Dropout extends Layer {
  static override readonly optionKeys: OptionKeys<DropoutArgs> = { ...LAYER_KEYS, rate: true, seed: true };
  /** The fraction of inputs zeroed in training. */
  readonly rate: number;
  /** Seed of the drop masks, if one was given. */
  readonly seed?: number;
  private calls = 0;
  constructor(args: DropoutArgs) {
    super(args);
    if (!(typeof args?.rate === 'number' && args.rate >= 0 && args.rate < 1)) {
      throw new ArgumentError(
        `Dropout '${this.name}': rate must be in [0, 1), got ${JSON.stringify(args?.rate)}`,
      );
    }
    checkSeed(args.seed, `Dropout '${this.name}'`);
    this.rate = args.rate;
    this.seed = args.seed;
  }
  call(inputs: Tensor | Tensor[], args: CallArgs): Tensor {
    const x = single(this, inputs);
    if (!args.training || this.rate === 0) return x;
    const seed = this.seed === undefined ? nextSeedValue() : (this.seed + this.calls++ * 0x9e3779b9) >>> 0;
    const u = randomUniform(x.shape, 0, 1, { seed });
    const keepMask = greaterEqual(u, this.rate);
    return mul(x, mul(cast(keepMask, 'float32'), 1 / (1 - this.rate)));
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), rate: this.rate, ...(this.seed !== undefined ? { seed: this.seed } : {}) };
  }
}
registerLayer('Dropout', (c) => new Dropout(c as unknown as DropoutArgs));
