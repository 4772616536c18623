import { avgPool, globalAvgPool, maxPool } from '../../kernels/pool.js';
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
  static override readonly optionKeys: OptionKeys<Pooling2DArgs> = {
    ...LAYER_KEYS,
    poolSize: true,
    strides: true,
    padding: true,
  };
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    return maxPool(single(this, inputs), this.poolSize, this.strides, this.padding);
  }
}
registerLayer('MaxPooling2D', (c) => new MaxPooling2D(c as Pooling2DArgs));

/** The mean over each window (Keras `AveragePooling2D`), NHWC. */
export class AveragePooling2D extends Pooling2D {
  static override readonly optionKeys: OptionKeys<Pooling2DArgs> = {
    ...LAYER_KEYS,
    poolSize: true,
    strides: true,
    padding: true,
  };
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
