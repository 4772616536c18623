import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  Average,
  AveragePooling1D,
  Concatenate,
  Conv1D,
  Conv2D,
  Conv2DTranspose,
  Cropping2D,
  DepthwiseConv2D,
  Dot,
  GlobalAveragePooling1D,
  GlobalMaxPooling1D,
  GlobalMaxPooling2D,
  input,
  Maximum,
  MaxPooling1D,
  Minimum,
  Multiply,
  Permute,
  RepeatVector,
  SeparableConv2D,
  ShapeError,
  Subtract,
  tensor,
  UpSampling2D,
} from '../src/node.js';
import { ownedBy } from './error-audit.js';
import { type BadCall, bad, badCalls } from './error-helpers.js';

/*
 * Error paths of the merge, reshaping and convolution layers of issue 19: bad options, wrong input
 * counts and shapes, symbolic and concrete.
 */

const t = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);

const merge: BadCall[] = [
  bad(
    'Multiply',
    'one input',
    () => new Multiply({ name: 'm1' }).apply([t([2, 3])]),
    ArgumentError,
    'at least 2',
    'got 1',
  ),
  bad(
    'Average',
    'inputs of different shapes',
    () => new Average().apply([t([2, 3]), t([2, 4])]),
    ShapeError,
    'same shape',
    '[2,3] and [2,4]',
  ),
  bad(
    'Maximum',
    'symbolic inputs of different shapes',
    () => new Maximum().apply([input({ shape: [3] }), input({ shape: [4] })]),
    ShapeError,
    '(None, 3) and (None, 4)',
  ),
  bad('Minimum', 'an unknown option', () => new Minimum({ axis: 1 } as never), ArgumentError, 'axis'),
  bad(
    'Subtract',
    'three inputs',
    () => new Subtract().apply([t([1]), t([1]), t([1])]),
    ArgumentError,
    'of 2 tensors',
    'got 3',
  ),
  bad(
    'Concatenate',
    'a fractional axis',
    () => new Concatenate({ axis: 0.5 }),
    ArgumentError,
    'axis must be an integer',
    '0.5',
  ),
  bad(
    'Concatenate',
    'the batch axis',
    () => new Concatenate({ axis: 0 }).apply([t([2, 3]), t([2, 3])]),
    ArgumentError,
    'axis 0 is out of range',
  ),
  bad(
    'Concatenate',
    'mismatched other axes',
    () => new Concatenate().apply([input({ shape: [3, 2] }), input({ shape: [4, 2] })]),
    ShapeError,
    'must match except on axis -1',
  ),
  bad(
    'Dot',
    'no axes',
    () => new Dot({} as never),
    ArgumentError,
    'axes must be an integer or a pair',
    'undefined',
  ),
  bad(
    'Dot',
    'a string normalize',
    () => new Dot({ axes: 1, normalize: 'yes' as never }),
    ArgumentError,
    'normalize',
    '"yes"',
  ),
  bad(
    'Dot',
    'contracted axes of different sizes',
    () => new Dot({ axes: 1 }).apply([input({ shape: [3] }), input({ shape: [4] })]),
    ShapeError,
    'contracted axes differ',
  ),
  bad(
    'Dot',
    'axes out of range',
    () => new Dot({ axes: 2 }).apply([t([2, 3]), t([2, 3])]),
    ArgumentError,
    'out of range',
    'rank 2',
  ),
];

const reshaping: BadCall[] = [
  bad(
    'Permute',
    'dims with the batch axis',
    () => new Permute({ dims: [0, 1] }),
    ArgumentError,
    'permutation of 1..n',
    '[0,1]',
  ),
  bad(
    'Permute',
    'a rank mismatch',
    () => new Permute({ dims: [2, 1] }).apply(input({ shape: [3] })),
    ShapeError,
    'rank-3',
    '(None, 3)',
  ),
  bad(
    'RepeatVector',
    'n 0',
    () => new RepeatVector({ n: 0 }),
    ArgumentError,
    'n must be a positive integer',
    'got 0',
  ),
  bad(
    'RepeatVector',
    'an image input',
    () => new RepeatVector({ n: 2 }).apply(input({ shape: [3, 3] })),
    ShapeError,
    '[batch, features]',
  ),
  bad(
    'Cropping2D',
    'negative cropping',
    () => new Cropping2D({ cropping: -1 }),
    ArgumentError,
    'cropping',
    '-1',
  ),
  bad(
    'Cropping2D',
    'cropping everything',
    () => new Cropping2D({ cropping: 2 }).apply(input({ shape: [4, 8, 1] })),
    ShapeError,
    'leaves nothing',
  ),
  bad('UpSampling2D', 'size 0', () => new UpSampling2D({ size: 0 }), ArgumentError, 'size', 'got 0'),
  bad(
    'UpSampling2D',
    'an unknown interpolation',
    () => new UpSampling2D({ interpolation: 'bicubic' as never }),
    ArgumentError,
    "'nearest' or 'bilinear'",
    '"bicubic"',
  ),
];

const conv: BadCall[] = [
  bad(
    'Conv1D',
    'no filters',
    () => new Conv1D({ kernelSize: 3 } as never),
    ArgumentError,
    'filters',
    'undefined',
  ),
  bad(
    'Conv1D',
    'an unknown padding',
    () => new Conv1D({ filters: 2, kernelSize: 3, padding: 'full' as never }),
    ArgumentError,
    "'same', 'valid' or 'causal'",
    '"full"',
  ),
  bad(
    'Conv1D',
    'dilation with strides',
    () => new Conv1D({ filters: 2, kernelSize: 3, strides: 2, dilationRate: 2 }),
    ArgumentError,
    'dilationRate 2 above 1 needs strides 1',
  ),
  bad(
    'Conv1D',
    'an image input',
    () => new Conv1D({ filters: 2, kernelSize: 3 }).apply(input({ shape: [4, 4, 1] })),
    ShapeError,
    '[batch, steps, channels]',
    '(None, 4, 4, 1)',
  ),
  bad(
    'Conv2D',
    'dilation with strides',
    () => new Conv2D({ filters: 2, kernelSize: 3, strides: 2, dilationRate: 2 }),
    ArgumentError,
    'dilationRate 2 above 1 needs strides 1',
  ),
  bad(
    'DepthwiseConv2D',
    'a zero dilation rate',
    () => new DepthwiseConv2D({ kernelSize: 3, dilationRate: [1, 0] }),
    ArgumentError,
    'dilationRate',
    '[1,0]',
  ),
  bad(
    'SeparableConv2D',
    'depthMultiplier 0',
    () => new SeparableConv2D({ filters: 2, kernelSize: 3, depthMultiplier: 0 }),
    ArgumentError,
    'depthMultiplier',
    'got 0',
  ),
  bad(
    'SeparableConv2D',
    'an unknown pointwiseInitializer',
    () => new SeparableConv2D({ filters: 2, kernelSize: 3, pointwiseInitializer: 'he' as never }),
    ArgumentError,
    'pointwiseInitializer',
    '"he"',
  ),
  bad(
    'Conv2DTranspose',
    'a dilation rate',
    () => new Conv2DTranspose({ filters: 2, kernelSize: 3, dilationRate: 2 }),
    ArgumentError,
    'dilationRate must be 1',
  ),
  bad(
    'Conv2DTranspose',
    'a sequence input',
    () => new Conv2DTranspose({ filters: 2, kernelSize: 3 }).apply(input({ shape: [4, 3] })),
    ShapeError,
    'NHWC',
  ),
];

const pooling: BadCall[] = [
  bad(
    'GlobalMaxPooling2D',
    'a string keepDims',
    () => new GlobalMaxPooling2D({ keepDims: 'yes' as never }),
    ArgumentError,
    'keepDims',
    '"yes"',
  ),
  bad(
    'GlobalMaxPooling2D',
    'a sequence input',
    () => new GlobalMaxPooling2D().apply(input({ shape: [4, 3] })),
    ShapeError,
    'NHWC',
  ),
  bad(
    'MaxPooling1D',
    'poolSize 0',
    () => new MaxPooling1D({ poolSize: 0 }),
    ArgumentError,
    'poolSize',
    'got 0',
  ),
  bad(
    'AveragePooling1D',
    'an unknown padding',
    () => new AveragePooling1D({ padding: 'causal' as never }),
    ArgumentError,
    "'same' or 'valid'",
  ),
  bad(
    'GlobalAveragePooling1D',
    'an image input',
    () => new GlobalAveragePooling1D().apply(input({ shape: [4, 4, 3] })),
    ShapeError,
    '[batch, steps, channels]',
  ),
  bad(
    'GlobalMaxPooling1D',
    'a numeric keepDims',
    () => new GlobalMaxPooling1D({ keepDims: 1 as never }),
    ArgumentError,
    'keepDims',
    'got 1',
  ),
];

describe('merge layers', () => badCalls(merge));
describe('convolution layers', () => badCalls(conv));
describe('pooling layers', () => badCalls(pooling));
describe('reshaping layers', () => badCalls(reshaping));

describe('audit', () => {
  it('every export owned by this file has a bad call', () => {
    const covered = new Set(
      [...merge, ...reshaping, ...conv, ...pooling].map((c) => c.exportName ?? c.names.split('.')[0]),
    );
    expect(ownedBy('errors-graph').filter((n) => !covered.has(n))).toEqual([]);
  });
});
