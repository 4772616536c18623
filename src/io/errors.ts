import { WgslNnError } from '../tensor/errors.js';

/**
 * A weights file is malformed or hostile: truncated, a header that lies about its length, bad JSON,
 * unknown dtypes, offsets that overlap, leave gaps or point outside the file. The message names the
 * file problem and, where there is one, the tensor.
 */
export class WeightsFormatError extends WgslNnError {}
