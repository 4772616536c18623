export {
  fill,
  ones,
  type RandomOptions,
  randomNormal,
  randomUniform,
  scalar,
  setSeed,
  type TensorLike,
  tensor,
  truncatedNormal,
  zeros,
} from './creation.js';
export { type DeviceInfo, destroyDevice, deviceInfo, getDevice, onDeviceLost } from './device.js';
export type { DataArray, DType } from './dtype.js';
export {
  ArgumentError,
  DeviceError,
  DisposedTensorError,
  DTypeError,
  ShapeError,
  WgslNnError,
} from './errors.js';
export type { OptionKeys } from './options.js';
export { drainPool } from './pool.js';
export { type KernelProfile, type KernelTime, profile } from './profile.js';
export { flush, sync } from './queue.js';
export {
  dispose,
  keep,
  type MemoryInfo,
  memory,
  resetPeakBytes,
  type TensorContainer,
  tidy,
} from './scope.js';
export { type NestedArray, type ReduceAxis, Tensor } from './tensor.js';
export { Variable, type VariableOptions, variable } from './variable.js';
export { setWaitPolling, type WaitPolling, waitPolling } from './wait.js';
