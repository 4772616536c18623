export { type ActivationName, applyActivation } from './activations.js';
export { type Callback, History } from './callbacks.js';
export { loadCheckpoint, modelCheckpoint, saveCheckpoint } from './checkpoint.js';
export type { SaveFormat, SaveOptions } from './export.js';
export { Functional, type InputArgs, InputLayer, input, type ModelArgs, model } from './functional.js';
export { setGraphFusion } from './fusion.js';
export { type InitializerName, initialize } from './initializers.js';
export {
  type CallArgs,
  Layer,
  type LayerArgs,
  type LayerFactory,
  type LayerWeight,
  layerFromConfig,
  registerLayer,
  SymbolicTensor,
  type SymShape,
} from './layer.js';
export {
  Activation,
  type ActivationArgs,
  Dropout,
  type DropoutArgs,
  Flatten,
  ReLU,
  type ReLUArgs,
  Softmax,
  type SoftmaxArgs,
} from './layers/basic.js';
export {
  Conv2D,
  type Conv2DArgs,
  DepthwiseConv2D,
  type DepthwiseConv2DArgs,
  type Padding,
} from './layers/conv.js';
export { Dense, type DenseArgs } from './layers/dense.js';
export { BatchNormalization, type BatchNormalizationArgs } from './layers/normalization.js';
export {
  AveragePooling2D,
  GlobalAveragePooling2D,
  type GlobalPoolingArgs,
  MaxPooling2D,
  type Pooling2DArgs,
} from './layers/pooling.js';
export { Add, Reshape, type ReshapeArgs, ZeroPadding2D, type ZeroPadding2DArgs } from './layers/shape.js';
export {
  categoricalAccuracy,
  categoricalCrossentropy,
  getLoss,
  type LossFn,
  type LossName,
  type MetricFn,
  meanSquaredError,
  sparseCategoricalAccuracy,
  sparseCategoricalCrossentropy,
} from './losses.js';
export { type CompileArgs, Model } from './model.js';
export {
  Adam,
  type AdamArgs,
  type ExponentialDecayArgs,
  exponentialDecay,
  type LearningRateSchedule,
  Optimizer,
  SGD,
  type SGDArgs,
} from './optimizers.js';
export type { LogSink, Verbose } from './progress.js';
export { loadModel, type ModelSource } from './saving.js';
export { Sequential, type SequentialArgs } from './sequential.js';
export type { Batch, BatchSource, EvaluateArgs, FitArgs, PredictArgs } from './training.js';
export { type AssignOptions, assignWeights } from './weights.js';
