import type { Activation } from '../../kernels/activation.js';
import { conv2d } from '../../kernels/conv.js';
import { depthwiseConv2d } from '../../kernels/depthwise.js';
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
import { dilatedConv2d, stride1Pads } from './conv-ops.js';

/** 'same' pads so that the output is `ceil(input / stride)`; 'valid' uses no padding. */
export type Padding = 'same' | 'valid';

/** n or [h, w] as a pair of positive integers (`dflt` when undefined); errors name `what`. */
export function pair(
  v: number | [number, number] | undefined,
  dflt: number,
  what: string,
  who: string,
): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ArgumentError(
      `${who}: ${what} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`,
    );
  }
  return p;
}

/** A dilation rate pair; rates above 1 need unit strides (Keras rejects both at once). */
export function dilationPair(
  v: number | [number, number] | undefined,
  strides: readonly number[],
  who: string,
): [number, number] {
  const d = pair(v, 1, 'dilationRate', who);
  if ((d[0] > 1 || d[1] > 1) && strides.some((s) => s !== 1))
    throw new ArgumentError(
      `${who}: dilationRate ${JSON.stringify(v)} above 1 needs strides 1, got strides ${JSON.stringify(strides)}`,
    );
  return d;
}

export function checkPadding(p: unknown, who: string): Padding {
  if (p !== 'same' && p !== 'valid')
    throw new ArgumentError(`${who}: padding must be 'same' or 'valid', got ${JSON.stringify(p)}`);
  return p;
}

/** Output size of one spatial dimension (TensorFlow arithmetic). */
export function convOutSize(n: number | null, k: number, s: number, padding: Padding): number | null {
  if (n === null) return null;
  return padding === 'same' ? Math.ceil(n / s) : Math.max(0, Math.floor((n - k) / s) + 1);
}

/** Options shared by the 2-D convolution layers (Keras names, camelCase). */
export interface ConvBaseArgs extends LayerArgs {
  /** The window, `[height, width]` or one number for both. */
  kernelSize: number | [number, number];
  /** The step of the window, `[height, width]` or one number (default 1). */
  strides?: number | [number, number];
  /** 'valid' (default) or 'same'. */
  padding?: Padding;
  /** Spacing of the kernel taps (atrous convolution); rates above 1 need strides 1, as Keras. */
  dilationRate?: number | [number, number];
  /** Applied to the output (default 'linear'; relu/relu6 run inside the conv kernel). */
  activation?: ActivationName;
  /** Whether to add a bias per output channel (default true). */
  useBias?: boolean;
  /** How the kernel starts (default 'glorotUniform'). */
  kernelInitializer?: InitializerName;
  /** How the bias starts (default 'zeros'). */
  biasInitializer?: InitializerName;
  /** Seed of the kernel initializer (default: the global seed sequence, see `setSeed`). */
  seed?: number;
  /** Penalty of the kernel added to the loss (`l2({ l2: 1e-4 })`, 'l2'...; default none). */
  kernelRegularizer?: RegularizerSpec;
  /** Penalty of the bias added to the loss (default none). */
  biasRegularizer?: RegularizerSpec;
}

export const CONV_KEYS = {
  kernelRegularizer: true,
  biasRegularizer: true,
  kernelSize: true,
  strides: true,
  padding: true,
  dilationRate: true,
  activation: true,
  useBias: true,
  kernelInitializer: true,
  biasInitializer: true,
  seed: true,
} as const;

/** What the 2-D convolution layers share: window, strides, padding, dilation, activation, bias. */
export abstract class ConvBase extends Layer {
  /** The window `[height, width]`. */
  readonly kernelSize: [number, number];
  /** The step `[height, width]`. */
  readonly strides: [number, number];
  /** 'valid' or 'same'. */
  readonly padding: Padding;
  /** Spacing of the kernel taps `[height, width]` (1 for an ordinary convolution). */
  readonly dilationRate: [number, number];
  /** The activation applied to the output. */
  readonly activation: ActivationName;
  /** Whether a bias is added. */
  readonly useBias: boolean;
  /** How the kernel was initialised. */
  readonly kernelInitializer: InitializerName;
  /** How the bias was initialised. */
  readonly biasInitializer: InitializerName;
  /** Seed of the kernel initializer, if one was given. */
  protected readonly seed?: number;
  /** The kernel's regularizer, if any. */
  readonly kernelRegularizer?: Regularizer;
  /** The bias's regularizer, if any. */
  readonly biasRegularizer?: Regularizer;
  /** The kernel (created by `build`). */
  kernel?: Variable;
  /** The bias, `[outChannels]` (created by `build` when `useBias`). */
  bias?: Variable;

  constructor(args: ConvBaseArgs) {
    super(args);
    const who = `${this.className} '${this.name}'`;
    this.kernelSize = pair(args?.kernelSize, 0, 'kernelSize', who);
    checkBool(args.useBias, 'useBias', who);
    checkSeed(args.seed, who);
    this.strides = pair(args.strides, 1, 'strides', who);
    this.padding = checkPadding(args.padding ?? 'valid', who);
    this.dilationRate = dilationPair(args.dilationRate, this.strides, who);
    this.activation = args.activation ?? 'linear';
    assertActivationName(this.activation, `${who}: activation`);
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = args.kernelInitializer ?? 'glorotUniform';
    this.biasInitializer = args.biasInitializer ?? 'zeros';
    assertInitializer(this.kernelInitializer, `${who}: kernelInitializer`);
    assertInitializer(this.biasInitializer, `${who}: biasInitializer`);
    this.seed = args.seed;
    this.kernelRegularizer = getRegularizer(args.kernelRegularizer, `${who}: kernelRegularizer`);
    this.biasRegularizer = getRegularizer(args.biasRegularizer, `${who}: biasRegularizer`);
  }

  /**
   * Creates the kernel weight `name` of `shape` (the kernel initializer and seed) and, with
   * useBias, a bias of `biasSize` (the bias initializer), in that order.
   */
  protected addKernelAndBias(name: string, shape: number[], biasSize: number): void {
    this.kernel = this.addWeight(name, shape, this.kernelInitializer, true, this.seed);
    if (this.useBias) this.bias = this.addWeight('bias', [biasSize], this.biasInitializer);
    this.setRegularizer(name, this.kernelRegularizer);
    this.setRegularizer('bias', this.biasRegularizer);
  }

  /** The channel count of an NHWC input shape (throws a ShapeError for other ranks). */
  protected inChannels(inputShape: SymShape): number {
    const c = inputShape[3];
    if (inputShape.length !== 4 || c === null) {
      throw new ShapeError(
        `${this.className} '${this.name}' needs NHWC inputs [batch, height, width, channels], got ${fmtSym(inputShape)}`,
      );
    }
    return c;
  }

  /** The number of output channels. */
  protected abstract get outChannels(): number;

  /** NHWC output: the spatial sizes after the window, stride and padding; `outChannels` channels. */
  override computeOutputShape(s: SymShape): SymShape {
    const [kh, kw] = this.kernelSize;
    const [dh, dw] = this.dilationRate;
    return [
      s[0],
      convOutSize(s[1], dh * (kh - 1) + 1, this.strides[0], this.padding),
      convOutSize(s[2], dw * (kw - 1) + 1, this.strides[1], this.padding),
      this.outChannels,
    ];
  }

  /** The convolution with its dilation: the kernel directly at rate 1, else composed (conv-ops.ts). */
  protected convolve(x: Tensor, depthwise: boolean): Tensor {
    const opts = { bias: this.bias, activation: this.fused() };
    if (this.dilationRate[0] === 1 && this.dilationRate[1] === 1)
      return (depthwise ? depthwiseConv2d : conv2d)(x, this.kernel!, this.strides, this.padding, opts);
    return dilatedConv2d(x, {
      filter: this.kernel!,
      depthwise,
      dilation: this.dilationRate,
      pads: stride1Pads(this.padding, this.kernelSize, this.dilationRate),
      ...opts,
    });
  }

  /** The fused activation (softmax is applied after). */
  protected fused(): Activation {
    return fusedPart(this.activation);
  }

  /** Applies the activation that the kernel could not fuse (softmax). */
  protected finish(y: Tensor): Tensor {
    return finishActivation(this.activation, y);
  }

  /** The Keras config (kernel_size, strides, padding, activation...). */
  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      dilationRate: this.dilationRate,
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: this.kernelInitializer,
      ...regularizerConfigs({
        kernelRegularizer: this.kernelRegularizer,
        biasRegularizer: this.biasRegularizer,
      }),
      biasInitializer: this.biasInitializer,
    };
  }
}

/** Options of Conv2D (Keras `Conv2D`). */
export interface Conv2DArgs extends ConvBaseArgs {
  /** The number of output channels. */
  filters: number;
}

/** 2-D convolution, NHWC, kernel HWIO; bias and activation fused into the kernel's epilogue. */
export class Conv2D extends ConvBase {
  static override readonly optionKeys: OptionKeys<Conv2DArgs> = {
    ...LAYER_KEYS,
    ...CONV_KEYS,
    filters: true,
  };
  /** The number of output channels. */
  readonly filters: number;
  constructor(args: Conv2DArgs) {
    super(args);
    if (!Number.isInteger(args.filters) || args.filters < 1) {
      throw new ArgumentError(
        `Conv2D '${this.name}': filters must be a positive integer, got ${JSON.stringify(args.filters)}`,
      );
    }
    this.filters = args.filters;
  }
  /** `filters`. */
  protected get outChannels(): number {
    return this.filters;
  }
  override build(inputShape: SymShape): void {
    const cin = this.inChannels(inputShape);
    this.addKernelAndBias('kernel', [...this.kernelSize, cin, this.filters], this.filters);
    super.build(inputShape);
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    checkInputShape(this, x, this.inputShapeBuilt);
    return this.finish(this.convolve(x, false));
  }
  /** The Keras config, with `filters`. */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), filters: this.filters };
  }
}
registerLayer('Conv2D', (c) => new Conv2D(c as unknown as Conv2DArgs));

/** Options of DepthwiseConv2D (Keras `DepthwiseConv2D`). */
export interface DepthwiseConv2DArgs extends ConvBaseArgs {
  /** Output channels per input channel (default 1). */
  depthMultiplier?: number;
  /** How the depthwise kernel starts (default 'glorotUniform'; Keras' name for `kernelInitializer`). */
  depthwiseInitializer?: InitializerName;
  /** Penalty of the depthwise kernel (Keras' name for `kernelRegularizer`). */
  depthwiseRegularizer?: RegularizerSpec;
}

/** Depthwise 2-D convolution (one filter per input channel, times `depthMultiplier`). */
export class DepthwiseConv2D extends ConvBase {
  static override readonly optionKeys: OptionKeys<DepthwiseConv2DArgs> = {
    ...LAYER_KEYS,
    ...CONV_KEYS,
    depthMultiplier: true,
    depthwiseInitializer: true,
    depthwiseRegularizer: true,
  };
  /** Output channels per input channel. */
  readonly depthMultiplier: number;
  private cin = 0;
  constructor(args: DepthwiseConv2DArgs) {
    super({
      ...args,
      kernelInitializer: args?.depthwiseInitializer ?? args?.kernelInitializer,
      kernelRegularizer: args?.depthwiseRegularizer ?? args?.kernelRegularizer,
    });
    this.depthMultiplier = args.depthMultiplier ?? 1;
    if (!Number.isInteger(this.depthMultiplier) || this.depthMultiplier < 1) {
      throw new ArgumentError(
        `DepthwiseConv2D '${this.name}': depthMultiplier must be a positive integer, got ${this.depthMultiplier}`,
      );
    }
  }
  /** Input channels times `depthMultiplier`. */
  protected get outChannels(): number {
    return this.cin * this.depthMultiplier;
  }
  override build(inputShape: SymShape): void {
    this.cin = this.inChannels(inputShape);
    // Keras names this weight `depthwise_kernel`.
    const shape = [...this.kernelSize, this.cin, this.depthMultiplier];
    this.addKernelAndBias('depthwise_kernel', shape, this.cin * this.depthMultiplier);
    super.build(inputShape);
  }
  /** NHWC output: the spatial sizes after the window, stride and padding; `inChannels * depthMultiplier` channels. */
  override computeOutputShape(s: SymShape): SymShape {
    if (!this.cin) this.cin = this.inChannels(s);
    return super.computeOutputShape(s);
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    checkInputShape(this, x, this.inputShapeBuilt);
    return this.finish(this.convolve(x, true));
  }
  /** The Keras config, with `depth_multiplier`. */
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), depthMultiplier: this.depthMultiplier };
  }
}
registerLayer('DepthwiseConv2D', (c) => new DepthwiseConv2D(c as unknown as DepthwiseConv2DArgs));
