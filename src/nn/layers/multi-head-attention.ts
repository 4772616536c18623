import { dotProductAttention } from '../../kernels/attention.js';
import { attentionArgs, type DotProductAttentionOptions } from '../../kernels/attention-args.js';
import { greaterEqual, logicalAnd, mul, notEqual } from '../../kernels/binary.js';
import { cast } from '../../kernels/cast.js';
import { matmul } from '../../kernels/matmul.js';
import { reshape } from '../../kernels/reshape.js';
import { where } from '../../kernels/select.js';
import { softmax } from '../../kernels/softmax.js';
import { transpose } from '../../kernels/transpose.js';
import { fill, nextSeedValue, randomUniform, tensor } from '../../tensor/creation.js';
import { ArgumentError, fmtShape, ShapeError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Variable } from '../../tensor/variable.js';
import type { InitializerName } from '../initializers.js';
import type { CallArgs, LayerArgs, SymShape } from '../layer.js';
import { checkBool, checkPositiveInt, fmtSym, Layer, registerLayer } from '../layer.js';
import { kernelBiasArgs, pickConfig } from './util.js';

export interface ComposedAttentionOptions extends DotProductAttentionOptions {
  /** Dropout rate on the attention probabilities (training). */
  dropout?: number;
  /** Seed of the dropout mask (default: the global seed sequence). */
  seed?: number;
}

/**
 * Attention composed of ops (Keras' own formulation): scores = q kᵀ · scale as a [batch, heads,
 * Tq, Tk] tensor, masked with -1e9, softmax, optional dropout, times v. Same layout and results as
 * `dotProductAttention`; it materialises the score and probability matrices (used for attention
 * dropout, and as the reference the fused kernel is measured against).
 */
export function composedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: ComposedAttentionOptions = {},
): Tensor {
  const { g, scale } = attentionArgs('composedAttention', q, k, v, opts);
  const { b, tq, tk, h } = g;
  const dr = opts.dropout ?? 0;
  if (typeof dr !== 'number' || !(dr >= 0 && dr < 1)) {
    throw new ArgumentError(
      `composedAttention: dropout must be in [0, 1), got ${JSON.stringify(opts.dropout)}`,
    );
  }
  const qt = transpose(q, [0, 2, 1, 3]);
  const kt = transpose(k, [0, 2, 1, 3]);
  const vt = transpose(v, [0, 2, 1, 3]);
  let s = mul(matmul(qt, kt, { transposeB: true }), scale);
  let keep: Tensor | undefined;
  if (opts.mask) keep = reshape(notEqual(opts.mask, 0), [opts.mask.shape[0], 1, tq, tk]);
  if (opts.causal) {
    const tri = new Uint8Array(tq * tk);
    for (let i = 0; i < tq; i++) for (let j = 0; j <= Math.min(i, tk - 1); j++) tri[i * tk + j] = 1;
    const c = tensor(tri, [1, 1, tq, tk], 'bool');
    keep = keep ? logicalAnd(keep, c) : c;
  }
  if (keep) s = where(keep, s, fill([1], -1e9));
  let pr = softmax(s, -1);
  if (dr > 0) {
    const u = randomUniform(pr.shape, 0, 1, { seed: opts.seed ?? nextSeedValue() });
    pr = mul(pr, mul(cast(greaterEqual(u, dr), 'float32'), 1 / (1 - dr)));
  }
  const out = transpose(matmul(pr, vt), [0, 2, 1, 3]);
  if (out.shape[0] !== b || out.shape[2] !== h)
    throw new ShapeError(`composedAttention: bad shapes ${fmtShape(out.shape)}`);
  return out;
}

export interface MultiHeadAttentionArgs extends LayerArgs {
  /** Number of attention heads. */
  numHeads: number;
  /** Size of each head of query and key. */
  keyDim: number;
  /** Size of each head of value (default keyDim). */
  valueDim?: number;
  /** Dropout on the attention probabilities in training (default 0; > 0 uses the composed path). */
  dropout?: number;
  /** Add biases to the projections (default true). */
  useBias?: boolean;
  /** Output size (default: the query's last dim). */
  outputShape?: number;
  /** Initializer of the projection kernels (default 'glorotUniform'). */
  kernelInitializer?: InitializerName;
  /** Initializer of the biases (default 'zeros'). */
  biasInitializer?: InitializerName;
  /** Seed of the initializers and dropout (default: unseeded). */
  seed?: number;
}

/**
 * Keras `MultiHeadAttention`: projects query, key and value to `numHeads` heads, runs scaled
 * dot-product attention per head with the fused kernel (`dotProductAttention`: no [T, T] matrix),
 * and projects the concatenated heads back. Call with `query`, `[query, value]` or
 * `[query, value, key]` (key defaults to value, value to query); `args.attentionMask`
 * ([batch, Tq, Tk]) and `args.useCausalMask` as Keras. Weights as Keras names them:
 * query/kernel [dim, heads, keyDim], query/bias [heads, keyDim], key/..., value/...,
 * attention_output/kernel [heads, valueDim, out], attention_output/bias [out].
 */
export class MultiHeadAttention extends Layer {
  /** Number of attention heads. */
  readonly numHeads: number;
  /** Size of each head of query and key. */
  readonly keyDim: number;
  /** Size of each head of value. */
  readonly valueDim: number;
  /** Dropout rate on the attention probabilities in training. */
  readonly dropout: number;
  /** Whether the projections have biases. */
  readonly useBias: boolean;
  /** Output size (`outputShape`; undefined: the query's last dim). */
  readonly outputDim?: number;
  /** Initializer of the projection kernels. */
  readonly kernelInitializer: InitializerName;
  /** Initializer of the biases. */
  readonly biasInitializer: InitializerName;
  private readonly seed?: number;
  private calls = 0;
  private w: Record<string, Variable | undefined> = {};

  constructor(args: MultiHeadAttentionArgs) {
    super(args);
    const who = `MultiHeadAttention '${this.name}'`;
    const int = (v: unknown, what: string) => checkPositiveInt(v, what, who);
    this.numHeads = int(args?.numHeads, 'numHeads');
    this.keyDim = int(args.keyDim, 'keyDim');
    this.valueDim = int(args.valueDim ?? args.keyDim, 'valueDim');
    if (args.outputShape !== undefined) this.outputDim = int(args.outputShape, 'outputShape');
    const dr = args.dropout ?? 0;
    if (typeof dr !== 'number' || !(dr >= 0 && dr < 1)) {
      throw new ArgumentError(`${who}: dropout must be in [0, 1), got ${JSON.stringify(args.dropout)}`);
    }
    this.dropout = dr;
    const kb = kernelBiasArgs(args, who);
    this.useBias = kb.useBias;
    this.kernelInitializer = kb.kernelInitializer;
    this.biasInitializer = kb.biasInitializer;
    this.seed = kb.seed;
  }

  override computeOutputShapeMulti(shapes: SymShape[]): SymShape {
    if (shapes.length < 1 || shapes.length > 3) {
      throw new ArgumentError(
        `${this.name} (MultiHeadAttention) expects query, [query, value] or [query, value, key], got ${shapes.length} inputs`,
      );
    }
    return this.computeOutputShape(shapes[0]);
  }

  override computeOutputShape(inputShape: SymShape): SymShape {
    return [...inputShape.slice(0, -1), this.outputDim ?? inputShape[inputShape.length - 1]];
  }

  /** Builds from the query's shape; key and value of another width build on first call. */
  override build(inputShape: SymShape): void {
    const dim = inputShape[inputShape.length - 1];
    if (inputShape.length !== 3 || dim === null) {
      throw new ShapeError(
        `MultiHeadAttention '${this.name}' needs a query [batch, T, dim] with a known dim, got ${fmtSym(inputShape)}`,
      );
    }
    this.buildProjections(dim, dim, dim);
    super.build(inputShape);
  }

  private buildProjections(qDim: number, vDim: number, kDim: number): void {
    const { numHeads: h, keyDim: dk, valueDim: dv } = this;
    const seed = (k: number) => (this.seed === undefined ? undefined : this.seed + k);
    const add = (name: string, shape: number[], init: InitializerName, k: number) => {
      this.w[name] = this.addWeight(name, shape, init, true, seed(k));
    };
    add('query/kernel', [qDim, h, dk], this.kernelInitializer, 0);
    if (this.useBias) add('query/bias', [h, dk], this.biasInitializer, 0);
    add('key/kernel', [kDim, h, dk], this.kernelInitializer, 1);
    if (this.useBias) add('key/bias', [h, dk], this.biasInitializer, 1);
    add('value/kernel', [vDim, h, dv], this.kernelInitializer, 2);
    if (this.useBias) add('value/bias', [h, dv], this.biasInitializer, 2);
    const out = this.outputDim ?? qDim;
    add('attention_output/kernel', [h, dv, out], this.kernelInitializer, 3);
    if (this.useBias) add('attention_output/bias', [out], this.biasInitializer, 3);
  }

  /** x [b, T, dim] -> [b, T, heads, size] through `name`/kernel and bias. */
  private project(x: Tensor, name: string, size: number): Tensor {
    const kern = this.w[`${name}/kernel`]!;
    if (x.shape[2] !== kern.shape[0]) {
      throw new ShapeError(
        `MultiHeadAttention '${this.name}': ${name} must have last dim ${kern.shape[0]} (the built size), got ${fmtShape(x.shape)}`,
      );
    }
    const bias = this.w[`${name}/bias`];
    const [b, t, dim] = x.shape;
    const y = matmul(reshape(x, [b * t, dim]), reshape(kern, [dim, this.numHeads * size]), {
      bias: bias ? reshape(bias, [this.numHeads * size]) : undefined,
    });
    return reshape(y, [b, t, this.numHeads, size]);
  }

  call(inputs: Tensor | Tensor[], args: CallArgs): Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length < 1 || list.length > 3) {
      throw new ArgumentError(
        `MultiHeadAttention '${this.name}': expects query, [query, value] or [query, value, key], got ${list.length} inputs`,
      );
    }
    const [query, value = query, key = value] = list;
    for (const [t, n] of [
      [query, 'query'],
      [value, 'value'],
      [key, 'key'],
    ] as const) {
      if (t.rank !== 3) {
        throw new ShapeError(
          `MultiHeadAttention '${this.name}': ${n} must be [batch, T, dim], got ${fmtShape(t.shape)}`,
        );
      }
    }
    if (
      key.shape[1] !== value.shape[1] ||
      key.shape[0] !== query.shape[0] ||
      value.shape[0] !== query.shape[0]
    ) {
      throw new ShapeError(
        `MultiHeadAttention '${this.name}': query ${fmtShape(query.shape)}, value ${fmtShape(value.shape)} and key ${fmtShape(key.shape)} must share the batch, and key and value the length`,
      );
    }
    checkBool(args.useCausalMask, 'useCausalMask', `MultiHeadAttention '${this.name}'`);
    const q = this.project(query, 'query', this.keyDim);
    const k = this.project(key, 'key', this.keyDim);
    const v = this.project(value, 'value', this.valueDim);
    const opts = {
      mask: args.attentionMask,
      causal: args.useCausalMask ?? false,
      scale: 1 / Math.sqrt(this.keyDim),
    };
    const dropout = args.training && this.dropout > 0;
    const seed = this.seed === undefined ? undefined : (this.seed + 7 + this.calls++ * 0x9e3779b9) >>> 0;
    const o = dropout
      ? composedAttention(q, k, v, { ...opts, dropout: this.dropout, seed })
      : dotProductAttention(q, k, v, opts);
    const [b, tq] = query.shape;
    const kern = this.w['attention_output/kernel']!;
    const bias = this.w['attention_output/bias'];
    const out = matmul(
      reshape(o, [b * tq, this.numHeads * this.valueDim]),
      reshape(kern, [this.numHeads * this.valueDim, kern.shape[2]]),
      { bias },
    );
    return reshape(out, [b, tq, kern.shape[2]]);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      ...pickConfig(this, ['numHeads', 'keyDim', 'valueDim', 'dropout', 'useBias']),
      ...(this.outputDim !== undefined ? { outputShape: this.outputDim } : {}),
      ...pickConfig(this, ['kernelInitializer', 'biasInitializer']),
    };
  }
}
registerLayer('MultiHeadAttention', (c) => new MultiHeadAttention(c as unknown as MultiHeadAttentionArgs));
