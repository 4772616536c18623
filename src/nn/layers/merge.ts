import { add, maximum, minimum, mul, sub } from '../../kernels/binary.js';
import { concat } from '../../kernels/concat.js';
import { matmul } from '../../kernels/matmul.js';
import { sum } from '../../kernels/reduce.js';
import { reshape } from '../../kernels/reshape.js';
import { transpose } from '../../kernels/transpose.js';
import { rsqrt, square } from '../../kernels/unary.js';
import { ArgumentError, fmtShape, ShapeError } from '../../tensor/errors.js';
import type { OptionKeys } from '../../tensor/options.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import { fmtSym, LAYER_KEYS, Layer, registerLayer } from '../layer.js';

/**
 * Merge layers (Keras `keras.layers.Multiply`, `Average`, ...): several inputs of one shape in,
 * one tensor out. Each is a composition of differentiable ops.
 */

/** The inputs of a merge layer as a list of at least `min` live tensors. */
function inputList(layer: Layer, inputs: Tensor | Tensor[], min: number, max = Infinity): Tensor[] {
  const who = `${layer.className} '${layer.name}'`;
  if (!Array.isArray(inputs) || inputs.length < min || inputs.length > max) {
    const want = max === min ? `${min}` : `at least ${min}`;
    throw new ArgumentError(
      `${who}: expects a list of ${want} tensors, got ${Array.isArray(inputs) ? `${inputs.length}` : 'one tensor'}`,
    );
  }
  return inputs;
}

function checkCount(layer: Layer, shapes: SymShape[], min: number, max = Infinity): void {
  if (shapes.length < min || shapes.length > max) {
    const want = max === min ? `${min}` : `at least ${min}`;
    throw new ArgumentError(
      `${layer.className} '${layer.name}': expects ${want} inputs, got ${shapes.length}`,
    );
  }
}

/** Combines xs[0], xs[1], ... left to right with `f`. */
function fold(xs: Tensor[], f: (a: Tensor, b: Tensor) => Tensor): Tensor {
  return xs.slice(1).reduce((acc, t) => f(acc, t), xs[0]);
}

/** Elementwise merges: every input has the same shape (null = unknown matches anything). */
abstract class ElementwiseMerge extends Layer {
  /** Layer options this class accepts (the common layer options only). */
  static override readonly optionKeys: OptionKeys<LayerArgs> = { ...LAYER_KEYS };
  /** Fewest inputs accepted (2). */
  protected readonly minInputs: number = 2;
  /** Most inputs accepted (unbounded). */
  protected readonly maxInputs: number = Infinity;

  override computeOutputShapeMulti(shapes: SymShape[]): SymShape {
    checkCount(this, shapes, this.minInputs, this.maxInputs);
    const s0 = shapes[0];
    const out = [...s0];
    for (const s of shapes) {
      if (s.length !== s0.length || s.some((d, i) => d !== null && out[i] !== null && d !== out[i])) {
        throw new ShapeError(
          `${this.className} '${this.name}': inputs must have the same shape, got ${shapes.map(fmtSym).join(' and ')}`,
        );
      }
      s.forEach((d, i) => {
        if (out[i] === null) out[i] = d;
      });
    }
    return out;
  }

  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const xs = inputList(this, inputs, this.minInputs, this.maxInputs);
    const s0 = xs[0].shape;
    for (const x of xs) {
      if (x.rank !== s0.length || x.shape.some((d, i) => d !== s0[i])) {
        throw new ShapeError(
          `${this.className} '${this.name}': inputs must have the same shape, got ${xs.map((t) => fmtShape(t.shape)).join(' and ')}`,
        );
      }
    }
    return this.merge(xs);
  }

  /** Combines the input tensors (already checked for count and shape) into the output. */
  protected abstract merge(xs: Tensor[]): Tensor;
}

/** Elementwise product of its inputs. */
export class Multiply extends ElementwiseMerge {
  /** Layer options this class accepts (the common layer options only). */
  static override readonly optionKeys: OptionKeys<LayerArgs> = { ...LAYER_KEYS };
  /** Elementwise product of all inputs. */
  protected merge(xs: Tensor[]): Tensor {
    return fold(xs, mul);
  }
}
registerLayer('Multiply', (c) => new Multiply(c as LayerArgs));

/** Elementwise mean of its inputs. */
export class Average extends ElementwiseMerge {
  /** Layer options this class accepts (the common layer options only). */
  static override readonly optionKeys: OptionKeys<LayerArgs> = { ...LAYER_KEYS };
  /** Elementwise mean of all inputs. */
  protected merge(xs: Tensor[]): Tensor {
    return mul(fold(xs, add), 1 / xs.length);
  }
}
registerLayer('Average', (c) => new Average(c as LayerArgs));

/** Elementwise maximum of its inputs. */
export class Maximum extends ElementwiseMerge {
  /** Layer options this class accepts (the common layer options only). */
  static override readonly optionKeys: OptionKeys<LayerArgs> = { ...LAYER_KEYS };
  /** Elementwise maximum of all inputs. */
  protected merge(xs: Tensor[]): Tensor {
    return fold(xs, maximum);
  }
}
registerLayer('Maximum', (c) => new Maximum(c as LayerArgs));

/** Elementwise minimum of its inputs. */
export class Minimum extends ElementwiseMerge {
  /** Layer options this class accepts (the common layer options only). */
  static override readonly optionKeys: OptionKeys<LayerArgs> = { ...LAYER_KEYS };
  /** Elementwise minimum of all inputs. */
  protected merge(xs: Tensor[]): Tensor {
    return fold(xs, minimum);
  }
}
registerLayer('Minimum', (c) => new Minimum(c as LayerArgs));

/** inputs[0] - inputs[1] (exactly two inputs). */
export class Subtract extends ElementwiseMerge {
  /** Layer options this class accepts (the common layer options only). */
  static override readonly optionKeys: OptionKeys<LayerArgs> = { ...LAYER_KEYS };
  /** Most inputs accepted: Subtract takes exactly 2. */
  protected override readonly maxInputs: number = 2;
  /** The first input minus the second. */
  protected merge(xs: Tensor[]): Tensor {
    return sub(xs[0], xs[1]);
  }
}
registerLayer('Subtract', (c) => new Subtract(c as LayerArgs));

export interface ConcatenateArgs extends LayerArgs {
  /** The axis to join along, counting the batch axis (default -1, the last). */
  axis?: number;
}

/** Joins its inputs along `axis`; the other dimensions must match. */
export class Concatenate extends Layer {
  static override readonly optionKeys: OptionKeys<ConcatenateArgs> = { ...LAYER_KEYS, axis: true };
  /** The axis joined along, counting the batch axis (negative counts from the end). */
  readonly axis: number;
  constructor(args: ConcatenateArgs = {}) {
    super(args);
    const a = args.axis ?? -1;
    if (!Number.isInteger(a))
      throw new ArgumentError(
        `Concatenate '${this.name}': axis must be an integer, got ${JSON.stringify(a)}`,
      );
    this.axis = a;
  }

  private axisFor(rank: number): number {
    const a = this.axis < 0 ? this.axis + rank : this.axis;
    if (a < 1 || a >= rank) {
      throw new ArgumentError(
        `Concatenate '${this.name}': axis ${this.axis} is out of range for inputs of rank ${rank} (the batch axis 0 cannot be joined)`,
      );
    }
    return a;
  }

  override computeOutputShapeMulti(shapes: SymShape[]): SymShape {
    checkCount(this, shapes, 2);
    const rank = shapes[0].length;
    const a = this.axisFor(rank);
    const out = [...shapes[0]];
    for (const s of shapes.slice(1)) {
      if (s.length !== rank || s.some((d, i) => i !== a && d !== null && out[i] !== null && d !== out[i])) {
        throw new ShapeError(
          `Concatenate '${this.name}': inputs must match except on axis ${this.axis}, got ${shapes.map(fmtSym).join(' and ')}`,
        );
      }
      out[a] = out[a] === null || s[a] === null ? null : (out[a] as number) + (s[a] as number);
    }
    return out;
  }

  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const xs = inputList(this, inputs, 2);
    const rank = xs[0].rank;
    const a = this.axisFor(rank);
    for (const x of xs) {
      if (x.rank !== rank || x.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
        throw new ShapeError(
          `Concatenate '${this.name}': inputs must match except on axis ${this.axis}, got ${xs.map((t) => fmtShape(t.shape)).join(' and ')}`,
        );
      }
    }
    return concat(xs, a);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axis: this.axis };
  }
}
registerLayer('Concatenate', (c) => new Concatenate(c as ConcatenateArgs));

export interface DotArgs extends LayerArgs {
  /** The axis (or one axis per input) to contract, counting the batch axis; negative counts from the end. */
  axes: number | [number, number];
  /** L2-normalise each input along its contracted axis first: the dot is then the cosine similarity. */
  normalize?: boolean;
}

/**
 * The dot product of two inputs along `axes`, per sample (Keras `Dot`, i.e. `batch_dot`): for
 * [b, n] and [b, n] with axes 1 the result is [b, 1]; for [b, m, k] and [b, k, n] with axes [2, 1]
 * it is [b, m, n]. The other axes of the first input come first, then those of the second.
 */
export class Dot extends Layer {
  static override readonly optionKeys: OptionKeys<DotArgs> = { ...LAYER_KEYS, axes: true, normalize: true };
  /** The axis (or one axis per input) contracted, counting the batch axis. */
  readonly axes: number | [number, number];
  /** Whether the inputs are L2-normalized along the dot axes first (cosine similarity). */
  readonly normalize: boolean;
  constructor(args: DotArgs) {
    super(args);
    const who = `Dot '${this.name}'`;
    const a = args.axes;
    const ok =
      Number.isInteger(a) || (Array.isArray(a) && a.length === 2 && a.every((v) => Number.isInteger(v)));
    if (!ok)
      throw new ArgumentError(
        `${who}: axes must be an integer or a pair of integers, got ${JSON.stringify(a)}`,
      );
    if (args.normalize !== undefined && typeof args.normalize !== 'boolean')
      throw new ArgumentError(`${who}: normalize must be a boolean, got ${JSON.stringify(args.normalize)}`);
    this.axes = Array.isArray(a) ? [a[0], a[1]] : a;
    this.normalize = args.normalize ?? false;
  }

  /** The contracted axis of each input, non-negative. */
  private resolve(ranks: [number, number]): [number, number] {
    const raw = Array.isArray(this.axes) ? this.axes : [this.axes, this.axes];
    return [0, 1].map((i) => {
      const a = raw[i] < 0 ? raw[i] + ranks[i] : raw[i];
      if (a < 1 || a >= ranks[i]) {
        throw new ArgumentError(
          `Dot '${this.name}': axes ${JSON.stringify(this.axes)} is out of range for input ${i} of rank ${ranks[i]} (the batch axis 0 cannot be contracted)`,
        );
      }
      return a;
    }) as [number, number];
  }

  override computeOutputShapeMulti(shapes: SymShape[]): SymShape {
    checkCount(this, shapes, 2, 2);
    const [s0, s1] = shapes;
    const [a0, a1] = this.resolve([s0.length, s1.length]);
    if (s0[a0] !== null && s1[a1] !== null && s0[a0] !== s1[a1]) {
      throw new ShapeError(
        `Dot '${this.name}': the contracted axes differ in size: ${fmtSym(s0)} axis ${a0} vs ${fmtSym(s1)} axis ${a1}`,
      );
    }
    const out = [
      s0[0],
      ...s0.slice(1).filter((_, i) => i + 1 !== a0),
      ...s1.slice(1).filter((_, i) => i + 1 !== a1),
    ];
    return out.length === 1 ? [s0[0], 1] : out;
  }

  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    let [x, y] = inputList(this, inputs, 2, 2);
    const [a0, a1] = this.resolve([x.rank, y.rank]);
    if (x.shape[0] !== y.shape[0] || x.shape[a0] !== y.shape[a1]) {
      throw new ShapeError(
        `Dot '${this.name}': inputs ${fmtShape(x.shape)} (axis ${a0}) and ${fmtShape(y.shape)} (axis ${a1}) need the same batch size and contracted size`,
      );
    }
    if (this.normalize) {
      x = l2Normalize(x, a0);
      y = l2Normalize(y, a1);
    }
    const b = x.shape[0];
    const k = x.shape[a0];
    const restX = x.shape.filter((_, i) => i !== 0 && i !== a0);
    const restY = y.shape.filter((_, i) => i !== 0 && i !== a1);
    const m = restX.reduce((p, d) => p * d, 1);
    const n = restY.reduce((p, d) => p * d, 1);
    // x as [b, m, k] and y as [b, k, n], then one batched matmul.
    const xm = reshape(moveAxis(x, a0, x.rank - 1), [b, m, k]);
    const ym = reshape(moveAxis(y, a1, 1), [b, k, n]);
    const out = [b, ...restX, ...restY];
    return reshape(matmul(xm, ym), out.length === 1 ? [b, 1] : out);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axes: this.axes, normalize: this.normalize };
  }
}
registerLayer('Dot', (c) => new Dot(c as unknown as DotArgs));

/** x with axis `from` moved to position `to` (no copy when it is already there). */
function moveAxis(x: Tensor, from: number, to: number): Tensor {
  if (from === to) return x;
  const perm = x.shape.map((_, i) => i).filter((i) => i !== from);
  perm.splice(to, 0, from);
  return transpose(x, perm);
}

/** x / sqrt(max(sum(x^2, axis), 1e-12)), as Keras' `l2_normalize`. */
function l2Normalize(x: Tensor, axis: number): Tensor {
  const ss = sum(square(x), axis, true);
  return mul(x, rsqrt(maximum(ss, 1e-12)));
}
