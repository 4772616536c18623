export type {
  ClipByGlobalNorm,
  ClipByNorm,
  ClipByValue,
  GradientClip,
} from '../kernels/optimizer.js';
export { type ActivationName, applyActivation, type ExtActivationName } from './activations.js';
export type { Batch, BatchSource, ClassWeight, MultiBatch } from './batches.js';
export { BaseCallback, type Callback, History, type Logs } from './callbacks.js';
export { CSVLogger, type CSVLoggerArgs, ModelCheckpoint, type ModelCheckpointArgs } from './callbacks-io.js';
export {
  LambdaCallback,
  type LambdaCallbackArgs,
  LearningRateScheduler,
  type LearningRateSchedulerArgs,
  TerminateOnNaN,
} from './callbacks-misc.js';
export {
  EarlyStopping,
  type EarlyStoppingArgs,
  type MonitorMode,
  ReduceLROnPlateau,
  type ReduceLROnPlateauArgs,
} from './callbacks-monitor.js';
export { loadCheckpoint, modelCheckpoint, saveCheckpoint } from './checkpoint.js';
export type { ValidationFreq } from './epoch-steps.js';
export type { SaveFormat, SaveOptions } from './export.js';
export { Functional, type InputArgs, InputLayer, input, type ModelArgs, model } from './functional.js';
export { setGraphFusion } from './fusion.js';
export { type FusedBlocksMode, setFusedBlocks } from './fusion-block.js';
export type { EvaluateArgs, PredictArgs } from './inference.js';
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
export { ELU, type ELUArgs, LeakyReLU, type LeakyReLUArgs } from './layers/activation-layers.js';
export type {
  AffineAugmentation,
  AffineLayerArgs,
  AffinePlan,
  ResampleOptions,
} from './layers/affine-chain.js';
export {
  type ColorAugmentArgs,
  RandomBrightness,
  RandomContrast,
  RandomCrop,
  type RandomCropArgs,
  RandomFlip,
  type RandomFlipArgs,
  RandomRotation,
  type RandomRotationArgs,
  RandomTranslation,
  type RandomTranslationArgs,
  RandomZoom,
  type RandomZoomArgs,
  type ResampleLayerArgs,
} from './layers/augmentation.js';
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
export {
  Conv1D,
  type Conv1DArgs,
  Conv2DTranspose,
  type Conv2DTransposeArgs,
  SeparableConv2D,
  type SeparableConv2DArgs,
} from './layers/conv-more.js';
export { Dense, type DenseArgs } from './layers/dense.js';
export {
  Embedding,
  type EmbeddingArgs,
  PositionEmbedding,
  type PositionEmbeddingArgs,
  TokenAndPositionEmbedding,
  type TokenAndPositionEmbeddingArgs,
} from './layers/embedding.js';
export {
  GroupNormalization,
  type GroupNormalizationArgs,
  LayerNormalization,
  type LayerNormalizationArgs,
} from './layers/layer-norm.js';
export {
  Average,
  Concatenate,
  type ConcatenateArgs,
  Dot,
  type DotArgs,
  Maximum,
  Minimum,
  Multiply,
  Subtract,
} from './layers/merge.js';
export {
  type ComposedAttentionOptions,
  composedAttention,
  MultiHeadAttention,
  type MultiHeadAttentionArgs,
} from './layers/multi-head-attention.js';
export { BatchNormalization, type BatchNormalizationArgs } from './layers/normalization.js';
export {
  AveragePooling1D,
  AveragePooling2D,
  GlobalAveragePooling1D,
  GlobalAveragePooling2D,
  GlobalMaxPooling1D,
  GlobalMaxPooling2D,
  type GlobalPoolingArgs,
  MaxPooling1D,
  MaxPooling2D,
  type Pooling1DArgs,
  type Pooling2DArgs,
} from './layers/pooling.js';
export {
  type AdaptBatch,
  type AdaptData,
  CenterCrop,
  type CenterCropArgs,
  Normalization,
  type NormalizationArgs,
  type Numbers,
  Rescaling,
  type RescalingArgs,
  Resizing,
  type ResizingArgs,
} from './layers/preprocessing.js';
export {
  Cropping2D,
  type Cropping2DArgs,
  Permute,
  type PermuteArgs,
  RepeatVector,
  type RepeatVectorArgs,
  UpSampling2D,
  type UpSampling2DArgs,
} from './layers/reshaping.js';
export { Add, Reshape, type ReshapeArgs, ZeroPadding2D, type ZeroPadding2DArgs } from './layers/shape.js';
export {
  type BinaryCrossentropyArgs,
  binaryCrossentropy,
  type CrossentropyArgs,
  categoricalCrossentropy,
  getLoss,
  type LossFn,
  type LossName,
  type SparseCrossentropyArgs,
  sparseCategoricalCrossentropy,
} from './losses.js';
export {
  categoricalHinge,
  type HuberArgs,
  hinge,
  huber,
  kullbackLeiblerDivergence,
  kullbackLeiblerDivergence as kld,
  meanAbsoluteError,
  meanSquaredError,
} from './losses-more.js';
export {
  BinaryAccuracy,
  type BinaryAccuracyArgs,
  CategoricalAccuracy,
  categoricalAccuracy,
  Mean,
  MeanAbsoluteError,
  type MeanArgs,
  MeanMetricWrapper,
  MeanSquaredError,
  Metric,
  type MetricArgs,
  type MetricFn,
  SparseCategoricalAccuracy,
  SparseTopKCategoricalAccuracy,
  sparseCategoricalAccuracy,
  type TopKArgs,
  TopKCategoricalAccuracy,
} from './metrics.js';
export { AUC, type AUCArgs, Precision, type PrecisionArgs, Recall } from './metrics-confusion.js';
export { getMetric } from './metrics-get.js';
export { type CompileArgs, Model } from './model.js';
export type { CompiledMetric, LossSpec, MetricSpec, OutputSpec, TensorMap, Tensors } from './multi-io.js';
export {
  Adam,
  type AdamArgs,
  AdamW,
  type AdamWArgs,
  Optimizer,
  type OptimizerArgs,
  SGD,
  type SGDArgs,
  type StepParams,
} from './optimizers.js';
export {
  Adagrad,
  type AdagradArgs,
  getOptimizer,
  Nadam,
  type NadamArgs,
  type OptimizerName,
  optimizerFromConfig,
  RMSprop,
  type RMSpropArgs,
} from './optimizers-more.js';
export type { LogSink, Verbose } from './progress.js';
export {
  getRegularizer,
  type L1Args,
  type L1L2Args,
  type L2Args,
  l1,
  l1l2,
  l2,
  Regularizer,
  type RegularizerConfig,
  type RegularizerFactories,
  type RegularizerFactors,
  type RegularizerSpec,
  regularizers,
} from './regularizers.js';
export { type LoadModelOptions, loadModel, type ModelSource } from './saving.js';
export {
  type CosineDecayArgs,
  cosineDecay,
  type ExponentialDecayArgs,
  exponentialDecay,
  type InverseTimeDecayArgs,
  inverseTimeDecay,
  type LearningRateSchedule,
  type PiecewiseConstantDecayArgs,
  type PolynomialDecayArgs,
  piecewiseConstantDecay,
  polynomialDecay,
  scheduleFromConfig,
} from './schedules.js';
export { Sequential, type SequentialArgs } from './sequential.js';
export type { FitArgs } from './training.js';
export { type AssignOptions, assignWeights } from './weights.js';
