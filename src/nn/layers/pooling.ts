import { avgPool, globalAvgPool, maxPool } from '../../kernels/pool.js';
import { max, mean } from '../../kernels/reduce.js';
import { reshape } from '../../kernels/reshape.js';
import { ShapeError } from '../../tensor/errors.js';
import type { OptionKeys } from '../../tensor/options.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import { checkBool, fmtSym, LAYER_KEYS, Layer, registerLayer, single } from '../layer.js';
import { checkPadding, convOutSize, type Padding, pair } from './conv.js';

export interface Pooling2DArgs extends LayerArgs {
  /** The window, `[height, width]` or one number (default 2). */
  poolSize?: number | [number, number];
  /** Defaults to poolSize, as Keras. */
  strides?: number | [number, number];
  /** 'valid' (default) or 'same'. */
  padding?: Padding;
}

function needNHWC(layer: Layer, s: SymShape): void {
  if (s.length !== 4)
    throw new ShapeError(`${layer.className} '${layer.name}' needs NHWC inputs, got ${fmtSym(s)}`);
}

const POOL2D_KEYS: OptionKeys<Pooling2DArgs> = {
  ...LAYER_KEYS,
  poolSize: true,
  strides: true,
  padding: true,
};

abstract class Pooling2D extends Layer {
  /** The window `[height, width]`. */
  readonly poolSize: [number, number];
  /** The step `[height, width]`. */
  readonly strides: [number, number];
  /** 'valid' or 'same'. */
  readonly padding: Padding;
  constructor(args: Pooling2DArgs = {}) {
    super(args);
    const who = `${this.className} '${this.name}'`;
    this.poolSize = pair(args.poolSize, 2, 'poolSize', who);
    this.strides = args.strides === undefined ? this.poolSize : pair(args.strides, 1, 'strides', who);
    this.padding = checkPadding(args.padding ?? 'valid', who);
  }
  override computeOutputShape(s: SymShape): SymShape {
    needNHWC(this, s);
    return [
      s[0],
      convOutSize(s[1], this.poolSize[0], this.strides[0], this.padding),
      convOutSize(s[2], this.poolSize[1], this.strides[1], this.padding),
      s[3],
    ];
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, padding: this.padding };
  }
}

/** The maximum over each window (Keras `MaxPooling2D`), NHWC. */
export class MaxPooling2D extends Pooling2D {
  static override readonly optionKeys: OptionKeys<Pooling2DArgs> = POOL2D_KEYS;
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    return maxPool(single(this, inputs), this.poolSize, this.strides, this.padding);
  }
}
registerLayer('MaxPooling2D', (c) => new MaxPooling2D(c as Pooling2DArgs));

/** The mean over each window (Keras `AveragePooling2D`), NHWC. */
export class AveragePooling2D extends Pooling2D {
  static override readonly optionKeys: OptionKeys<Pooling2DArgs> = POOL2D_KEYS;
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    return avgPool(single(this, inputs), this.poolSize, this.strides, this.padding);
  }
}
registerLayer('AveragePooling2D', (c) => new AveragePooling2D(c as Pooling2DArgs));

export interface GlobalPoolingArgs extends LayerArgs {
  /** Keep the spatial dimensions as size 1 (default false). */
  keepDims?: boolean;
}

/** Mean over height and width: [b, h, w, c] -> [b, c]. */
export class GlobalAveragePooling2D extends Layer {
  static override readonly optionKeys: OptionKeys<GlobalPoolingArgs> = { ...LAYER_KEYS, keepDims: true };
  /** Whether the output keeps the spatial dimensions as size 1. */
  readonly keepDims: boolean;
  constructor(args: GlobalPoolingArgs = {}) {
    super(args);
    checkBool(args.keepDims, 'keepDims', `GlobalAveragePooling2D '${this.name}'`);
    this.keepDims = args.keepDims ?? false;
  }
  override computeOutputShape(s: SymShape): SymShape {
    needNHWC(this, s);
    return this.keepDims ? [s[0], 1, 1, s[3]] : [s[0], s[3]];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    const y = globalAvgPool(x);
    return this.keepDims ? reshape(y, [x.shape[0], 1, 1, x.shape[3]]) : y;
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), keepDims: this.keepDims };
  }
}
registerLayer('GlobalAveragePooling2D', (c) => new GlobalAveragePooling2D(c as GlobalPoolingArgs));

/** Maximum over height and width: [b, h, w, c] -> [b, c] (Keras `GlobalMaxPooling2D`). */
export class GlobalMaxPooling2D extends Layer {
  static override readonly optionKeys: OptionKeys<GlobalPoolingArgs> = { ...LAYER_KEYS, keepDims: true };
  /** Keep the pooled axes as size 1 (default false). */
  readonly keepDims: boolean;
  constructor(args: GlobalPoolingArgs = {}) {
    super(args);
    checkBool(args.keepDims, 'keepDims', `GlobalMaxPooling2D '${this.name}'`);
    this.keepDims = args.keepDims ?? false;
  }
  override computeOutputShape(s: SymShape): SymShape {
    needNHWC(this, s);
    return this.keepDims ? [s[0], 1, 1, s[3]] : [s[0], s[3]];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    return max(single(this, inputs), [1, 2], this.keepDims);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), keepDims: this.keepDims };
  }
}
registerLayer('GlobalMaxPooling2D', (c) => new GlobalMaxPooling2D(c as GlobalPoolingArgs));

function needSteps(layer: Layer, s: SymShape): void {
  if (s.length !== 3)
    throw new ShapeError(
      `${layer.className} '${layer.name}' needs inputs [batch, steps, channels], got ${fmtSym(s)}`,
    );
}

export interface Pooling1DArgs extends LayerArgs {
  /** Window length in steps (default 2). */
  poolSize?: number;
  /** Defaults to poolSize, as Keras. */
  strides?: number;
  /** 'valid' (no padding, default) or 'same' (output length ceil(steps / strides)). */
  padding?: Padding;
}

/** Pooling over the steps of [b, steps, c]: a 2-D pooling of height 1. */
abstract class Pooling1D extends Layer {
  /** Window length in steps. */
  readonly poolSize: number;
  /** Step between windows (defaults to poolSize). */
  readonly strides: number;
  /** 'valid' or 'same'. */
  readonly padding: Padding;
  constructor(args: Pooling1DArgs = {}) {
    super(args);
    const who = `${this.className} '${this.name}'`;
    this.poolSize = pair(args.poolSize, 2, 'poolSize', who)[0];
    this.strides = args.strides === undefined ? this.poolSize : pair(args.strides, 1, 'strides', who)[0];
    this.padding = checkPadding(args.padding ?? 'valid', who);
  }
  override computeOutputShape(s: SymShape): SymShape {
    needSteps(this, s);
    return [s[0], convOutSize(s[1], this.poolSize, this.strides, this.padding), s[2]];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    const [b, steps, c] = x.shape;
    const pool = this.className === 'MaxPooling1D' ? maxPool : avgPool;
    const y = pool(reshape(x, [b, 1, steps, c]), [1, this.poolSize], [1, this.strides], this.padding);
    return reshape(y, [b, y.shape[2], c]);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, padding: this.padding };
  }
}

const POOL1D_KEYS: OptionKeys<Pooling1DArgs> = {
  ...LAYER_KEYS,
  poolSize: true,
  strides: true,
  padding: true,
};

/** Maximum over windows of steps (Keras `MaxPooling1D`). */
export class MaxPooling1D extends Pooling1D {
  static override readonly optionKeys: OptionKeys<Pooling1DArgs> = POOL1D_KEYS;
}
registerLayer('MaxPooling1D', (c) => new MaxPooling1D(c as Pooling1DArgs));

/** Mean over windows of steps (Keras `AveragePooling1D`; 'same' windows average their valid steps). */
export class AveragePooling1D extends Pooling1D {
  static override readonly optionKeys: OptionKeys<Pooling1DArgs> = POOL1D_KEYS;
}
registerLayer('AveragePooling1D', (c) => new AveragePooling1D(c as Pooling1DArgs));

/** Mean or maximum over all steps: [b, steps, c] -> [b, c]. */
abstract class GlobalPooling1D extends Layer {
  /** Keep the pooled axis as size 1: [b, 1, c] (default false). */
  readonly keepDims: boolean;
  constructor(args: GlobalPoolingArgs = {}) {
    super(args);
    checkBool(args.keepDims, 'keepDims', `${this.className} '${this.name}'`);
    this.keepDims = args.keepDims ?? false;
  }
  override computeOutputShape(s: SymShape): SymShape {
    needSteps(this, s);
    return this.keepDims ? [s[0], 1, s[2]] : [s[0], s[2]];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    return this.className === 'GlobalMaxPooling1D' ? max(x, 1, this.keepDims) : mean(x, 1, this.keepDims);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), keepDims: this.keepDims };
  }
}

/** Mean over the steps (Keras `GlobalAveragePooling1D`). */
export class GlobalAveragePooling1D extends GlobalPooling1D {
  static override readonly optionKeys: OptionKeys<GlobalPoolingArgs> = { ...LAYER_KEYS, keepDims: true };
}
registerLayer('GlobalAveragePooling1D', (c) => new GlobalAveragePooling1D(c as GlobalPoolingArgs));

/** Maximum over the steps (Keras `GlobalMaxPooling1D`). */
export class GlobalMaxPooling1D extends GlobalPooling1D {
  static override readonly optionKeys: OptionKeys<GlobalPoolingArgs> = { ...LAYER_KEYS, keepDims: true };
}
registerLayer('GlobalMaxPooling1D', (c) => new GlobalMaxPooling1D(c as GlobalPoolingArgs));
