import type { Activation } from '../../kernels/activation.js';
import { matmul } from '../../kernels/matmul.js';
import { reshape } from '../../kernels/reshape.js';
import { ArgumentError, ShapeError } from '../../tensor/errors.js';
import type { OptionKeys } from '../../tensor/options.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Variable } from '../../tensor/variable.js';
import { type ActivationName, assertActivationName, finishActivation, fusedPart } from '../activations.js';
import { assertInitializer, type InitializerName } from '../initializers.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import {
  checkBool,
  checkInputShape,
  checkSeed,
  fmtSym,
  LAYER_KEYS,
  Layer,
  registerLayer,
  single,
} from '../layer.js';
import {
  getRegularizer,
  type Regularizer,
  type RegularizerSpec,
  regularizerConfigs,
} from '../regularizers.js';

/** Options of Dense (Keras `Dense`). */
export interface DenseArgs extends LayerArgs {
  /** Output size. */
  units: number;
  /** Applied to the output (default 'linear'). */
  activation?: ActivationName;
  /** Whether to add a bias (default true). */
  useBias?: boolean;
  /** How the kernel starts (default 'glorotUniform'). */
  kernelInitializer?: InitializerName;
  /** How the bias starts (default 'zeros'). */
  biasInitializer?: InitializerName;
  /** Seed of the kernel initializer (default: the global sequence, see `setSeed`). */
  seed?: number;
  /** Penalty of the kernel added to the loss (`l2({ l2: 1e-4 })`, 'l2'...; default none). */
  kernelRegularizer?: RegularizerSpec;
  /** Penalty of the bias added to the loss (default none). */
  biasRegularizer?: RegularizerSpec;
}

/** `activation(x @ kernel + bias)` on the last axis; bias and simple activations fused into the matmul. */
export class Dense extends Layer {
  static override readonly optionKeys: OptionKeys<DenseArgs> = {
    ...LAYER_KEYS,
    units: true,
    activation: true,
    useBias: true,
    kernelInitializer: true,
    biasInitializer: true,
    seed: true,
    kernelRegularizer: true,
    biasRegularizer: true,
  };
  /** Output size. */
  readonly units: number;
  /** The activation applied to the output. */
  readonly activation: ActivationName;
  /** Whether a bias is added. */
  readonly useBias: boolean;
  /** How the kernel was initialised. */
  readonly kernelInitializer: InitializerName;
  /** How the bias was initialised. */
  readonly biasInitializer: InitializerName;
  private readonly seed?: number;
  /** The kernel's regularizer, if any. */
  readonly kernelRegularizer?: Regularizer;
  /** The bias's regularizer, if any. */
  readonly biasRegularizer?: Regularizer;
  /** The kernel `[inputSize, units]` (created by `build`). */
  kernel?: Variable;
  /** The bias `[units]` (created by `build` when `useBias`). */
  bias?: Variable;

  constructor(args: DenseArgs) {
    super(args);
    if (!args || !Number.isInteger(args.units) || args.units < 1) {
      throw new ArgumentError(`Dense: units must be a positive integer, got ${JSON.stringify(args?.units)}`);
    }
    this.units = args.units;
    this.activation = args.activation ?? 'linear';
    assertActivationName(this.activation, `Dense '${this.name}': activation`);
    checkBool(args.useBias, 'useBias', `Dense '${this.name}'`);
    checkSeed(args.seed, `Dense '${this.name}'`);
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = args.kernelInitializer ?? 'glorotUniform';
    this.biasInitializer = args.biasInitializer ?? 'zeros';
    assertInitializer(this.kernelInitializer, `Dense '${this.name}': kernelInitializer`);
    assertInitializer(this.biasInitializer, `Dense '${this.name}': biasInitializer`);
    this.seed = args.seed;
    this.kernelRegularizer = getRegularizer(
      args.kernelRegularizer,
      `Dense '${this.name}': kernelRegularizer`,
    );
    this.biasRegularizer = getRegularizer(args.biasRegularizer, `Dense '${this.name}': biasRegularizer`);
    this.setRegularizer('kernel', this.kernelRegularizer);
    this.setRegularizer('bias', this.biasRegularizer);
  }

  override build(inputShape: SymShape): void {
    const inDim = inputShape[inputShape.length - 1];
    if (inputShape.length < 2 || inDim === null) {
      throw new ShapeError(
        `Dense '${this.name}' needs inputs of rank >= 2 with a known last dimension, got ${fmtSym(inputShape)}`,
      );
    }
    this.kernel = this.addWeight('kernel', [inDim, this.units], this.kernelInitializer, true, this.seed);
    if (this.useBias) this.bias = this.addWeight('bias', [this.units], this.biasInitializer);
    super.build(inputShape);
  }

  override computeOutputShape(inputShape: SymShape): SymShape {
    return [...inputShape.slice(0, -1), this.units];
  }

  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    checkInputShape(this, x, this.inputShapeBuilt);
    const fused: Activation = fusedPart(this.activation);
    const flat = x.rank === 2 ? x : reshape(x, [-1, x.shape[x.rank - 1]]);
    let y = matmul(flat, this.kernel!, { bias: this.bias, activation: fused });
    if (x.rank !== 2) y = reshape(y, [...x.shape.slice(0, -1), this.units]);
    return finishActivation(this.activation, y);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      units: this.units,
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
      ...regularizerConfigs({
        kernelRegularizer: this.kernelRegularizer,
        biasRegularizer: this.biasRegularizer,
      }),
    };
  }
}
registerLayer('Dense', (c) => new Dense(c as unknown as DenseArgs));
