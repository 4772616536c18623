import { add } from '../../kernels/binary.js';
import { conv2d, conv2dBackpropInput } from '../../kernels/conv.js';
import { depthwiseConv2d } from '../../kernels/depthwise.js';
import { pad } from '../../kernels/pad.js';
import { reshape } from '../../kernels/reshape.js';
import { ArgumentError, ShapeError } from '../../tensor/errors.js';
import type { OptionKeys } from '../../tensor/options.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Variable } from '../../tensor/variable.js';
import {
  type ActivationName,
  applyActivation,
  assertActivationName,
  finishActivation,
  fusedPart,
} from '../activations.js';
import { assertInitializer, type InitializerName } from '../initializers.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import {
  checkInputShape,
  checkPositiveInt,
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
import { CONV_KEYS, ConvBase, type ConvBaseArgs, convOutSize } from './conv.js';
import { dilatedConv2d, stride1Pads } from './conv-ops.js';
import { kernelBiasArgs, pickConfig } from './util.js';

/** SeparableConv2D, Conv2DTranspose and Conv1D, composed from the 2-D convolution kernels. */

/** Options of `SeparableConv2D` (besides the common convolution options). */
export interface SeparableConv2DArgs extends ConvBaseArgs {
  /** Output channels of the pointwise (1x1) convolution. */
  filters: number;
  /** Depthwise output channels per input channel (default 1). */
  depthMultiplier?: number;
  /** Initializer of `depthwise_kernel` (default `kernelInitializer`, else 'glorotUniform'). */
  depthwiseInitializer?: InitializerName;
  /** Initializer of `pointwise_kernel` (default 'glorotUniform'). */
  pointwiseInitializer?: InitializerName;
  /** Penalty of `depthwise_kernel` (Keras' name; `kernelRegularizer` means the same). */
  depthwiseRegularizer?: RegularizerSpec;
  /** Penalty of `pointwise_kernel` (default none). */
  pointwiseRegularizer?: RegularizerSpec;
}

/**
 * Depthwise convolution then a 1x1 convolution to `filters` channels (Keras `SeparableConv2D`):
 * weights `depthwise_kernel` [kh, kw, cin, depthMultiplier], `pointwise_kernel`
 * [1, 1, cin * depthMultiplier, filters] and `bias` [filters].
 */
export class SeparableConv2D extends ConvBase {
  static override readonly optionKeys: OptionKeys<SeparableConv2DArgs> = {
    ...LAYER_KEYS,
    ...CONV_KEYS,
    filters: true,
    depthMultiplier: true,
    depthwiseInitializer: true,
    pointwiseInitializer: true,
    depthwiseRegularizer: true,
    pointwiseRegularizer: true,
  };
  /** Output channels of the pointwise convolution. */
  readonly filters: number;
  /** Depthwise output channels per input channel. */
  readonly depthMultiplier: number;
  /** Initializer of `pointwise_kernel`. */
  readonly pointwiseInitializer: InitializerName;
  /** The pointwise kernel [1, 1, cin * depthMultiplier, filters], created by `build`. */
  pointwiseKernel?: Variable;
  /** The pointwise kernel's regularizer, if any. */
  readonly pointwiseRegularizer?: Regularizer;
  constructor(args: SeparableConv2DArgs) {
    super({
      ...args,
      kernelInitializer: args?.depthwiseInitializer ?? args?.kernelInitializer,
      kernelRegularizer: args?.depthwiseRegularizer ?? args?.kernelRegularizer,
    });
    const who = `SeparableConv2D '${this.name}'`;
    this.pointwiseRegularizer = getRegularizer(args.pointwiseRegularizer, `${who}: pointwiseRegularizer`);
    this.setRegularizer('depthwise_kernel', this.kernelRegularizer);
    this.setRegularizer('pointwise_kernel', this.pointwiseRegularizer);
    this.setRegularizer('bias', this.biasRegularizer);
    this.filters = checkPositiveInt(args.filters, 'filters', who);
    this.depthMultiplier = checkPositiveInt(args.depthMultiplier ?? 1, 'depthMultiplier', who);
    this.pointwiseInitializer = args.pointwiseInitializer ?? 'glorotUniform';
    assertInitializer(this.pointwiseInitializer, `${who}: pointwiseInitializer`);
  }
  protected get outChannels(): number {
    return this.filters;
  }
  override build(inputShape: SymShape): void {
    const cin = this.inChannels(inputShape);
    const mid = cin * this.depthMultiplier;
    this.kernel = this.addWeight(
      'depthwise_kernel',
      [...this.kernelSize, cin, this.depthMultiplier],
      this.kernelInitializer,
      true,
      this.seed,
    );
    this.pointwiseKernel = this.addWeight(
      'pointwise_kernel',
      [1, 1, mid, this.filters],
      this.pointwiseInitializer,
      true,
      this.seed === undefined ? undefined : this.seed + 1,
    );
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], this.biasInitializer);
    super.build(inputShape);
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    checkInputShape(this, x, this.inputShapeBuilt);
    const [dh, dw] = this.dilationRate;
    const mid =
      dh === 1 && dw === 1
        ? depthwiseConv2d(x, this.kernel!, this.strides, this.padding)
        : dilatedConv2d(x, {
            filter: this.kernel!,
            depthwise: true,
            dilation: this.dilationRate,
            pads: stride1Pads(this.padding, this.kernelSize, this.dilationRate),
          });
    const y = conv2d(mid, this.pointwiseKernel!, 1, 'valid', { bias: this.bias, activation: this.fused() });
    return this.finish(y);
  }
  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      ...pickConfig(this, ['filters', 'depthMultiplier', 'pointwiseInitializer']),
      ...regularizerConfigs({ pointwiseRegularizer: this.pointwiseRegularizer }),
    };
  }
}
registerLayer('SeparableConv2D', (c) => new SeparableConv2D(c as unknown as SeparableConv2DArgs));

/** Options of `Conv2DTranspose` (besides the common convolution options). */
export interface Conv2DTransposeArgs extends ConvBaseArgs {
  /** Output channels. */
  filters: number;
}

/**
 * Transposed 2-D convolution (Keras `Conv2DTranspose`): the input gradient of a convolution, so
 * strides enlarge the image. Kernel [kh, kw, filters, cin]; output height (in - 1) * s + kh
 * ('valid') or in * s ('same').
 */
export class Conv2DTranspose extends ConvBase {
  static override readonly optionKeys: OptionKeys<Conv2DTransposeArgs> = {
    ...LAYER_KEYS,
    ...CONV_KEYS,
    filters: true,
  };
  /** Output channels. */
  readonly filters: number;
  constructor(args: Conv2DTransposeArgs) {
    super(args);
    const who = `Conv2DTranspose '${this.name}'`;
    this.filters = checkPositiveInt(args.filters, 'filters', who);
    if (this.dilationRate.some((d) => d !== 1))
      throw new ArgumentError(
        `${who}: dilationRate must be 1 (dilated transposed convolutions are not supported), got ${JSON.stringify(args.dilationRate)}`,
      );
  }
  protected get outChannels(): number {
    return this.filters;
  }
  override computeOutputShape(s: SymShape): SymShape {
    this.inChannels(s);
    const size = (n: number | null, k: number, st: number) =>
      n === null ? null : this.padding === 'same' ? n * st : (n - 1) * st + k;
    return [
      s[0],
      size(s[1], this.kernelSize[0], this.strides[0]),
      size(s[2], this.kernelSize[1], this.strides[1]),
      this.filters,
    ];
  }
  override build(inputShape: SymShape): void {
    const cin = this.inChannels(inputShape);
    this.addKernelAndBias('kernel', [...this.kernelSize, this.filters, cin], this.filters);
    super.build(inputShape);
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    checkInputShape(this, x, this.inputShapeBuilt);
    const out = this.computeOutputShape([x.shape[0], ...x.shape.slice(1)]) as number[];
    let y = conv2dBackpropInput(x, this.kernel!, out, this.strides, this.padding);
    if (this.bias) y = add(y, this.bias);
    return applyActivation(this.activation, y);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), filters: this.filters };
  }
}
registerLayer('Conv2DTranspose', (c) => new Conv2DTranspose(c as unknown as Conv2DTransposeArgs));

export interface Conv1DArgs extends LayerArgs {
  /** Output channels. */
  filters: number;
  /** Kernel length in steps. */
  kernelSize: number | [number];
  /** Step between output positions (default 1). */
  strides?: number | [number];
  /** 'causal' pads only before, so output t sees inputs up to t (WaveNet, Keras). */
  padding?: 'same' | 'valid' | 'causal';
  /** Spacing between kernel taps (default 1; above 1 needs strides 1). */
  dilationRate?: number | [number];
  /** Activation applied to the output (default 'linear'). */
  activation?: ActivationName;
  /** Add a bias of shape [filters] (default true). */
  useBias?: boolean;
  /** Initializer of the kernel (default 'glorotUniform'). */
  kernelInitializer?: InitializerName;
  /** Initializer of the bias (default 'zeros'). */
  biasInitializer?: InitializerName;
  /** Seed of the random initializers (default: unseeded). */
  seed?: number;
  /** Penalty of the kernel added to the loss (default none). */
  kernelRegularizer?: RegularizerSpec;
  /** Penalty of the bias added to the loss (default none). */
  biasRegularizer?: RegularizerSpec;
}

function one(v: number | [number] | undefined, dflt: number, what: string, who: string): number {
  const n = v === undefined ? dflt : Array.isArray(v) && v.length === 1 ? v[0] : v;
  return checkPositiveInt(n, what, who);
}

/**
 * 1-D convolution over [batch, steps, channels] (Keras `Conv1D`), kernel [k, cin, filters]: a
 * 2-D convolution of height 1. Causal padding and dilation rates as Keras.
 */
export class Conv1D extends Layer {
  static override readonly optionKeys: OptionKeys<Conv1DArgs> = {
    ...LAYER_KEYS,
    ...CONV_KEYS,
    filters: true,
  };
  /** Output channels. */
  readonly filters: number;
  /** Kernel length in steps. */
  readonly kernelSize: number;
  /** Step between output positions. */
  readonly strides: number;
  /** 'valid' (default), 'same' or 'causal'. */
  readonly padding: 'same' | 'valid' | 'causal';
  /** Spacing between kernel taps. */
  readonly dilationRate: number;
  /** Activation applied to the output. */
  readonly activation: ActivationName;
  /** Whether a bias is added. */
  readonly useBias: boolean;
  /** Initializer of the kernel. */
  readonly kernelInitializer: InitializerName;
  /** Initializer of the bias. */
  readonly biasInitializer: InitializerName;
  private readonly seed?: number;
  /** The kernel's regularizer, if any. */
  readonly kernelRegularizer?: Regularizer;
  /** The bias's regularizer, if any. */
  readonly biasRegularizer?: Regularizer;
  /** The kernel [k, cin, filters], created by `build`. */
  kernel?: Variable;
  /** The bias [filters] (when `useBias`), created by `build`. */
  bias?: Variable;
  constructor(args: Conv1DArgs) {
    super(args);
    const who = `Conv1D '${this.name}'`;
    this.filters = checkPositiveInt(args?.filters, 'filters', who);
    this.kernelSize = one(args.kernelSize, 0, 'kernelSize', who);
    this.strides = one(args.strides, 1, 'strides', who);
    this.dilationRate = one(args.dilationRate, 1, 'dilationRate', who);
    if (this.dilationRate > 1 && this.strides > 1)
      throw new ArgumentError(
        `${who}: dilationRate ${this.dilationRate} above 1 needs strides 1, got strides ${this.strides}`,
      );
    const p = args.padding ?? 'valid';
    if (p !== 'same' && p !== 'valid' && p !== 'causal')
      throw new ArgumentError(
        `${who}: padding must be 'same', 'valid' or 'causal', got ${JSON.stringify(p)}`,
      );
    this.padding = p;
    this.activation = args.activation ?? 'linear';
    assertActivationName(this.activation, `${who}: activation`);
    const kb = kernelBiasArgs(args, who);
    this.useBias = kb.useBias;
    this.kernelInitializer = kb.kernelInitializer;
    this.biasInitializer = kb.biasInitializer;
    this.seed = kb.seed;
    this.kernelRegularizer = getRegularizer(args.kernelRegularizer, `${who}: kernelRegularizer`);
    this.biasRegularizer = getRegularizer(args.biasRegularizer, `${who}: biasRegularizer`);
    this.setRegularizer('kernel', this.kernelRegularizer);
    this.setRegularizer('bias', this.biasRegularizer);
  }
  private inChannels(s: SymShape): number {
    const c = s[2];
    if (s.length !== 3 || c === null)
      throw new ShapeError(`Conv1D '${this.name}' needs inputs [batch, steps, channels], got ${fmtSym(s)}`);
    return c;
  }
  override computeOutputShape(s: SymShape): SymShape {
    this.inChannels(s);
    const ke = this.dilationRate * (this.kernelSize - 1) + 1;
    const steps =
      this.padding === 'causal'
        ? convOutSize(s[1], 1, this.strides, 'same')
        : convOutSize(s[1], ke, this.strides, this.padding);
    return [s[0], steps, this.filters];
  }
  override build(inputShape: SymShape): void {
    const cin = this.inChannels(inputShape);
    this.kernel = this.addWeight(
      'kernel',
      [this.kernelSize, cin, this.filters],
      this.kernelInitializer,
      true,
      this.seed,
    );
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], this.biasInitializer);
    super.build(inputShape);
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    checkInputShape(this, x, this.inputShapeBuilt);
    const [b, steps, c] = x.shape;
    const x4 = reshape(x, [b, 1, steps, c]);
    const f4 = reshape(this.kernel!, [1, this.kernelSize, c, this.filters]);
    const opts = { bias: this.bias, activation: fusedPart(this.activation) } as const;
    let y: Tensor;
    if (this.dilationRate > 1 || this.padding === 'causal') {
      const k: [number, number] = [1, this.kernelSize];
      const d: [number, number] = [1, this.dilationRate];
      const pads = stride1Pads(this.padding, k, d);
      if (this.strides === 1)
        y = dilatedConv2d(x4, { filter: f4, depthwise: false, dilation: d, pads, ...opts });
      else {
        // Causal with strides (rate 1): pad before, then a strided 'valid' convolution.
        y = conv2d(pad(x4, [[0, 0], [0, 0], pads[1], [0, 0]]), f4, [1, this.strides], 'valid', opts);
      }
    } else y = conv2d(x4, f4, [1, this.strides], this.padding, opts);
    const out = reshape(y, [b, y.shape[2], this.filters]);
    return finishActivation(this.activation, out);
  }
  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      ...pickConfig(this, [
        'filters',
        'kernelSize',
        'strides',
        'padding',
        'dilationRate',
        'activation',
        'useBias',
        'kernelInitializer',
        'biasInitializer',
      ]),
      ...regularizerConfigs({
        kernelRegularizer: this.kernelRegularizer,
        biasRegularizer: this.biasRegularizer,
      }),
    };
  }
}
registerLayer('Conv1D', (c) => new Conv1D(c as unknown as Conv1DArgs));
