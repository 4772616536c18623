import { add, notEqual } from '../../kernels/binary.js';
import { cast } from '../../kernels/cast.js';
import { tile } from '../../kernels/concat.js';
import { gather } from '../../kernels/gather.js';
import { reshape } from '../../kernels/reshape.js';
import { slice } from '../../kernels/slice.js';
import { DTypeError, fmtShape, ShapeError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Variable } from '../../tensor/variable.js';
import { assertInitializer, type InitializerName } from '../initializers.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import { checkBool, checkPositiveInt, checkSeed, fmtSym, Layer, registerLayer, single } from '../layer.js';
import {
  getRegularizer,
  type Regularizer,
  type RegularizerSpec,
  regularizerConfigs,
} from '../regularizers.js';
import { pickConfig } from './util.js';

/** Token ids as int32 (float ids are truncated, as Keras casts them). */
function ids(layer: Layer, x: Tensor): Tensor {
  if (x.dtype === 'int32') return x;
  if (x.dtype === 'float32') return cast(x, 'int32');
  throw new DTypeError(
    `${layer.className} '${layer.name}': inputs must be int32 or float32 token ids, got ${x.dtype}`,
  );
}

export interface EmbeddingArgs extends LayerArgs {
  /** Vocabulary size: ids are in [0, inputDim). */
  inputDim: number;
  /** Size of each embedding vector. */
  outputDim: number;
  /** Default 'randomUniform' ([-0.05, 0.05), as Keras). */
  embeddingsInitializer?: InitializerName;
  /** Id 0 is padding: `computeMask` returns where ids != 0 (Keras `mask_zero`). */
  maskZero?: boolean;
  /** Seed of the random initializer (default: unseeded). */
  seed?: number;
  /** Penalty of the table added to the loss (default none). */
  embeddingsRegularizer?: RegularizerSpec;
}

/**
 * Keras `Embedding`: maps int ids of any shape to rows of an [inputDim, outputDim] table (a
 * gather; its gradient is a segment sum into the table). Ids outside [0, inputDim) give zeros.
 */
export class Embedding extends Layer {
  /** Vocabulary size: ids are in [0, inputDim). */
  readonly inputDim: number;
  /** Size of each embedding vector. */
  readonly outputDim: number;
  /** Initializer of the embedding table. */
  readonly embeddingsInitializer: InitializerName;
  /** Whether id 0 is padding and masked. */
  readonly maskZero: boolean;
  private readonly seed?: number;
  /** The table's regularizer, if any. */
  readonly embeddingsRegularizer?: Regularizer;
  /** The embedding table [inputDim, outputDim], created by `build`. */
  embeddings?: Variable;

  constructor(args: EmbeddingArgs) {
    super(args);
    const who = `Embedding '${this.name}'`;
    this.inputDim = checkPositiveInt(args?.inputDim, 'inputDim', who);
    this.outputDim = checkPositiveInt(args.outputDim, 'outputDim', who);
    this.embeddingsInitializer = args.embeddingsInitializer ?? 'randomUniform';
    assertInitializer(this.embeddingsInitializer, `${who}: embeddingsInitializer`);
    checkBool(args.maskZero, 'maskZero', who);
    checkSeed(args.seed, who);
    this.maskZero = args.maskZero ?? false;
    this.seed = args.seed;
    this.embeddingsRegularizer = getRegularizer(args.embeddingsRegularizer, `${who}: embeddingsRegularizer`);
    this.setRegularizer('embeddings', this.embeddingsRegularizer);
  }

  override build(inputShape: SymShape): void {
    this.embeddings = this.addWeight(
      'embeddings',
      [this.inputDim, this.outputDim],
      this.embeddingsInitializer,
      true,
      this.seed,
    );
    super.build(inputShape);
  }

  override computeOutputShape(inputShape: SymShape): SymShape {
    return [...inputShape, this.outputDim];
  }

  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    return gather(this.embeddings!, ids(this, single(this, inputs)), 0);
  }

  /** With `maskZero`: a bool tensor of the ids' shape, true where the id is not 0; else undefined. */
  computeMask(inputs: Tensor): Tensor | undefined {
    if (!this.maskZero) return undefined;
    return notEqual(ids(this, inputs), 0);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      ...pickConfig(this, ['inputDim', 'outputDim', 'embeddingsInitializer', 'maskZero']),
      ...regularizerConfigs({ embeddingsRegularizer: this.embeddingsRegularizer }),
    };
  }
}
registerLayer('Embedding', (c) => new Embedding(c as unknown as EmbeddingArgs));

export interface PositionEmbeddingArgs extends LayerArgs {
  /** The longest sequence: positions are in [0, sequenceLength). */
  sequenceLength: number;
  /** Default 'glorotUniform' (as keras_hub). */
  initializer?: InitializerName;
  /** Seed of the random initializer (default: unseeded). */
  seed?: number;
}

/**
 * Learned positional embeddings (keras_hub `PositionEmbedding`): for inputs [batch, T, dim],
 * returns the embeddings of positions 0..T-1 broadcast to the inputs' shape (add them to the
 * inputs). The table is [sequenceLength, dim].
 */
export class PositionEmbedding extends Layer {
  /** The longest sequence: positions are in [0, sequenceLength). */
  readonly sequenceLength: number;
  /** Initializer of the position table. */
  readonly initializer: InitializerName;
  private readonly seed?: number;
  /** The position table [sequenceLength, dim], created by `build`. */
  embeddings?: Variable;

  constructor(args: PositionEmbeddingArgs) {
    super(args);
    const who = `PositionEmbedding '${this.name}'`;
    this.sequenceLength = checkPositiveInt(args?.sequenceLength, 'sequenceLength', who);
    this.initializer = args.initializer ?? 'glorotUniform';
    assertInitializer(this.initializer, `${who}: initializer`);
    checkSeed(args.seed, who);
    this.seed = args.seed;
  }

  override build(inputShape: SymShape): void {
    const dim = inputShape[inputShape.length - 1];
    if (inputShape.length < 3 || dim === null) {
      throw new ShapeError(
        `PositionEmbedding '${this.name}' needs inputs [batch, sequence, dim] with a known dim, got ${fmtSym(inputShape)}`,
      );
    }
    this.embeddings = this.addWeight(
      'embeddings',
      [this.sequenceLength, dim],
      this.initializer,
      true,
      this.seed,
    );
    super.build(inputShape);
  }

  /** The [T, dim] embeddings of positions start..start+T-1. */
  positions(t: number, start = 0): Tensor {
    if (!Number.isInteger(start) || start < 0 || start + t > this.sequenceLength) {
      throw new ShapeError(
        `PositionEmbedding '${this.name}': positions ${start}..${start + t - 1} exceed sequenceLength ${this.sequenceLength}`,
      );
    }
    return slice(this.embeddings!, [start, 0], [t, this.embeddings!.shape[1]]);
  }

  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    if (x.rank < 3) {
      throw new ShapeError(
        `PositionEmbedding '${this.name}' needs inputs [batch, sequence, dim], got ${fmtShape(x.shape)}`,
      );
    }
    const t = x.shape[x.rank - 2];
    const p = this.positions(t);
    const lead = x.shape.slice(0, -2);
    return tile(reshape(p, [...lead.map(() => 1), t, p.shape[1]]), [...lead, 1, 1]);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), sequenceLength: this.sequenceLength, initializer: this.initializer };
  }
}
registerLayer('PositionEmbedding', (c) => new PositionEmbedding(c as unknown as PositionEmbeddingArgs));

export interface TokenAndPositionEmbeddingArgs extends LayerArgs {
  /** Vocabulary size: token ids are in [0, vocabularySize). */
  vocabularySize: number;
  /** The longest sequence: positions are in [0, sequenceLength). */
  sequenceLength: number;
  /** Size of each token and position embedding. */
  embeddingDim: number;
  /** Id 0 is padding: `computeMask` returns where ids != 0 (default false). */
  maskZero?: boolean;
  /** Of the token table (default 'randomUniform', as keras_hub); the position table is glorotUniform. */
  embeddingsInitializer?: InitializerName;
  /** Seed of the random initializers (default: unseeded). */
  seed?: number;
}

/**
 * keras_hub `TokenAndPositionEmbedding`: token embeddings of int ids [batch, T] plus learned
 * position embeddings, [batch, T, embeddingDim] (the position rows are broadcast, not copied).
 */
export class TokenAndPositionEmbedding extends Layer {
  /** The token embedding (named `<name>/token_embedding`). */
  readonly tokens: Embedding;
  /** The position embedding (named `<name>/position_embedding`). */
  readonly positionsLayer: PositionEmbedding;
  /** Vocabulary size: token ids are in [0, vocabularySize). */
  readonly vocabularySize: number;
  /** The longest sequence. */
  readonly sequenceLength: number;
  /** Size of each embedding vector. */
  readonly embeddingDim: number;

  constructor(args: TokenAndPositionEmbeddingArgs) {
    super(args);
    const who = `TokenAndPositionEmbedding '${this.name}'`;
    this.vocabularySize = checkPositiveInt(args?.vocabularySize, 'vocabularySize', who);
    this.sequenceLength = checkPositiveInt(args.sequenceLength, 'sequenceLength', who);
    this.embeddingDim = checkPositiveInt(args.embeddingDim, 'embeddingDim', who);
    checkSeed(args.seed, who);
    this.tokens = new Embedding({
      name: `${this.name}/token_embedding`,
      inputDim: this.vocabularySize,
      outputDim: this.embeddingDim,
      maskZero: args.maskZero,
      embeddingsInitializer: args.embeddingsInitializer,
      seed: args.seed,
    });
    this.positionsLayer = new PositionEmbedding({
      name: `${this.name}/position_embedding`,
      sequenceLength: this.sequenceLength,
      seed: args.seed === undefined ? undefined : args.seed + 1,
    });
  }

  override build(inputShape: SymShape): void {
    if (inputShape.length !== 2) {
      throw new ShapeError(
        `TokenAndPositionEmbedding '${this.name}' needs ids [batch, sequence], got ${fmtSym(inputShape)}`,
      );
    }
    this.tokens.build(inputShape);
    this.positionsLayer.build([...inputShape, this.embeddingDim]);
    for (const l of [this.tokens, this.positionsLayer]) this._weights.push(...l.weightEntries);
    super.build(inputShape);
  }

  override computeOutputShape(inputShape: SymShape): SymShape {
    return [...inputShape, this.embeddingDim];
  }

  call(inputs: Tensor | Tensor[], _args: CallArgs): Tensor {
    const x = single(this, inputs);
    if (x.rank !== 2) {
      throw new ShapeError(
        `TokenAndPositionEmbedding '${this.name}' needs ids [batch, sequence], got ${fmtShape(x.shape)}`,
      );
    }
    const tok = this.tokens.call(x, {});
    return add(tok, this.positionsLayer.positions(x.shape[1]));
  }

  /** With `maskZero`: a bool tensor of the ids' shape, true where the id is not 0; else undefined. */
  computeMask(inputs: Tensor): Tensor | undefined {
    return this.tokens.computeMask(inputs);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      ...pickConfig(this, ['vocabularySize', 'sequenceLength', 'embeddingDim']),
      ...pickConfig(this.tokens, ['maskZero', 'embeddingsInitializer']),
    };
  }
}
registerLayer(
  'TokenAndPositionEmbedding',
  (c) => new TokenAndPositionEmbedding(c as unknown as TokenAndPositionEmbeddingArgs),
);
