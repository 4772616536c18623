import { describe, expect, it } from 'vitest';
import * as api from '../src/node.js';
import { ArgumentError, DisposedTensorError, DTypeError, WgslNnError, zeros } from '../src/node.js';
import { ownedBy } from './error-audit.js';
import { bad, badCalls } from './error-helpers.js';

/*
 * Error paths of the activations, normalization, embedding and attention ops and layers of
 * issue 19: each op against a non-tensor and a disposed first argument and its own bad
 * arguments; each layer against bad options.
 */

type AnyFn = (...args: unknown[]) => unknown;
const fns = api as unknown as Record<string, AnyFn>;

// Valid arguments after the first, per op: the first argument is then replaced by a bad one.
const firstArg: Record<string, (x: unknown) => unknown> = {
  ...Object.fromEntries(
    ['gelu', 'hardSigmoid', 'hardSwish', 'mish', 'selu', 'silu', 'softsign'].map((n) => [
      n,
      (x: unknown) => fns[n](x),
    ]),
  ),
  layerNorm: (x) => api.layerNorm(x as api.Tensor),
  dotProductAttention: (x) =>
    api.dotProductAttention(x as api.Tensor, zeros([1, 2, 1, 2]), zeros([1, 2, 1, 2])),
};
const q4 = () => zeros([1, 3, 2, 4]);

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
      expect((err as Error).message).toMatch(/must be a Tensor/);
      expect((err as Error).message).toMatch(/got string/);
      const gone = zeros([2]);
      gone.dispose();
      expect(() => call(gone)).toThrow(DisposedTensorError);
      expect(() => call(gone)).toThrow(new RegExp(`^${name}: .*was disposed`));
    });
  }
});

const calls = [
  bad(
    'dotProductAttention',
    'rank-3 q',
    () => api.dotProductAttention(zeros([1, 3, 4]), q4(), q4()),
    api.ShapeError,
    'q',
    'rank 4',
    '[1,3,4]',
  ),
  bad(
    'dotProductAttention',
    'k with other heads',
    () => api.dotProductAttention(q4(), zeros([1, 3, 1, 4]), q4()),
    api.ShapeError,
    'k must be [1, Tk, 2, 4]',
    '[1,3,1,4]',
  ),
  bad(
    'dotProductAttention',
    'v of another length',
    () => api.dotProductAttention(q4(), q4(), zeros([1, 2, 2, 4])),
    api.ShapeError,
    'v must be',
    '[1,2,2,4]',
  ),
  bad(
    'dotProductAttention',
    'a mask of the wrong shape',
    () => api.dotProductAttention(q4(), q4(), q4(), { mask: zeros([3, 3]) }),
    api.ShapeError,
    'mask',
    '[1, 3, 3]',
    '[3,3]',
  ),
  bad(
    'dotProductAttention',
    'a non-boolean causal',
    () => api.dotProductAttention(q4(), q4(), q4(), { causal: 1 as never }),
    ArgumentError,
    'causal',
    'got 1',
  ),
  bad(
    'dotProductAttention',
    'an infinite scale',
    () => api.dotProductAttention(q4(), q4(), q4(), { scale: Infinity }),
    ArgumentError,
    'scale',
    'null',
  ),
  bad(
    'dotProductAttention',
    'a head dim over 256',
    () => api.dotProductAttention(zeros([1, 1, 1, 300]), zeros([1, 1, 1, 300]), zeros([1, 1, 1, 2])),
    api.ShapeError,
    '256',
    '300',
  ),
  bad(
    'dotProductAttention',
    'int32 v',
    () => api.dotProductAttention(q4(), q4(), zeros([1, 3, 2, 4], 'int32')),
    DTypeError,
    'v',
    'int32',
  ),
  bad(
    'composedAttention',
    'rank-3 q',
    () => api.composedAttention(zeros([1, 3, 4]), q4(), q4()),
    api.ShapeError,
    'q',
    'rank 4',
  ),
  bad(
    'MultiHeadAttention',
    'no numHeads',
    () => new api.MultiHeadAttention({ keyDim: 2 } as never),
    ArgumentError,
    'numHeads',
    'positive integer',
  ),
  bad(
    'MultiHeadAttention',
    'a dropout of 1',
    () => new api.MultiHeadAttention({ numHeads: 1, keyDim: 2, dropout: 1 }),
    ArgumentError,
    'dropout',
    '[0, 1)',
    'got 1',
  ),
  bad(
    'MultiHeadAttention',
    'a rank-2 query',
    () => new api.MultiHeadAttention({ numHeads: 1, keyDim: 2 }).apply(zeros([2, 3])),
    api.ShapeError,
    'query',
    '[batch, T, dim]',
  ),
  bad(
    'MultiHeadAttention',
    'four inputs',
    () =>
      new api.MultiHeadAttention({ numHeads: 1, keyDim: 2 }).apply([
        zeros([1, 2, 3]),
        zeros([1, 2, 3]),
        zeros([1, 2, 3]),
        zeros([1, 2, 3]),
      ]),
    ArgumentError,
    'got 4 inputs',
  ),
  bad(
    'MultiHeadAttention',
    'key and value of different lengths',
    () =>
      new api.MultiHeadAttention({ numHeads: 1, keyDim: 2 }).apply([
        zeros([1, 2, 3]),
        zeros([1, 4, 3]),
        zeros([1, 5, 3]),
      ]),
    api.ShapeError,
    'share the batch',
  ),
  bad(
    'MultiHeadAttention',
    'a non-boolean useCausalMask',
    () =>
      new api.MultiHeadAttention({ numHeads: 1, keyDim: 2 }).apply(zeros([1, 2, 3]), {
        useCausalMask: 'yes' as never,
      }),
    ArgumentError,
    'useCausalMask',
  ),
  bad(
    'layerNorm',
    'an axis that is not trailing',
    () => api.layerNorm(zeros([2, 3]), { axis: 0 }),
    ArgumentError,
    'axis',
    'last axes',
    '[2,3]',
    'got 0',
  ),
  bad(
    'layerNorm',
    'a gamma of the wrong shape',
    () => api.layerNorm(zeros([2, 3]), { gamma: zeros([2]) }),
    api.ShapeError,
    'gamma',
    '[3]',
    '[2]',
  ),
  bad(
    'layerNorm',
    'a zero epsilon',
    () => api.layerNorm(zeros([2, 3]), { epsilon: 0 }),
    ArgumentError,
    'epsilon',
    'got 0',
  ),
  bad('layerNorm', 'an int32 x', () => api.layerNorm(zeros([2, 3], 'int32')), DTypeError, 'x', 'int32'),
  bad(
    'LayerNormalization',
    'a fractional axis',
    () => new api.LayerNormalization({ axis: 0.5 }),
    ArgumentError,
    'axis',
    '0.5',
  ),
  bad(
    'LayerNormalization',
    'a negative epsilon',
    () => new api.LayerNormalization({ epsilon: -1 }),
    ArgumentError,
    'epsilon',
    '-1',
  ),
  bad(
    'LayerNormalization',
    'the batch axis',
    () => new api.LayerNormalization({ axis: 0 }).apply(zeros([2, 3])),
    api.ShapeError,
    'axis',
    'last non-batch',
  ),
  bad(
    'GroupNormalization',
    'zero groups',
    () => new api.GroupNormalization({ groups: 0 }),
    ArgumentError,
    'groups',
    'got 0',
  ),
  bad(
    'GroupNormalization',
    'groups that do not divide the channels',
    () => new api.GroupNormalization({ groups: 4 }).apply(zeros([1, 2, 6])),
    api.ShapeError,
    'groups 4',
    '6 channels',
  ),
  bad(
    'Embedding',
    'no inputDim',
    () => new api.Embedding({ outputDim: 2 } as never),
    ArgumentError,
    'inputDim',
    'positive integer',
  ),
  bad(
    'Embedding',
    'a fractional outputDim',
    () => new api.Embedding({ inputDim: 2, outputDim: 1.5 }),
    ArgumentError,
    'outputDim',
    '1.5',
  ),
  bad(
    'Embedding',
    'bool ids',
    () => new api.Embedding({ inputDim: 2, outputDim: 2 }).apply(zeros([2], 'bool')),
    DTypeError,
    'ids',
    'bool',
  ),
  bad(
    'PositionEmbedding',
    'a zero sequenceLength',
    () => new api.PositionEmbedding({ sequenceLength: 0 }),
    ArgumentError,
    'sequenceLength',
    'got 0',
  ),
  bad(
    'PositionEmbedding',
    'a sequence longer than the table',
    () => new api.PositionEmbedding({ sequenceLength: 2 }).apply(zeros([1, 3, 4])),
    api.ShapeError,
    'exceed sequenceLength 2',
  ),
  bad(
    'PositionEmbedding',
    'rank-2 inputs',
    () => new api.PositionEmbedding({ sequenceLength: 2 }).apply(zeros([1, 3])),
    api.ShapeError,
    '[batch, sequence, dim]',
  ),
  bad(
    'TokenAndPositionEmbedding',
    'no embeddingDim',
    () => new api.TokenAndPositionEmbedding({ vocabularySize: 3, sequenceLength: 4 } as never),
    ArgumentError,
    'embeddingDim',
  ),
  bad(
    'TokenAndPositionEmbedding',
    'rank-3 ids',
    () =>
      new api.TokenAndPositionEmbedding({ vocabularySize: 3, sequenceLength: 4, embeddingDim: 2 }).apply(
        zeros([1, 2, 2], 'int32'),
      ),
    api.ShapeError,
    '[batch, sequence]',
  ),
  bad('gelu', 'an int32 input', () => api.gelu(zeros([2], 'int32')), DTypeError, 'x', 'int32'),
  bad(
    'gelu',
    'approximate not a boolean',
    () => api.gelu(zeros([2]), 1 as never),
    ArgumentError,
    'approximate',
    'got 1',
  ),
  bad('silu', 'a bool input', () => api.silu(zeros([2], 'bool')), DTypeError, 'x', 'bool'),
  bad('ELU', 'a negative alpha', () => new api.ELU({ alpha: -1 }), ArgumentError, 'alpha', 'positive', '-1'),
  bad('ELU', 'a NaN alpha', () => new api.ELU({ alpha: Number.NaN }), ArgumentError, 'alpha', 'null'),
  bad(
    'LeakyReLU',
    'an infinite alpha',
    () => new api.LeakyReLU({ alpha: Infinity }),
    ArgumentError,
    'alpha',
    'null',
  ),
  bad(
    'LeakyReLU',
    'a string alpha',
    () => new api.LeakyReLU({ alpha: '1' as never }),
    ArgumentError,
    'alpha',
    '"1"',
  ),
  bad(
    'Activation',
    'an unknown activation name lists the new ones',
    () => new api.Activation({ activation: 'gelu_fast' as never }),
    ArgumentError,
    'gelu_new',
    'hard_swish',
    'gelu_fast',
  ),
];

describe('bad calls', () => {
  badCalls(calls);
  it('every name owned by this file has bad calls here', () => {
    const covered = new Set([...Object.keys(firstArg), ...calls.map((c) => c.names)]);
    expect(ownedBy('errors-modern').filter((n) => !covered.has(n))).toEqual([]);
  });
});
