import { ArgumentError, ShapeError } from '../tensor/errors.js';
import type { OptionKeys } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  type CallArgs,
  checkInputShape,
  fmtSym,
  LAYER_KEYS,
  Layer,
  type LayerArgs,
  layerFromConfig,
  registerLayer,
  type SymShape,
  single,
} from './layer.js';
import { applyLayers } from './layers/affine-chain.js';
import { Model } from './model.js';

export interface SequentialArgs extends LayerArgs {
  /** The layers, in order (more can be added with `add`). */
  layers?: Layer[];
}

/** A linear stack of layers (Keras `Sequential`); builds as soon as the input shape is known. */
export class Sequential extends Model {
  static override readonly optionKeys: OptionKeys<SequentialArgs> = { ...LAYER_KEYS, layers: true };
  private readonly stack: Layer[] = [];

  constructor(layersOrArgs: Layer[] | SequentialArgs = {}) {
    const args: SequentialArgs = Array.isArray(layersOrArgs) ? { layers: layersOrArgs } : layersOrArgs;
    super(args);
    for (const l of args.layers ?? []) this.add(l);
  }

  get layers(): Layer[] {
    return this.stack;
  }

  get inputShape(): SymShape | undefined {
    return (
      this.inputShapeBuilt ??
      this.batchInputShape ??
      this.stack[0]?.batchInputShape ??
      this.stack[0]?.inputShapeBuilt
    );
  }

  get outputShape(): SymShape | undefined {
    return this.stack[this.stack.length - 1]?.outputShapeBuilt;
  }

  /** Appends a layer (Keras `model.add`). */
  add(layer: Layer): void {
    if (!(layer instanceof Layer))
      throw new ArgumentError(`Sequential.add: expected a Layer, got ${typeof layer}`);
    if (this.stack.includes(layer))
      throw new ArgumentError(`Sequential.add: layer '${layer.name}' is already in the model`);
    if (this.stack.some((l) => l.name === layer.name)) {
      throw new ArgumentError(
        `Sequential.add: a layer named '${layer.name}' is already in the model; layer names must be unique`,
      );
    }
    this.stack.push(layer);
    this.built = false;
    const shape = this.inputShape;
    if (shape) this.build(shape);
  }

  override build(inputShape: SymShape): void {
    let shape = inputShape;
    for (const l of this.stack) {
      if (!l.built) l.build(shape);
      else if (l.inputShapeBuilt && !sameSym(l.inputShapeBuilt, shape)) {
        throw new ShapeError(
          `Sequential '${this.name}': layer '${l.name}' was built for ${fmtSym(l.inputShapeBuilt)} but receives ${fmtSym(shape)}`,
        );
      }
      shape = l.outputShapeBuilt ?? l.computeOutputShape(shape);
    }
    this.inputShapeBuilt = inputShape;
    this.outputShapeBuilt = shape;
    this.built = true;
  }

  override computeOutputShape(inputShape: SymShape): SymShape {
    return this.stack.reduce((s, l) => l.computeOutputShape(s), inputShape);
  }

  call(inputs: Tensor | Tensor[], args: CallArgs): Tensor {
    const x = single(this, inputs);
    checkInputShape(this, x, this.inputShapeBuilt);
    // Consecutive geometric augmentations run as one resample (layers/affine-chain.ts).
    return applyLayers(this.stack, x, args);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      layers: this.stack.map((l) => ({ className: l.className, config: l.getConfig() })),
    };
  }

  /** Recreates a Sequential from its `getConfig()` (the layers' weights are new). */
  static fromConfig(config: Record<string, unknown>): Sequential {
    const entries = config.layers as
      | Array<{ className: string; config: Record<string, unknown> }>
      | undefined;
    if (!Array.isArray(entries))
      throw new ArgumentError('Sequential.fromConfig: config.layers must be an array');
    const { batchInputShape } = config as { batchInputShape?: SymShape };
    return new Sequential({
      name: config.name as string | undefined,
      inputShape: batchInputShape ? (batchInputShape.slice(1) as number[]) : undefined,
      layers: entries.map((e) => layerFromConfig(e)),
    });
  }
}
registerLayer('Sequential', (c) => Sequential.fromConfig(c));

function sameSym(a: SymShape, b: SymShape): boolean {
  return a.length === b.length && a.every((d, i) => i === 0 || d === null || b[i] === null || d === b[i]);
}
