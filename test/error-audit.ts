/**
 * Every runtime export of src/node.ts and where its error paths are tested. test/errors-ops.test.ts
 * fails when an export is missing here, and each errors-*.test.ts checks that the names assigned
 * to it have at least one bad call, so a new public function cannot ship without error-path tests.
 */

import { augmentExports } from './error-audit-augment.js';
import { metricsExports } from './error-audit-metrics.js';
import { optimExports } from './error-audit-optim.js';
import { trainingExports } from './error-audit-training.js';

/**
 * The test files that hold the bad calls ('errors-nn': test/errors-nn-layers.test.ts and
 * test/errors-nn-training.test.ts, whose audit covers both).
 */
export type Owner =
  | 'errors-ops'
  | 'errors-nn'
  | 'errors-data'
  | 'errors-graph'
  | 'errors-modern'
  | 'errors-augment'
  | 'errors-optim'
  | 'errors-metrics'
  | 'errors-training';

/** Exports with nothing to validate, and why. */
export const NOT_VALIDATED: Readonly<Record<string, string>> = {
  // Error classes: the constructor takes the message.
  ArgumentError: 'error class',
  DeviceError: 'error class',
  DisposedTensorError: 'error class',
  DTypeError: 'error class',
  ImageDecodeError: 'error class',
  ShapeError: 'error class',
  WeightsFormatError: 'error class',
  ModelFormatError: 'error class',
  WgslNnError: 'error class',
  // No arguments.
  closeDefaultDecodePool: 'no arguments',
  defaultDecodePool: 'no arguments',
  destroyDevice: 'no arguments',
  deviceInfo: 'no arguments',
  drainPool: 'no arguments',
  flush: 'no arguments',
  getDevice: 'no arguments',
  History: 'no arguments',
  memory: 'no arguments',
  resetPeakBytes: 'no arguments',
  registeredGradients: 'no arguments',
  tuneCacheDir: 'no arguments',
  tuneCacheLocation: 'no arguments',
  tunedWinners: 'no arguments',
  waitPolling: 'no arguments',
  sync: 'no arguments (throws pending GPU faults: test/oom.test.ts)',
  // Accepts any value by design.
  dispose: 'disposes the tensors found in any value (TensorFlow.js semantics); ignores the rest',
  // Constructed by the library, not by users (documented @internal or abstract).
  Tensor: 'internal constructor: use tensor(), zeros()...',
  Variable: 'internal constructor: use variable()',
  SymbolicTensor: 'internal constructor: made by input() and layer.apply()',
  ImageDataset: 'internal constructor: made by imageDatasetFromDirectory()',
  Layer: 'abstract base class (its option checks run in every layer: errors-nn)',
  Model: 'abstract base class (compile/fit/evaluate/predict: errors-nn)',
  Optimizer: 'abstract base class (SGD and Adam: errors-nn)',
};

const unary = [
  'abs',
  'ceil',
  'cos',
  'elu',
  'exp',
  'floor',
  'leakyRelu',
  'log',
  'logicalNot',
  'neg',
  'reciprocal',
  'relu',
  'relu6',
  'round',
  'rsqrt',
  'sigmoid',
  'sign',
  'sin',
  'softplus',
  'sqrt',
  'square',
  'step',
  'tanh',
];
const binary = [
  'add',
  'div',
  'equal',
  'floorDiv',
  'greater',
  'greaterEqual',
  'less',
  'lessEqual',
  'logicalAnd',
  'logicalOr',
  'maximum',
  'minimum',
  'mod',
  'mul',
  'notEqual',
  'pow',
  'squaredDifference',
  'sub',
];
const reductions = ['all', 'any', 'argMax', 'argMin', 'logSumExp', 'max', 'mean', 'min', 'prod', 'sum'];
const otherOps = [
  'avgPool',
  'batchNorm',
  'batchNormTraining',
  'cast',
  'clipByValue',
  'concat',
  'conv2d',
  'conv2dBackpropFilter',
  'conv2dBackpropInput',
  'depthwiseConv2d',
  'depthwiseConv2dBackpropFilter',
  'depthwiseConv2dBackpropInput',
  'expandDims',
  'gather',
  'globalAvgPool',
  'invertedResidualBlock',
  'logSoftmax',
  'matmul',
  'maxPool',
  'oneHot',
  'pad',
  'reshape',
  'resizeBilinear',
  'slice',
  'softmax',
  'sparseSoftmaxCrossEntropy',
  'split',
  'squeeze',
  'stack',
  'stridedSlice',
  'tile',
  'transpose',
  'unsortedSegmentSum',
  'where',
];
const core = [
  'compareGradients',
  'fill',
  'grad',
  'grads',
  'keep',
  'numericGradient',
  'onDeviceLost',
  'ones',
  'profile',
  'randomNormal',
  'randomUniform',
  'registerGradient',
  'scalar',
  'setSeed',
  'autotune',
  'setAutotune',
  'setWeightStationary',
  'setWaitPolling',
  'tensor',
  'tidy',
  'truncatedNormal',
  'valueAndGrad',
  'valueAndGrads',
  'variable',
  'variableGrads',
  'zeros',
];
const nn = [
  'Activation',
  'Adam',
  'Add',
  'AveragePooling2D',
  'BatchNormalization',
  'Conv2D',
  'Dense',
  'DepthwiseConv2D',
  'Dropout',
  'Flatten',
  'Functional',
  'GlobalAveragePooling2D',
  'InputLayer',
  'MaxPooling2D',
  'ReLU',
  'Reshape',
  'SGD',
  'Sequential',
  'Softmax',
  'ZeroPadding2D',
  'applyActivation',
  'assignWeights',
  'categoricalAccuracy',
  'categoricalCrossentropy',
  'exponentialDecay',
  'getLoss',
  'initialize',
  'input',
  'layerFromConfig',
  'loadCheckpoint',
  'loadMobileNetV2Weights',
  'loadModel',
  'meanSquaredError',
  'mobileNetV2',
  'model',
  'modelCheckpoint',
  'registerLayer',
  'saveCheckpoint',
  'setFusedBlocks',
  'setGraphFusion',
  'sparseCategoricalAccuracy',
  'sparseCategoricalCrossentropy',
];
/** Merge, reshaping and convolution layers of issue 19 (bad calls in test/errors-graph.test.ts). */
const graph = [
  'Average',
  'AveragePooling1D',
  'Concatenate',
  'Conv1D',
  'Conv2DTranspose',
  'Cropping2D',
  'Dot',
  'GlobalAveragePooling1D',
  'GlobalMaxPooling1D',
  'GlobalMaxPooling2D',
  'MaxPooling1D',
  'Maximum',
  'Minimum',
  'Multiply',
  'Permute',
  'RepeatVector',
  'SeparableConv2D',
  'Subtract',
  'UpSampling2D',
];
const data = [
  'CachedDataset',
  'Dataset',
  'DecodePool',
  'decodeAndResize',
  'decodeImage',
  'imageDatasetFromDirectory',
  'loadImage',
  'loadTensorsFile',
  'parseSafetensors',
  'readImageHeader',
  'readSafetensorsFile',
  'resizeBilinearCpu',
  'resizeImageCpu',
  'saveTensorsFile',
  'serializeSafetensors',
  'sniffFormat',
  'toFloat32',
  'toInt32',
  'writeFileAtomic',
];

/** Activations, normalization, embeddings and attention (issue 19): test/errors-modern.test.ts. */
const modern = [
  // Activations.
  'ELU',
  'LeakyReLU',
  'gelu',
  'hardSigmoid',
  'hardSwish',
  'mish',
  'selu',
  'silu',
  'softsign',
  // Normalization and embeddings.
  'Embedding',
  'GroupNormalization',
  'LayerNormalization',
  'PositionEmbedding',
  'TokenAndPositionEmbedding',
  'layerNorm',
  // Attention.
  'MultiHeadAttention',
  'composedAttention',
  'dotProductAttention',
];

/** Exports that take arguments, by the test file holding their bad calls. */
export const AUDITED: Readonly<Record<string, Owner>> = Object.fromEntries([
  ...[...unary, ...binary, ...reductions, ...otherOps, ...core].map((n) => [n, 'errors-ops'] as const),
  ...nn.map((n) => [n, 'errors-nn'] as const),
  ...data.map((n) => [n, 'errors-data'] as const),
  ...graph.map((n) => [n, 'errors-graph'] as const),
  ...modern.map((n) => [n, 'errors-modern'] as const),
  ...augmentExports.map((n) => [n, 'errors-augment'] as const),
  ...optimExports.map((n) => [n, 'errors-optim'] as const),
  ...metricsExports.map((n) => [n, 'errors-metrics'] as const),
  ...trainingExports.map((n) => [n, 'errors-training'] as const),
]);

export const OP_FAMILIES = { unary, binary, reductions, otherOps };

/** The names a test file owns. */
export function ownedBy(owner: Owner): string[] {
  return Object.entries(AUDITED)
    .filter(([, o]) => o === owner)
    .map(([n]) => n);
}
