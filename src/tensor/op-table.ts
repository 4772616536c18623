import type { DType } from './dtype.js';
import type { Tensor } from './tensor.js';

/**
 * The op table: every op that records itself for autograd, by name, with the type of the attributes
 * it records (in the spirit of jax-js's primitives). `recordOp<K>` and the gradient table are typed
 * by it, so an op recorded without a gradient entry, or a rule reading an attribute the op does not
 * record, is a compile error, and no rule casts its attributes.
 *
 * Adding an op: add its entry here, record it with `recordOp('name', inputs, out, attrs)`, and give
 * it a rule or `'nondiff'` in the table in src/autograd/rules/index.ts.
 */

/** Attributes of an op that records none. */
export type NoAttrs = Record<string, never>;

/** The activations a matmul or convolution may apply in its epilogue. */
export type FusedActivation = 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'tanh';

/** Explicit [[top, bottom], [left, right]] pads of a 2-D window op. */
export type Pads2D = [[number, number], [number, number]];

/** What a forward convolution records. */
export interface ConvAttrs {
  strides: [number, number];
  padding: Pads2D;
  activation: FusedActivation;
}
/** What the two convolution gradients record (the shape they rebuild). */
export interface ConvInputGradAttrs {
  inputShape: number[];
  strides: [number, number];
  padding: Pads2D;
}
export interface ConvFilterGradAttrs {
  filterShape: number[];
  strides: [number, number];
  padding: Pads2D;
}
export interface PoolAttrs {
  poolSize: [number, number];
  strides: [number, number];
  padding: Pads2D;
}
export interface ReduceAttrs {
  axes: number[];
  keepDims: boolean;
}
type Axis = { axis: number };
type Reductions = { [K in ReduceName]: ReduceAttrs };

/** Ops with no attributes, by family. */
type Plain<Names extends string> = { [K in Names]: NoAttrs };

/** The elementwise binary, comparison and logical ops of src/kernels/binary.ts (and where). */
export type BinaryName =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'maximum'
  | 'minimum'
  | 'pow'
  | 'squaredDifference'
  | 'mod'
  | 'floorDiv'
  | 'where'
  | 'equal'
  | 'notEqual'
  | 'less'
  | 'lessEqual'
  | 'greater'
  | 'greaterEqual'
  | 'logicalAnd'
  | 'logicalOr'
  | 'logicalNot';

/** The unary elementwise ops of src/kernels/unary.ts that record no attributes. */
export type UnaryName =
  | 'neg'
  | 'abs'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'square'
  | 'reciprocal'
  | 'relu'
  | 'relu6'
  | 'sigmoid'
  | 'tanh'
  | 'sign'
  | 'floor'
  | 'ceil'
  | 'round'
  | 'sin'
  | 'cos'
  | 'softplus'
  | 'elu';

/** The activations of src/kernels/activations-ext.ts ('activation' records which one). */
export type ExtActivation =
  | 'gelu'
  | 'geluTanh'
  | 'silu'
  | 'selu'
  | 'softsign'
  | 'hardSigmoid'
  | 'hardSwish'
  | 'mish';

/** The reductions of src/kernels/reduce.ts that record their axes. */
export type ReduceName = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'logSumExp' | 'any' | 'all';

/**
 * Op name -> recorded attributes. An interface, so code outside the library may add ops by
 * declaration merging (`declare module 'wgsl-nn' { interface OpAttrs { myOp: {...} } }`).
 */
export interface OpAttrs
  extends Plain<BinaryName>,
    Plain<UnaryName>,
    Plain<'globalAvgPool' | 'sparseSoftmaxCrossEntropy' | 'sparseSoftmaxCrossEntropyGrad'>,
    Reductions {
  leakyRelu: { alpha: number };
  sigmoidCrossEntropy: { labelSmoothing: number };
  sigmoidCrossEntropyGrad: { labelSmoothing: number };
  activation: { kind: ExtActivation };
  activationGrad: { kind: ExtActivation };
  layerNorm: { epsilon: number; normRank: number; hasGamma: boolean; hasBeta: boolean };
  layerNormGrad: NoAttrs;
  layerNormParamGrad: NoAttrs;
  /** The softmax rows' max and 1/sum (lse) and the (bool) mask travel with the record for the backward. */
  dotProductAttention: { scale: number; causal: boolean; mask: Tensor | null; lse: Tensor };
  dotProductAttentionGrad: NoAttrs;
  step: { alpha: number };
  reluGrad: { act: 'relu' | 'relu6' };
  cast: { dtype: DType };
  clipByValue: { min: number; max: number };
  matmul: { transposeA: boolean; transposeB: boolean; activation: FusedActivation };
  conv2d: ConvAttrs;
  conv2dBackpropInput: ConvInputGradAttrs;
  conv2dBackpropFilter: ConvFilterGradAttrs;
  depthwiseConv2d: ConvAttrs;
  depthwiseConv2dBackpropInput: ConvInputGradAttrs;
  depthwiseConv2dBackpropFilter: ConvFilterGradAttrs;
  pad: { paddings: Array<[number, number]>; constantValue: number };
  maxPool: PoolAttrs;
  avgPool: PoolAttrs;
  maxPoolGrad: PoolAttrs;
  avgPoolGrad: PoolAttrs & { inputShape: number[] };
  batchNorm: { epsilon: number; hasOffset: boolean; hasScale: boolean };
  /** Training mode: the batch statistics travel with the record for the gradient rule. */
  batchNormTraining: {
    epsilon: number;
    mean: Tensor;
    variance: Tensor;
    hasGamma: boolean;
    hasBeta: boolean;
    activation: 'linear' | 'relu' | 'relu6';
  };
  batchNormGrad: { epsilon: number; dgamma: Tensor; dbeta: Tensor; hasGamma: boolean };
  argMax: Axis;
  argMin: Axis;
  softmax: Axis;
  logSoftmax: Axis;
  reshape: { shape: number[] };
  transpose: { perm: number[] };
  slice: { begin: number[]; size: number[] };
  stridedSlice: { begin: number[]; size: number[]; strides: number[] };
  stridedSliceGrad: { shape: number[]; begin: number[]; size: number[]; strides: number[] };
  concat: Axis;
  stack: Axis;
  tile: { reps: number[] };
  gather: { axis: number; batchDims: number };
  oneHot: { depth: number; onValue: number; offValue: number };
  unsortedSegmentSum: { numSegments: number };
  resizeBilinear: { size: [number, number]; cropToAspectRatio: boolean; padToAspectRatio: boolean };
  affineResample: {
    interpolation: 'bilinear' | 'nearest';
    fillMode: 'reflect' | 'wrap' | 'constant' | 'nearest';
  };
  affineResampleGrad: {
    interpolation: 'bilinear' | 'nearest';
    fillMode: 'reflect' | 'wrap' | 'constant' | 'nearest';
    outputSize: [number, number];
  };
}

/** Every op name of the table. */
export type OpName = keyof OpAttrs;

/** One recorded op: its name, inputs, output and the attributes its table entry names. */
export interface OpRecord<K extends OpName = OpName> {
  op: K;
  inputs: readonly Tensor[];
  output: Tensor;
  attrs: Readonly<OpAttrs[K]>;
}

/** A record of any op, narrowed by `op` (a discriminated union over the table). */
export type AnyOpRecord = { [K in OpName]: OpRecord<K> }[OpName];
