export * from './applications/index.js';
export * from './autograd/index.js';
export {
  type BatchOptions,
  CachedDataset,
  Dataset,
  type ShuffleOptions,
  type Source as DatasetSource,
} from './data/dataset.js';
export {
  type DecodedImage,
  type DecodeOptions,
  type DecodeResizeOptions,
  decodeAndResize,
  decodeImage,
  type ImageFormat,
  type ImageHeader,
  type ResizedImage,
  readImageHeader,
  sniffFormat,
} from './data/decode.js';
export { ImageDecodeError } from './data/errors.js';
export type { DctMethod } from './data/jpeg/index.js';
export { type ImageSource, type LoadImageOptions, loadImage } from './data/load-image.js';
export {
  type ImageResizeOptions,
  type Interpolation,
  type PixelBuffer,
  type ResizeOptions,
  resizeBilinearCpu,
  resizeImageCpu,
} from './data/resize.js';
export { resizeBilinear } from './data/resize-gpu.js';
export { ModelFormatError, WeightsFormatError } from './io/errors.js';
export type { Source as PathOrUrl } from './io/resource.js';
export {
  type ParsedSafetensors,
  type ParseOptions,
  parseSafetensors,
  type SafetensorsEntry,
  serializeSafetensors,
  toFloat32,
  toInt32,
} from './io/safetensors.js';
export type { SerializableDType, SerializableTensor } from './io/safetensors-write.js';
export {
  type AutotuneOptions,
  autotune,
  setAutotune,
  type TuneResult,
  type TuneTask,
  tuneCacheLocation,
  tunedWinners,
} from './kernels/autotune.js';
// The matmul precision type is exported as MatmulPrecision: `Precision` is the Keras metric class (src/nn/metrics-confusion.ts).
export type { Precision as MatmulPrecision } from './kernels/matmul-f16.js';
export { setWeightStationary, type WeightStationaryMode } from './kernels/tuning.js';
export * from './nn/index.js';
export * from './ops.js';
export * from './tensor/index.js';
