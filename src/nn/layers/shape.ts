import { add } from '../../kernels/binary.js';
import { pad } from '../../kernels/pad.js';
import { reshape } from '../../kernels/reshape.js';
import { ArgumentError, ShapeError } from '../../tensor/errors.js';
import type { OptionKeys } from '../../tensor/options.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import { fmtSym, LAYER_KEYS, Layer, registerLayer, single } from '../layer.js';

export interface ZeroPadding2DArgs extends LayerArgs {
  /** n, [h, w], or [[top, bottom], [left, right]] as Keras. */
  padding?: number | [number, number] | [[number, number], [number, number]];
}

/** Pads height and width with zeros; MobileNetV2 uses ((0,1),(0,1)) before stride-2 convs. */
export class ZeroPadding2D extends Layer {
  static override readonly optionKeys: OptionKeys<ZeroPadding2DArgs> = { ...LAYER_KEYS, padding: true };
  /** The zeros added: `[[top, bottom], [left, right]]`. */
  readonly padding: [[number, number], [number, number]];
  constructor(args: ZeroPadding2DArgs = {}) {
    super(args);
    const p = args.padding ?? 1;
    let out: [[number, number], [number, number]];
    if (typeof p === 'number')
      out = [
        [p, p],
        [p, p],
      ];
    else if (typeof p[0] === 'number')
      out = [
        [p[0], p[0]],
        [p[1] as number, p[1] as number],
      ];
    else out = p as [[number, number], [number, number]];
    if (!out.flat().every((d) => Number.isInteger(d) && d >= 0)) {
      throw new ArgumentError(
        `ZeroPadding2D '${this.name}': padding must be non-negative integers, got ${JSON.stringify(p)}`,
      );
    }
    this.padding = out;
  }
  override computeOutputShape(s: SymShape): SymShape {
    if (s.length !== 4)
      throw new ShapeError(`ZeroPadding2D '${this.name}' needs NHWC inputs, got ${fmtSym(s)}`);
    const [[t, b], [l, r]] = this.padding;
    return [s[0], s[1] === null ? null : s[1] + t + b, s[2] === null ? null : s[2] + l + r, s[3]];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    return pad(single(this, inputs), [[0, 0], this.padding[0], this.padding[1], [0, 0]]);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), padding: this.padding };
  }
}
registerLayer('ZeroPadding2D', (c) => new ZeroPadding2D(c as ZeroPadding2DArgs));

export interface ReshapeArgs extends LayerArgs {
  /** Target shape without the batch dimension; one entry may be -1. */
  targetShape: number[];
}

export class Reshape extends Layer {
  static override readonly optionKeys: OptionKeys<ReshapeArgs> = { ...LAYER_KEYS, targetShape: true };
  /** The output shape without the batch dimension. */
  readonly targetShape: number[];
  constructor(args: ReshapeArgs) {
    super(args);
    const t = args?.targetShape;
    if (
      !Array.isArray(t) ||
      t.some((d) => !Number.isInteger(d) || (d < 1 && d !== -1)) ||
      t.filter((d) => d === -1).length > 1
    ) {
      throw new ArgumentError(
        `Reshape '${this.name}': targetShape must be positive integers with at most one -1, got ${JSON.stringify(t)}`,
      );
    }
    this.targetShape = t;
  }
  override computeOutputShape(s: SymShape): SymShape {
    const known = s.slice(1);
    if (known.some((d) => d === null)) return [s[0], ...this.targetShape.map((d) => (d === -1 ? null : d))];
    const n = (known as number[]).reduce((a, b) => a * b, 1);
    const p = this.targetShape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const fill = this.targetShape.includes(-1) ? n / p : p;
    if (!Number.isInteger(fill) || (!this.targetShape.includes(-1) && p !== n)) {
      throw new ShapeError(
        `Reshape '${this.name}': cannot reshape ${fmtSym(s)} to (None, ${this.targetShape.join(', ')})`,
      );
    }
    return [s[0], ...this.targetShape.map((d) => (d === -1 ? fill : d))];
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    return reshape(x, [x.shape[0], ...this.targetShape]);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), targetShape: this.targetShape };
  }
}
registerLayer('Reshape', (c) => new Reshape(c as unknown as ReshapeArgs));

/** Sums its inputs elementwise (residual connections). */
export class Add extends Layer {
  static override readonly optionKeys: OptionKeys<LayerArgs> = { ...LAYER_KEYS };
  override computeOutputShapeMulti(shapes: SymShape[]): SymShape {
    if (shapes.length < 2)
      throw new ArgumentError(`Add '${this.name}' needs at least 2 inputs, got ${shapes.length}`);
    const s0 = shapes[0];
    for (const s of shapes) {
      if (s.length !== s0.length || s.some((d, i) => d !== null && s0[i] !== null && d !== s0[i])) {
        throw new ShapeError(
          `Add '${this.name}': inputs must have the same shape, got ${shapes.map(fmtSym).join(' and ')}`,
        );
      }
    }
    return s0;
  }
  override computeOutputShape(s: SymShape): SymShape {
    return s;
  }
  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    if (!Array.isArray(inputs) || inputs.length < 2) {
      throw new ArgumentError(`Add '${this.name}' needs a list of at least 2 tensors`);
    }
    return inputs.slice(1).reduce((acc, t) => add(acc, t), inputs[0]);
  }
}
registerLayer('Add', (c) => new Add(c as LayerArgs));
