import { fill, randomNormal, randomUniform, truncatedNormal } from '../tensor/creation.js';
import { ArgumentError } from '../tensor/errors.js';
import { assertShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/** Weight initializers by Keras name. Fans follow Keras: for a conv kernel, receptive field x channels. */

export type InitializerName =
  | 'zeros'
  | 'ones'
  | 'glorotUniform'
  | 'glorotNormal'
  | 'heNormal'
  | 'heUniform'
  | 'lecunNormal'
  | 'randomNormal'
  | 'randomUniform';

export const INITIALIZERS: readonly InitializerName[] = [
  'zeros',
  'ones',
  'glorotUniform',
  'glorotNormal',
  'heNormal',
  'heUniform',
  'lecunNormal',
  'randomNormal',
  'randomUniform',
];

export function assertInitializer(name: unknown, where: string): asserts name is InitializerName {
  if (typeof name !== 'string' || !(INITIALIZERS as readonly string[]).includes(name)) {
    throw new ArgumentError(
      `${where} must be one of ${INITIALIZERS.join(', ')}, got ${JSON.stringify(name)}`,
    );
  }
}

export function fans(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  if (shape.length === 2) return [shape[0], shape[1]];
  let receptive = 1;
  for (let i = 0; i < shape.length - 2; i++) receptive *= shape[i];
  return [receptive * shape[shape.length - 2], receptive * shape[shape.length - 1]];
}

// Stddev of a unit normal truncated at +-2 (Keras divides by it to keep the variance).
const TRUNC_STD = 0.8796256610342398;

/** A new tensor of `shape` initialised as Keras' initializer `name` would (seeded by `seed`, or the global seed sequence). */
export function initialize(name: InitializerName, shape: readonly number[], seed?: number): Tensor {
  assertInitializer(name, 'initialize: name');
  assertShape(shape, 'initialize: shape');
  const [fanIn, fanOut] = fans(shape);
  const o = { seed };
  switch (name) {
    case 'zeros':
      return fill(shape, 0);
    case 'ones':
      return fill(shape, 1);
    case 'glorotUniform': {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return randomUniform(shape, -limit, limit, o);
    }
    case 'glorotNormal':
      return truncatedNormal(shape, 0, Math.sqrt(2 / (fanIn + fanOut)) / TRUNC_STD, o);
    case 'heNormal':
      return truncatedNormal(shape, 0, Math.sqrt(2 / fanIn) / TRUNC_STD, o);
    case 'heUniform': {
      const limit = Math.sqrt(6 / fanIn);
      return randomUniform(shape, -limit, limit, o);
    }
    case 'lecunNormal':
      return truncatedNormal(shape, 0, Math.sqrt(1 / fanIn) / TRUNC_STD, o);
    case 'randomNormal':
      return randomNormal(shape, 0, 0.05, o);
    // Keras RandomUniform defaults (the default of Embedding): [-0.05, 0.05).
    case 'randomUniform':
      return randomUniform(shape, -0.05, 0.05, o);
  }
}
