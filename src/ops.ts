// The public ops, one family per kernel file (see src/kernels).
import './tensor-methods.js';

export {
  gelu,
  hardSigmoid,
  hardSwish,
  mish,
  selu,
  silu,
  softsign,
} from './kernels/activations-ext.js';
export { dotProductAttention } from './kernels/attention.js';
export type { DotProductAttentionOptions } from './kernels/attention-args.js';
export {
  type AffineInterpolation,
  type AffineResampleOptions,
  affineResample,
  affineResampleGrad,
  type FillMode,
} from './kernels/augment.js';
export {
  type BatchNormTrainingResult,
  type BnActivation,
  batchNorm,
  batchNormTraining,
} from './kernels/batchnorm.js';
export {
  add,
  div,
  equal,
  floorDiv,
  greater,
  greaterEqual,
  less,
  lessEqual,
  logicalAnd,
  logicalNot,
  logicalOr,
  maximum,
  minimum,
  mod,
  mul,
  notEqual,
  type Operand,
  pow,
  squaredDifference,
  sub,
} from './kernels/binary.js';
export { cast } from './kernels/cast.js';
export { concat, stack, tile } from './kernels/concat.js';
export { conv2d, conv2dBackpropFilter, conv2dBackpropInput } from './kernels/conv.js';
export type { ConvOptions, Padding as ConvPadding, Strides } from './kernels/conv-args.js';
export { sigmoidCrossEntropyWithLogits, sparseSoftmaxCrossEntropy } from './kernels/crossentropy.js';
export {
  depthwiseConv2d,
  depthwiseConv2dBackpropFilter,
  depthwiseConv2dBackpropInput,
} from './kernels/depthwise.js';
export { gather, oneHot } from './kernels/gather.js';
export {
  type InvertedResidualOptions,
  type InvertedResidualWeights,
  invertedResidualBlock,
} from './kernels/inverted-residual.js';
export { type LayerNormOptions, layerNorm } from './kernels/layernorm.js';
export { type MatmulOptions, matmul } from './kernels/matmul.js';
export { pad } from './kernels/pad.js';
export { avgPool, globalAvgPool, maxPool, type PoolPadding, type PoolSize } from './kernels/pool.js';
export { all, any, argMax, argMin, logSumExp, max, mean, min, prod, sum } from './kernels/reduce.js';
export { expandDims, reshape, squeeze } from './kernels/reshape.js';
export { unsortedSegmentSum } from './kernels/scatter.js';
export { clipByValue, where } from './kernels/select.js';
export { slice, split, stridedSlice } from './kernels/slice.js';
export { logSoftmax, softmax } from './kernels/softmax.js';
export { transpose } from './kernels/transpose.js';
export {
  abs,
  ceil,
  cos,
  elu,
  exp,
  floor,
  leakyRelu,
  log,
  neg,
  reciprocal,
  relu,
  relu6,
  round,
  rsqrt,
  sigmoid,
  sign,
  sin,
  softplus,
  sqrt,
  square,
  step,
  tanh,
} from './kernels/unary.js';
export type { FusedActivation } from './tensor/op-table.js';
