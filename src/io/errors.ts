import { WgslNnError } from '../tensor/errors.js';

/**
 * A weights file is malformed or hostile: truncated, a header that lies about its length, bad JSON,
 * unknown dtypes, offsets that overlap, leave gaps or point outside the file. The message names the
 * file problem and, where there is one, the tensor.
 */
export class WeightsFormatError extends WgslNnError {}

/**
 * A model file (TensorFlow.js model.json, Keras .keras or .h5) that we cannot load: a broken
 * topology, or layers wgsl-nn does not support (all of them listed by name and class).
 */
export class ModelFormatError extends WgslNnError {}
