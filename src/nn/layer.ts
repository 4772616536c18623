import { add } from '../kernels/binary.js';
import { ArgumentError, DTypeError, fmtShape, ShapeError } from '../tensor/errors.js';
import { checkOptions, type OptionKeys } from '../tensor/options.js';
import { Tensor } from '../tensor/tensor.js';
import { type Variable, variable } from '../tensor/variable.js';
import { type InitializerName, initialize } from './initializers.js';
import type { Regularizer } from './regularizers.js';

/** A shape with `null` for unknown sizes (the batch dimension), as Keras prints `(None, 5)`. */
export type SymShape = Array<number | null>;

/** Options of `layer.apply` / `call`. */
export interface CallArgs {
  /** Training mode: Dropout drops, BatchNormalization uses batch statistics. */
  training?: boolean;
  /** MultiHeadAttention: Keras `attention_mask`, [batch, Tq, Tk], true (1) where query i may attend key j. */
  attentionMask?: Tensor;
  /** MultiHeadAttention: Keras `use_causal_mask` (query i attends keys j <= i). */
  useCausalMask?: boolean;
}

/** The options every layer accepts (Keras `name`, `trainable`, `input_shape`, `batch_size`). */
export interface LayerArgs {
  /** The layer's name (default: the snake_case class name, made unique: `dense_1`). */
  name?: string;
  /** Whether training updates the weights (default true). */
  trainable?: boolean;
  /** Input shape without the batch dimension (first layer of a Sequential). */
  inputShape?: number[];
  /** Batch size, fixed (rarely needed). */
  batchSize?: number;
}

/** The option names every layer accepts. */
export const LAYER_KEYS: OptionKeys<LayerArgs> = {
  name: true,
  trainable: true,
  inputShape: true,
  batchSize: true,
};

/** One weight of a layer: its short name, its variable and whether it may train. */
export interface LayerWeight {
  /** Short name, e.g. 'kernel'; the variable is named `layer/kernel`. */
  name: string;
  /** The variable holding the values (named `layer/name`). */
  variable: Variable;
  /** False for statistics such as BatchNormalization's moving mean, whatever `layer.trainable` says. */
  trainable: boolean;
}

const nameCounts = new Map<string, number>();

/** Keras-style unique names: dense, dense_1, dense_2... */
export function uniqueName(prefix: string): string {
  const n = nameCounts.get(prefix) ?? 0;
  nameCounts.set(prefix, n + 1);
  return n === 0 ? prefix : `${prefix}_${n}`;
}

/** Keras' `to_snake_case`: Conv2D -> conv2d, ReLU -> re_lu, MaxPooling2D -> max_pooling2d. */
export function snakeCase(className: string): string {
  return className
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** A symbolic shape as Keras prints it: `(None, 3)`. */
export function fmtSym(shape: SymShape): string {
  return `(${shape.map((d) => (d === null ? 'None' : String(d))).join(', ')}${shape.length === 1 ? ',' : ''})`;
}

/**
 * Base of all layers: weights are created lazily by `build(inputShape)` on first call, `call`
 * computes, `getConfig()` returns JSON that recreates the layer.
 */
export abstract class Layer {
  /** The layer's name, unique in a process unless given (`dense`, `dense_1`...); weights are named `name/weight`. */
  readonly name: string;
  /** Whether `build` has run (the weights exist). */
  built = false;
  /** Input shape declared by the user (without batch), for the first layer of a model. */
  readonly batchInputShape?: SymShape;
  /** The weights in creation order (what `addWeight` appends to). */
  protected readonly _weights: LayerWeight[] = [];
  private _trainable: boolean;
  /** Regularizers by weight short name (see `setRegularizer`). */
  private readonly _regularizers = new Map<string, Regularizer>();
  /** Shapes seen at build time (with batch dim null). */
  inputShapeBuilt?: SymShape;
  /** The output shape computed at build time (batch dimension null). */
  outputShapeBuilt?: SymShape;

  /**
   * The option names the class's constructor accepts. A class that declares its own (all ours do)
   * gets unknown names rejected with a suggestion (`units_` -> `units`); a user subclass that does
   * not declare any is not checked.
   */
  static readonly optionKeys: OptionKeys<LayerArgs> = LAYER_KEYS;

  /** Checks the common options (`name`, `trainable`, `inputShape`, `batchSize`) and unknown option names. */
  constructor(args: LayerArgs = {}) {
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      throw new ArgumentError(`${this.className}: expected an options object, got ${JSON.stringify(args)}`);
    }
    if (Object.hasOwn(new.target, 'optionKeys'))
      checkOptions(args, (new.target as unknown as typeof Layer).optionKeys, new.target.name);
    if (args.trainable !== undefined && typeof args.trainable !== 'boolean') {
      throw new ArgumentError(
        `${this.className}: trainable must be a boolean, got ${JSON.stringify(args.trainable)}`,
      );
    }
    if (
      args.batchSize !== undefined &&
      args.batchSize !== null &&
      !(Number.isInteger(args.batchSize) && args.batchSize > 0)
    ) {
      throw new ArgumentError(
        `${this.className}: batchSize must be a positive integer, got ${JSON.stringify(args.batchSize)}`,
      );
    }
    if (args.name !== undefined && (typeof args.name !== 'string' || args.name === '')) {
      throw new ArgumentError(
        `${this.className}: name must be a non-empty string, got ${JSON.stringify(args.name)}`,
      );
    }
    this.name = args.name ?? uniqueName(snakeCase(this.className));
    this._trainable = args.trainable ?? true;
    if (args.inputShape !== undefined) {
      if (
        !Array.isArray(args.inputShape) ||
        args.inputShape.some((d) => d !== null && (!Number.isInteger(d) || d < 1))
      ) {
        throw new ShapeError(
          `${this.className} '${this.name}': inputShape must be an array of positive integers (without the batch dimension), got ${JSON.stringify(args.inputShape)}`,
        );
      }
      this.batchInputShape = [args.batchSize ?? null, ...args.inputShape];
    }
  }

  /** The class name as Keras prints it in summaries and configs. */
  get className(): string {
    return this.constructor.name;
  }

  /** Whether the layer's weights are updated by training (Keras `layer.trainable`). */
  get trainable(): boolean {
    return this._trainable;
  }

  /** Freezes or unfreezes every weight of the layer (Keras `layer.trainable = false`). */
  set trainable(value: boolean) {
    this._trainable = value;
    for (const w of this._weights) w.variable.trainable = value && w.trainable;
  }

  /** Creates the weights for inputs of `inputShape`; subclasses call `super.build` at the end. */
  build(inputShape: SymShape): void {
    this.inputShapeBuilt = inputShape;
    this.outputShapeBuilt = this.computeOutputShape(inputShape);
    this.built = true;
  }

  /** The output shape for one input shape (batch dimension included, null when unknown); the input shape unless overridden. */
  computeOutputShape(inputShape: SymShape): SymShape {
    return inputShape;
  }

  /** Computes the output from concrete inputs (`apply` builds first and then calls this); `args.training` selects training behaviour (Dropout, BatchNormalization). */
  abstract call(inputs: Tensor | Tensor[], args: CallArgs): Tensor;

  /** Output shape for several inputs (layers such as Add override it). */
  computeOutputShapeMulti(shapes: SymShape[]): SymShape {
    if (shapes.length !== 1)
      throw new ArgumentError(`${this.name} (${this.className}) expects one input, got ${shapes.length}`);
    return this.computeOutputShape(shapes[0]);
  }

  /**
   * Builds on first use (from the input's shape), then calls. On symbolic inputs (`input()`), records
   * a node of a functional graph instead and returns its symbolic output.
   */
  apply(inputs: Tensor | Tensor[], args?: CallArgs): Tensor;
  apply(inputs: SymbolicTensor | SymbolicTensor[], args?: CallArgs): SymbolicTensor;
  apply(
    inputs: Tensor | Tensor[] | SymbolicTensor | SymbolicTensor[],
    args: CallArgs = {},
  ): Tensor | SymbolicTensor {
    const syms = Array.isArray(inputs) ? inputs : [inputs];
    if (syms.some((t) => t instanceof SymbolicTensor)) {
      if (!syms.every((t) => t instanceof SymbolicTensor)) {
        throw new ArgumentError(
          `${this.name}: cannot mix symbolic inputs (from input()) and concrete tensors`,
        );
      }
      const shapes = (syms as SymbolicTensor[]).map((t) => t.shape);
      if (!this.built) this.build(shapes[0]);
      const out = this.computeOutputShapeMulti(shapes);
      if (syms.length > 1) {
        this.inputShapeBuilt = shapes[0];
        this.outputShapeBuilt = out;
      }
      return new SymbolicTensor(out, this, syms as SymbolicTensor[]);
    }
    return this.applyConcrete(inputs as Tensor | Tensor[], args);
  }

  private applyConcrete(inputs: Tensor | Tensor[], args: CallArgs): Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    list.forEach((t, i) => {
      if (!(t instanceof Tensor)) {
        throw new DTypeError(
          `${this.name}: input ${i} must be a Tensor, got ${t === null ? 'null' : typeof t}`,
        );
      }
      t.assertAlive(`${this.name}: input ${i}`);
    });
    if (!this.built) {
      const shape = Array.isArray(inputs) ? inputs[0].shape : inputs.shape;
      this.build([null, ...shape.slice(1)]);
    }
    return this.call(inputs, args);
  }

  /** Adds a weight named `layer/name`, initialised now. */
  protected addWeight(
    name: string,
    shape: number[],
    init: InitializerName | Tensor,
    trainable = true,
    seed?: number,
  ): Variable {
    const initial = init instanceof Tensor ? init : initialize(init, shape, seed);
    const v = variable(initial, { name: `${this.name}/${name}`, trainable: trainable && this._trainable });
    if (!(init instanceof Tensor)) initial.dispose();
    this._weights.push({ name, variable: v, trainable });
    return v;
  }

  /** All weights, in creation order (Keras `layer.weights`). */
  get weights(): Variable[] {
    return this._weights.map((w) => w.variable);
  }

  /** The weights with their short names and trainability, in creation order. */
  get weightEntries(): readonly LayerWeight[] {
    return this._weights;
  }

  /** The weights that training updates (Keras `layer.trainable_weights`). */
  get trainableWeights(): Variable[] {
    return this._weights.filter((w) => w.trainable && this.trainable).map((w) => w.variable);
  }

  /** The weights that training does not update: frozen ones and statistics such as moving means. */
  get nonTrainableWeights(): Variable[] {
    return this._weights.filter((w) => !(w.trainable && this.trainable)).map((w) => w.variable);
  }

  /** The number of scalar values in all weights (Keras `count_params()`). */
  countParams(): number {
    return this._weights.reduce((n, w) => n + w.variable.size, 0);
  }

  /** JSON that recreates the layer with `layerFromConfig`. */
  getConfig(): Record<string, unknown> {
    const c: Record<string, unknown> = { name: this.name, trainable: this.trainable };
    if (this.batchInputShape) c.batchInputShape = this.batchInputShape;
    return c;
  }

  /**
   * Sets the regularizer of the weight named `weightName` (short name, e.g. 'kernel'); its penalty
   * is part of `regularizationLoss` while the weight exists and is trainable.
   */
  protected setRegularizer(weightName: string, r: Regularizer | undefined): void {
    if (r) this._regularizers.set(weightName, r);
    else this._regularizers.delete(weightName);
  }

  /**
   * The sum of the regularizers' penalties of the trainable weights (Keras `sum(layer.losses)`), or
   * undefined when none is set. Recorded on the tape: call it inside `tidy` or a gradient function.
   */
  regularizationLoss(): Tensor | undefined {
    let total: Tensor | undefined;
    for (const w of this._weights) {
      const r = this._regularizers.get(w.name);
      if (!r || !(w.trainable && this.trainable)) continue;
      const p = r.apply(w.variable);
      total = total ? add(total, p) : p;
    }
    return total;
  }

  /** Frees the weights. */
  dispose(): void {
    for (const w of this._weights) w.variable.dispose();
    this._weights.length = 0;
    this.built = false;
  }
}

/** A placeholder in a functional graph: the output of `layer` applied to `inputs`. */
export class SymbolicTensor {
  constructor(
    /** The shape, batch dimension null. */
    readonly shape: SymShape,
    /** The layer whose output this is. */
    readonly layer: Layer,
    /** The layer's symbolic inputs. */
    readonly inputs: SymbolicTensor[],
  ) {}

  /** The number of dimensions, batch included. */
  get rank(): number {
    return this.shape.length;
  }

  /** `SymbolicTensor((None, 5), from 'dense')`. */
  toString(): string {
    return `SymbolicTensor(${fmtSym(this.shape)}, from '${this.layer.name}')`;
  }
}

/** Option checks shared by the layers: `who` names the layer, e.g. "Dense 'dense_1'". */
export function checkBool(v: unknown, what: string, who: string): void {
  if (v !== undefined && typeof v !== 'boolean')
    throw new ArgumentError(`${who}: ${what} must be a boolean, got ${JSON.stringify(v)}`);
}

/** A positive integer option or argument (sizes, counts, steps). */
export function checkPositiveInt(v: unknown, what: string, who: string): number {
  if (!Number.isInteger(v) || (v as number) < 1)
    throw new ArgumentError(`${who}: ${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

export function checkSeed(v: unknown, who: string): void {
  if (v !== undefined && !Number.isInteger(v))
    throw new ArgumentError(`${who}: seed must be an integer, got ${JSON.stringify(v)}`);
}

/** Checks that `inputs` is one tensor and returns it. */
export function single(layer: Layer, inputs: Tensor | Tensor[]): Tensor {
  if (Array.isArray(inputs)) {
    if (inputs.length !== 1) throw new ArgumentError(`${layer.name} expects one input, got ${inputs.length}`);
    return inputs[0];
  }
  return inputs;
}

/** Checks the non-batch dimensions of `x` against the shape the layer was built for. */
export function checkInputShape(layer: Layer, x: Tensor, built: SymShape | undefined): void {
  if (!built) return;
  const ok = x.rank === built.length && built.every((d, i) => i === 0 || d === null || d === x.shape[i]);
  if (!ok) {
    throw new ShapeError(
      `${layer.name} (${layer.className}) was built for inputs of shape ${fmtSym(built)}, got ${fmtShape(x.shape)}`,
    );
  }
}

/** Makes a layer from its config (what `registerLayer` registers for a class name). */
export type LayerFactory = (config: Record<string, unknown>) => Layer;
const registry = new Map<string, LayerFactory>();

/** Registers how to recreate a layer class from its `getConfig()` JSON. */
export function registerLayer(className: string, factory: LayerFactory): void {
  if (typeof className !== 'string' || className === '') {
    throw new ArgumentError(
      `registerLayer: className must be a non-empty string, got ${JSON.stringify(className)}`,
    );
  }
  if (typeof factory !== 'function')
    throw new ArgumentError(
      `registerLayer: factory for '${className}' must be a function, got ${typeof factory}`,
    );
  registry.set(className, factory);
}

/** Recreates a layer from `{ className, config }` as `getConfig()` and saved models give it (registered classes only). */
export function layerFromConfig(entry: { className: string; config: Record<string, unknown> }): Layer {
  if (
    entry === null ||
    typeof entry !== 'object' ||
    typeof entry.config !== 'object' ||
    entry.config === null
  ) {
    throw new ArgumentError(
      `layerFromConfig: expected { className, config } (a layer config object), got ${JSON.stringify(entry)}`,
    );
  }
  const factory = registry.get(entry.className);
  if (!factory)
    throw new ArgumentError(`layerFromConfig: unknown layer class '${entry.className}' in model config`);
  const { batchInputShape, ...rest } = entry.config as { batchInputShape?: SymShape };
  const cfg: Record<string, unknown> = { ...rest };
  if (batchInputShape) {
    cfg.inputShape = batchInputShape.slice(1);
    if (batchInputShape[0] !== null) cfg.batchSize = batchInputShape[0];
  }
  return factory(cfg);
}
