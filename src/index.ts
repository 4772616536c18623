export * from './autograd/index.js';
export * from './nn/index.js';
export * from './ops.js';
export * from './tensor/index.js';
export { WeightsFormatError } from './io/errors.js';
export { parseSafetensors, serializeSafetensors, toFloat32, toInt32, type ParsedSafetensors, type SafetensorsEntry } from './io/safetensors.js';
