import { describe, expect, it } from 'vitest';
import * as api from '../src/node.js';
import {
  ArgumentError,
  clipByValue,
  compareGradients,
  DisposedTensorError,
  DTypeError,
  fill,
  grads,
  keep,
  numericGradient,
  onDeviceLost,
  pad,
  randomNormal,
  randomUniform,
  registerGradient,
  scalar,
  type Tensor,
  tensor,
  truncatedNormal,
  valueAndGrad,
  variable,
  WgslNnError,
  zeros,
} from '../src/node.js';
import { AUDITED, NOT_VALIDATED, OP_FAMILIES, ownedBy } from './error-audit.js';
import { bad, badCalls } from './error-helpers.js';

/*
 * Error paths of the tensor ops, tensor creation, scopes, device hooks and autograd helpers that
 * the per-family tests do not reach: every op against a non-tensor and a disposed first argument,
 * and the non-finite values that used to turn silently into 0 or NaN.
 */

type AnyFn = (...args: unknown[]) => unknown;
const fns = api as unknown as Record<string, AnyFn>;

describe('every export is audited', () => {
  it('each runtime export of src/node.ts has error-path tests or a reason why it needs none', async () => {
    const names = Object.keys(await import('../src/node.js')).filter(
      (n) => typeof (api as Record<string, unknown>)[n] === 'function',
    );
    const missing = names.filter((n) => !(n in AUDITED) && !(n in NOT_VALIDATED));
    expect(missing, 'exports without an entry in test/error-audit.ts').toEqual([]);
    const stale = [...Object.keys(AUDITED), ...Object.keys(NOT_VALIDATED)].filter((n) => !names.includes(n));
    expect(stale, 'entries in test/error-audit.ts that are not exported').toEqual([]);
    expect(names.length).toBe(Object.keys(AUDITED).length + Object.keys(NOT_VALIDATED).length);
  });

  it('every op name owned by this file has bad calls below', () => {
    const covered = new Set([...Object.keys(firstArg), ...calls.map((c) => c.names)]);
    expect(ownedBy('errors-ops').filter((n) => !covered.has(n))).toEqual([]);
  });
});

// Valid arguments after the first, per op: the first argument is then replaced by a bad one.
const f = () => zeros([1, 1, 2, 2]);
const img = () => zeros([1, 4, 4, 2]);
const firstArg: Record<string, (x: unknown) => unknown> = {
  ...Object.fromEntries(OP_FAMILIES.unary.map((n) => [n, (x: unknown) => fns[n](x)])),
  ...Object.fromEntries(OP_FAMILIES.binary.map((n) => [n, (x: unknown) => fns[n](x, zeros([2]))])),
  ...Object.fromEntries(OP_FAMILIES.reductions.map((n) => [n, (x: unknown) => fns[n](x)])),
  avgPool: (x) => api.avgPool(x as Tensor, 2, 2, 'valid'),
  batchNorm: (x) => api.batchNorm(x as Tensor, zeros([2]), zeros([2])),
  batchNormTraining: (x) => api.batchNormTraining(x as Tensor),
  cast: (x) => api.cast(x as Tensor, 'int32'),
  clipByValue: (x) => api.clipByValue(x as Tensor, 0, 1),
  concat: (x) => api.concat([x as Tensor]),
  conv2d: (x) => api.conv2d(x as Tensor, f(), 1, 'same'),
  conv2dBackpropFilter: (x) => api.conv2dBackpropFilter(x as Tensor, img(), [1, 1, 2, 2], 1, 'same'),
  conv2dBackpropInput: (x) => api.conv2dBackpropInput(x as Tensor, f(), [1, 4, 4, 2], 1, 'same'),
  depthwiseConv2d: (x) => api.depthwiseConv2d(x as Tensor, zeros([1, 1, 2, 1]), 1, 'same'),
  depthwiseConv2dBackpropFilter: (x) =>
    api.depthwiseConv2dBackpropFilter(x as Tensor, img(), [1, 1, 2, 1], 1, 'same'),
  depthwiseConv2dBackpropInput: (x) =>
    api.depthwiseConv2dBackpropInput(x as Tensor, zeros([1, 1, 2, 1]), [1, 4, 4, 2], 1, 'same'),
  expandDims: (x) => api.expandDims(x as Tensor),
  gather: (x) => api.gather(x as Tensor, tensor([0], [1], 'int32')),
  globalAvgPool: (x) => api.globalAvgPool(x as Tensor),
  invertedResidualBlock: (x) =>
    api.invertedResidualBlock(x as Tensor, {
      expandFilter: zeros([2, 3]),
      expandBias: zeros([3]),
      depthwiseFilter: zeros([3, 3, 3]),
      depthwiseBias: zeros([3]),
      projectFilter: zeros([3, 2]),
      projectBias: zeros([2]),
    }),
  logSoftmax: (x) => api.logSoftmax(x as Tensor),
  matmul: (x) => api.matmul(x as Tensor, zeros([2, 2])),
  maxPool: (x) => api.maxPool(x as Tensor, 2, 2, 'valid'),
  oneHot: (x) => api.oneHot(x as Tensor, 2),
  pad: (x) => api.pad(x as Tensor, [[0, 0]]),
  reshape: (x) => api.reshape(x as Tensor, [-1]),
  resizeBilinear: (x) => api.resizeBilinear(x as Tensor, [2, 2]),
  slice: (x) => api.slice(x as Tensor, [0]),
  softmax: (x) => api.softmax(x as Tensor),
  sparseSoftmaxCrossEntropy: (x) => api.sparseSoftmaxCrossEntropy(x as Tensor, zeros([1, 2])),
  split: (x) => api.split(x as Tensor, 1),
  squeeze: (x) => api.squeeze(x as Tensor),
  stack: (x) => api.stack([x as Tensor]),
  stridedSlice: (x) => api.stridedSlice(x as Tensor, [0], [1]),
  tile: (x) => api.tile(x as Tensor, [1]),
  transpose: (x) => api.transpose(x as Tensor),
  unsortedSegmentSum: (x) => api.unsortedSegmentSum(x as Tensor, tensor([0], [1], 'int32'), 1),
  where: (x) => api.where(x as Tensor, zeros([1]), zeros([1])),
};

describe('every op rejects a non-tensor and a disposed first argument, naming itself', () => {
  for (const [name, call] of Object.entries(firstArg)) {
    it(name, () => {
      let err: unknown;
      try {
        call('not a tensor');
      } catch (e) {
        err = e;
      }
      expect(err, `${name}('not a tensor') did not throw`).toBeInstanceOf(WgslNnError);
      expect((err as Error).message).toContain(`${name}: `);
      expect((err as Error).message).toMatch(
        /must be (a Tensor|a non-empty array of tensors)|Tensor or a number/,
      );
      expect((err as Error).message).toMatch(/got string/);
      const gone = zeros([2]);
      gone.dispose();
      expect(() => call(gone)).toThrow(DisposedTensorError);
      expect(() => call(gone)).toThrow(new RegExp(`^${name}: .*was disposed`));
    });
  }
});

const calls = [
  // Non-finite values that int32 cannot hold used to become 0 silently.
  bad('fill', 'Infinity into int32', () => fill([2], Infinity, 'int32'), ArgumentError, 'int32', 'Infinity'),
  bad('fill', 'NaN into bool', () => fill([2], Number.NaN, 'bool'), ArgumentError, 'got NaN'),
  bad('zeros', 'a shape that is not an array', () => zeros(3 as never), api.ShapeError, 'shape', 'got 3'),
  bad('ones', 'a negative dimension', () => api.ones([2, -1]), api.ShapeError, 'bad entry -1'),
  bad(
    'pad',
    'an infinite constant for int32',
    () => pad(zeros([2], 'int32'), [[1, 1]], -Infinity),
    ArgumentError,
    'constantValue',
    '-Infinity',
  ),
  bad(
    'randomUniform',
    'an infinite maxval',
    () => randomUniform([2], 0, Infinity),
    ArgumentError,
    'finite',
    'Infinity',
  ),
  bad('randomNormal', 'a NaN mean', () => randomNormal([2], Number.NaN), ArgumentError, 'mean', 'NaN'),
  bad(
    'randomNormal',
    'an infinite stddev',
    () => randomNormal([2], 0, Infinity),
    ArgumentError,
    'stddev',
    'Infinity',
  ),
  bad(
    'truncatedNormal',
    'an infinite mean',
    () => truncatedNormal([2], Infinity),
    ArgumentError,
    'mean',
    'Infinity',
  ),
  bad(
    'tensor',
    'an unknown dtype',
    () => tensor([1], [1], 'float16' as never),
    DTypeError,
    'dtype',
    '"float16"',
  ),
  bad('tensor', 'a string', () => tensor('abc' as never), DTypeError, 'got string'),
  bad('scalar', 'an object', () => scalar({} as never), DTypeError, 'got object'),
  bad('setSeed', 'NaN', () => api.setSeed(Number.NaN), ArgumentError, 'seed', 'NaN'),
  bad(
    'setAutotune',
    'a number',
    () => api.setAutotune(1 as never),
    ArgumentError,
    'on must be a boolean',
    'got 1',
  ),
  bad(
    'setWeightStationary',
    'a boolean',
    () => api.setWeightStationary(true as never),
    ArgumentError,
    "mode must be 'auto', 'on' or 'off'",
    'true',
  ),
  bad(
    'setWaitPolling',
    'an unknown mode',
    () => api.setWaitPolling('fast' as never),
    ArgumentError,
    "mode must be 'auto', 'spin' or 'sleep'",
    '"fast"',
  ),
  bad(
    'autotune',
    'reps 0',
    () => api.autotune({ reps: 0 }),
    ArgumentError,
    'reps',
    'positive integer',
    'got 0',
  ),
  bad('autotune', 'an unknown option', () => api.autotune({ rep: 2 } as never), ArgumentError, "'rep'"),
  bad(
    'variable',
    'a non-boolean trainable',
    () => variable(zeros([1]), { trainable: 'no' as never }),
    ArgumentError,
    'trainable',
    '"no"',
  ),
  bad('variable', 'a number', () => variable(3 as never), DTypeError, 'initial value', 'got number'),
  bad('keep', 'a number', () => keep(3 as never), ArgumentError, 'expected a Tensor', 'got number'),
  bad('tidy', 'a number', () => api.tidy(3 as never), ArgumentError, 'expected a function'),
  bad(
    'profile',
    'a number',
    () => api.profile(3 as never),
    ArgumentError,
    'fn must be a function',
    'got number',
  ),
  bad(
    'profile',
    'a nested call',
    () => api.profile(() => api.profile(() => 1)),
    ArgumentError,
    'already profiling',
  ),
  bad('onDeviceLost', 'a non-function', () => onDeviceLost('x' as never), ArgumentError, 'fn', 'got string'),
  bad(
    'grad',
    'a non-function',
    () => api.grad(3 as never),
    ArgumentError,
    'f must be a function',
    'got number',
  ),
  bad(
    'grads',
    'xs that is not an array',
    () => grads((a: Tensor) => api.sum(a))(zeros([2]) as never),
    ArgumentError,
    'xs must be an array',
  ),
  bad(
    'valueAndGrad',
    'a number for x',
    () => valueAndGrad((a: Tensor) => api.sum(a))(3 as never),
    ArgumentError,
    'xs[0] must be a Tensor',
    'got number',
  ),
  bad(
    'valueAndGrads',
    'a non-function',
    () => api.valueAndGrads(null as never),
    ArgumentError,
    'f must be a function',
  ),
  bad(
    'variableGrads',
    'plain tensors as vars',
    () => api.variableGrads(() => api.sum(zeros([1])), [zeros([1]) as never]),
    ArgumentError,
    'vars[0] must be a Variable',
  ),
  bad(
    'numericGradient',
    'an infinite eps',
    () => numericGradient(() => 0, [new Float64Array(1)], Infinity),
    ArgumentError,
    'eps',
    'Infinity',
  ),
  bad(
    'numericGradient',
    'xs of numbers',
    () => numericGradient(() => 0, [1, 2] as never),
    ArgumentError,
    'xs must be an array of Float64Arrays',
  ),
  bad(
    'numericGradient',
    'a non-function',
    () => numericGradient(3 as never, []),
    ArgumentError,
    'f must be a function',
  ),
  bad(
    'compareGradients',
    'lists of different lengths',
    () => compareGradients([[1]], []),
    ArgumentError,
    'same length',
    'got 1 and 0',
  ),
  bad(
    'compareGradients',
    'a negative atol',
    () => compareGradients([[1]], [[1]], -1),
    ArgumentError,
    'atol',
    '-1',
  ),
  bad(
    'registerGradient',
    'an empty op name',
    () => registerGradient('' as never, () => []),
    ArgumentError,
    'op must be a non-empty string',
  ),
  bad(
    'registerGradient',
    'a rule that is not a function',
    () => registerGradient('myOp' as never, 3 as never),
    ArgumentError,
    "rule for 'myOp'",
    'got number',
  ),
];

describe('bad arguments of creation, scope, device and autograd functions', () => {
  badCalls(calls);
});

describe('infinite clip bounds on int32 tensors', () => {
  it('clipByValue(int32, -Infinity, max) keeps values below zero (was clamped to 0)', async () => {
    const x = tensor([-5, 3, 9], [3], 'int32');
    expect(Array.from(await clipByValue(x, -Infinity, 5).data())).toEqual([-5, 3, 5]);
    expect(Array.from(await clipByValue(x, 0, Infinity).data())).toEqual([0, 3, 9]);
  });
});
