import type { Activation } from '../kernels/activation.js';
import type { BnActivation } from '../kernels/batchnorm.js';
import { add, mul, sub } from '../kernels/binary.js';
import { type ConvOptions, conv2d, conv2dFoldedBn, type Padding } from '../kernels/conv.js';
import { depthwiseConv2d, depthwiseConv2dFoldedBn } from '../kernels/depthwise.js';
import { type FoldedConv, foldBatchNorm } from '../kernels/fold.js';
import { reshape } from '../kernels/reshape.js';
import { rsqrt } from '../kernels/unary.js';
import { ArgumentError } from '../tensor/errors.js';
import { freeable, needsGradient } from '../tensor/record.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CallArgs, SymbolicTensor } from './layer.js';
import { ReLU } from './layers/basic.js';
import { Conv2D, DepthwiseConv2D } from './layers/conv.js';
import { BatchNormalization } from './layers/normalization.js';
import { Add, ZeroPadding2D } from './layers/shape.js';

/**
 * Graph fusion for functional models, as TensorFlow's grappler does for frozen graphs: a chain
 * [ZeroPadding2D] -> Conv2D | DepthwiseConv2D -> [BatchNormalization] -> [ReLU] becomes one conv
 * dispatch. The padding becomes the conv's explicit padding; a batch norm that runs in inference
 * mode (moving statistics: `training` false or the layer frozen) is folded into the filter and
 * bias (w * gamma / sqrt(var + eps), beta - mean * gamma / sqrt(var + eps)); ReLU / ReLU6 is the
 * conv's fused epilogue. That saves two or three full passes over each activation. The folding
 * uses differentiable ops, so gradients reach the conv and batch-norm weights as before.
 * Intermediate results are skipped only when nothing else reads them.
 *
 * In inference with nothing to differentiate, the conv kernels that load each filter quad once
 * per lane fold the batch norm themselves (bn-inline.ts: no fold dispatch), and a two-input Add
 * that alone reads a chain's output (a residual connection) runs with the chain: those kernels
 * add the other input in their epilogue (the pointwise ones), else the Add layer runs after it.
 */
export interface FusedChain {
  /** The nodes the chain replaces, in order; the last one's value is the chain's output. */
  nodes: SymbolicTensor[];
  pad?: ZeroPadding2D;
  conv: Conv2D | DepthwiseConv2D;
  bn?: BatchNormalization;
  activation: Activation;
  /**
   * The two-input Add that alone reads the chain's output, and its other input: run with the
   * chain when that input's value exists (`runChain`'s residual; the add then goes into the conv
   * kernel's epilogue where one takes it).
   */
  add?: { node: SymbolicTensor; other: SymbolicTensor };
}

/**
 * Folded batch norms shared by the micro-batches of one inference call (see Functional.apply): the
 * weights cannot change between the slices, so each chain's fold runs once. The caller disposes
 * the cached tensors (they are kept out of `tidy`).
 */
export type FoldCache = Map<FusedChain, FoldedConv>;

let enabled = true;

/** Turns graph fusion on or off (on by default); for tests and benchmarks that compare both. */
export function setGraphFusion(on: boolean): void {
  if (typeof on !== 'boolean')
    throw new ArgumentError(`setGraphFusion: on must be a boolean, got ${JSON.stringify(on)}`);
  enabled = on;
}

function reluActivation(l: ReLU): Activation | undefined {
  if (l.maxValue === undefined) return 'relu';
  return l.maxValue === 6 ? 'relu6' : undefined;
}

/** Chains keyed by their first node. `outputs` are never skipped. */
export function findChains(
  nodes: readonly SymbolicTensor[],
  outputs: readonly SymbolicTensor[],
): Map<SymbolicTensor, FusedChain> {
  const consumers = new Map<SymbolicTensor, SymbolicTensor[]>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  // The single node reading `n`, when `n` is only an intermediate value.
  const onlyNext = (n: SymbolicTensor): SymbolicTensor | undefined => {
    const c = consumers.get(n);
    return c?.length === 1 && !outputs.includes(n) && c[0].inputs.length === 1 ? c[0] : undefined;
  };
  const chains = new Map<SymbolicTensor, FusedChain>();
  const covered = new Set<SymbolicTensor>();
  for (const n of nodes) {
    if (covered.has(n)) continue;
    let convNode: SymbolicTensor | undefined = n;
    let pad: ZeroPadding2D | undefined;
    if (n.layer instanceof ZeroPadding2D) {
      convNode = onlyNext(n);
      const l = convNode?.layer;
      if (!(l instanceof Conv2D || l instanceof DepthwiseConv2D) || l.padding !== 'valid') continue;
      pad = n.layer;
    }
    const conv = convNode!.layer;
    // Dilated convolutions are composed (layers/conv-ops.ts): not fused.
    if (
      !(conv instanceof Conv2D || conv instanceof DepthwiseConv2D) ||
      conv.activation === 'softmax' ||
      conv.dilationRate.some((d) => d !== 1)
    )
      continue;
    const chain: FusedChain = {
      nodes: pad ? [n, convNode!] : [n],
      pad,
      conv,
      activation: conv.activation as Activation,
    };
    let last = convNode!;
    if (conv.activation === 'linear') {
      const bnNode = onlyNext(last);
      if (bnNode?.layer instanceof BatchNormalization) {
        chain.bn = bnNode.layer;
        chain.nodes.push(bnNode);
        last = bnNode;
      }
      const reluNode = onlyNext(last);
      const act = reluNode?.layer instanceof ReLU ? reluActivation(reluNode.layer) : undefined;
      if (reluNode && act) {
        chain.activation = act;
        chain.nodes.push(reluNode);
      }
    }
    if (chain.nodes.length < 2) continue;
    const tail = chain.nodes[chain.nodes.length - 1];
    const readers = consumers.get(tail);
    const sum = readers?.length === 1 && !outputs.includes(tail) ? readers[0] : undefined;
    if (sum?.layer instanceof Add && sum.inputs.length === 2 && sum.inputs[0] !== sum.inputs[1])
      chain.add = { node: sum, other: sum.inputs[0] === tail ? sum.inputs[1] : sum.inputs[0] };
    chains.set(n, chain);
    for (const c of chain.nodes) covered.add(c);
  }
  return chains;
}

/** True unless `setGraphFusion(false)`. */
export function graphFusionOn(): boolean {
  return enabled;
}

/**
 * The chain's conv filter and bias with its inference batch norm folded in by the one-dispatch
 * fold (from `folds` when cached there; stored there when given), or undefined when the chain has
 * no batch norm or a tape needs gradients of its weights. Without `folds` the caller owns the result.
 */
export function foldChain(chain: FusedChain, folds?: FoldCache): FoldedConv | undefined {
  const { conv, bn } = chain;
  const cached = folds?.get(chain);
  if (cached) return cached;
  if (!bn || needsGradient(conv.kernel, conv.bias, bn.gamma, bn.beta, bn.movingMean, bn.movingVariance))
    return undefined;
  const folded = foldBatchNorm({
    filter: conv.kernel!,
    bias: conv.bias,
    mean: bn.movingMean!,
    variance: bn.movingVariance!,
    gamma: bn.gamma,
    beta: bn.beta,
    epsilon: bn.epsilon,
  });
  if (folded && folds) folds.set(chain, { filter: keep(folded.filter), bias: keep(folded.bias) });
  return folded;
}

/** The chain's padding: its ZeroPadding2D layer's, else the conv's own. */
function chainPadding(chain: FusedChain): Padding {
  return chain.pad ? chain.pad.padding : chain.conv.padding;
}

/**
 * The chain's conv with its inference batch norm folded in by the conv kernel itself (no fold
 * dispatch; bn-inline.ts), where one of those kernels takes the conv and nothing needs gradients;
 * otherwise undefined (nothing ran).
 */
function inlineFold(chain: FusedChain, x: Tensor, residual?: Tensor): Tensor | undefined {
  const { conv, bn, activation } = chain;
  const padding = chainPadding(chain);
  if (residual && (conv instanceof DepthwiseConv2D || needsGradient(residual))) return undefined;
  if (!bn?.movingMean || !bn.movingVariance) return undefined;
  if (needsGradient(x, conv.kernel, conv.bias, bn.gamma, bn.beta, bn.movingMean, bn.movingVariance))
    return undefined;
  const opts = { bias: conv.bias, activation };
  const norm = {
    mean: bn.movingMean,
    variance: bn.movingVariance,
    gamma: bn.gamma,
    beta: bn.beta,
    epsilon: bn.epsilon,
  };
  return conv instanceof DepthwiseConv2D
    ? depthwiseConv2dFoldedBn(x, conv.kernel!, conv.strides, padding, opts, norm)
    : conv2dFoldedBn(x, conv.kernel!, conv.strides, padding, opts, norm, residual);
}

/**
 * Runs `chain` on `x`, or returns undefined when fusion is off. With `residual` (the value of
 * `chain.add.other`) the result is the Add's: the conv kernel adds it in its epilogue where one
 * takes it with the batch norm (bn-inline.ts: the pointwise weight-stationary kernels, in
 * inference), otherwise the Add layer runs on the chain's output. A batch norm in training mode
 * needs the batch statistics of the conv's output, so there the chain runs as two passes: the conv
 * (with the padding), then the batch norm with the activation applied in its normalising pass.
 */
export function runChain(
  chain: FusedChain,
  x: Tensor,
  args: CallArgs,
  folds?: FoldCache,
  residual?: Tensor,
): Tensor | undefined {
  if (!enabled) return undefined;
  const { bn, add } = chain;
  if (residual && add && bn && !(args.training && bn.trainable)) {
    const summed = inlineFold(chain, x, residual);
    if (summed) return summed;
  }
  const y = runConvChain(chain, x, args, folds);
  if (!residual || !add) return y;
  const sum = add.node.layer.apply(
    add.node.inputs.map((u) => (u === add.other ? residual : y)),
    args,
  ) as Tensor;
  if (freeable(y)) y.dispose();
  return sum;
}

/** The chain alone (see runChain). */
function runConvChain(chain: FusedChain, x: Tensor, args: CallArgs, folds?: FoldCache): Tensor {
  const { conv, bn, activation } = chain;
  // The conv, with the chain's padding as its own.
  const padding = chainPadding(chain);
  const runConv = (filter: Tensor, opts: ConvOptions) =>
    conv instanceof DepthwiseConv2D
      ? depthwiseConv2d(x, filter, conv.strides, padding, opts)
      : conv2d(x, filter, conv.strides, padding, opts);
  if (bn && args.training && bn.trainable) {
    // Training-mode batch norm needs the conv's output for its batch statistics: the padding still
    // goes into the conv, and ReLU / ReLU6 into the batch norm's normalising pass.
    const z = runConv(conv.kernel!, { bias: conv.bias });
    // With a batch norm the conv is linear, so the chain's activation is linear, relu or relu6.
    const y = bn.trainingForward(z, activation as BnActivation);
    if (freeable(z)) z.dispose();
    return y;
  }
  const inline = bn && inlineFold(chain, x);
  if (inline) return inline;
  let filter: Tensor = conv.kernel!;
  let bias: Tensor | undefined = conv.bias;
  const folded = foldChain(chain, folds);
  if (folded) {
    filter = folded.filter;
    bias = folded.bias;
  } else if (bn) {
    let scale = rsqrt(add(bn.movingVariance!, bn.epsilon));
    if (bn.gamma) scale = mul(scale, bn.gamma);
    // Conv2D kernels are [kh, kw, cin, cout]; depthwise ones [kh, kw, cin, multiplier].
    filter = mul(filter, conv instanceof DepthwiseConv2D ? reshape(scale, filter.shape.slice(2)) : scale);
    let shift = mul(bias ? sub(bias, bn.movingMean!) : mul(bn.movingMean!, -1), scale);
    if (bn.beta) shift = add(shift, bn.beta);
    bias = shift;
  }
  const y = runConv(filter, { bias, activation });
  // The folded weights are needed again only by a tape (x's gradient through this conv).
  if (folded && !folds) for (const t of [folded.filter, folded.bias]) if (freeable(t)) t.dispose();
  return y;
}
