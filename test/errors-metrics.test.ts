import { describe, expect, it } from 'vitest';
import * as api from '../src/node.js';
import {
  ArgumentError,
  Dense,
  DTypeError,
  type LogSink,
  Sequential,
  ShapeError,
  tensor,
  zeros,
} from '../src/node.js';
import { ownedBy } from './error-audit.js';
import { type BadCall, bad, badCalls } from './error-helpers.js';

/*
 * Error paths of the losses, metrics and sample/class weights of issue 18 (parts 3 and 4): bad
 * options, non-tensors, shapes that do not fit, and the fit/evaluate/compile arguments they add.
 */

const quiet: LogSink = { isTTY: false, write: () => {} };
const z = (...shape: number[]) => zeros(shape);

function compiled(extra: Partial<api.CompileArgs> = {}): Sequential {
  const m = new Sequential([new Dense({ units: 1, activation: 'sigmoid', inputShape: [2] })]);
  m.compile({ optimizer: 'sgd', loss: 'binary_crossentropy', ...extra });
  return m;
}

class Broken extends api.Metric {
  statistics(): api.Tensor {
    return zeros([1]);
  }
  absorb(): void {}
  result(): number {
    return 0;
  }
  resetState(): void {}
}

const calls: BadCall[] = [
  bad(
    'sigmoidCrossEntropyWithLogits',
    'a non-tensor',
    () => api.sigmoidCrossEntropyWithLogits('x' as never, z(2)),
    DTypeError,
    'labels',
  ),
  bad(
    'sigmoidCrossEntropyWithLogits',
    'shapes that differ',
    () => api.sigmoidCrossEntropyWithLogits(z(2, 3), z(3, 2)),
    ShapeError,
    '[2,3]',
    '[3,2]',
  ),
  bad(
    'sigmoidCrossEntropyWithLogits',
    'label smoothing above 1',
    () => api.sigmoidCrossEntropyWithLogits(z(2), z(2), 1.5),
    ArgumentError,
    'labelSmoothing',
    '1.5',
  ),
  bad(
    'binaryCrossentropy',
    'a string fromLogits',
    () => api.binaryCrossentropy({ fromLogits: 'yes' as never }),
    ArgumentError,
    'fromLogits',
    '"yes"',
  ),
  bad(
    'binaryCrossentropy',
    'a negative label smoothing',
    () => api.binaryCrossentropy({ labelSmoothing: -0.1 }),
    ArgumentError,
    'labelSmoothing',
    '-0.1',
  ),
  bad(
    'binaryCrossentropy',
    'an unknown option',
    () => api.binaryCrossentropy({ from_logits: true } as never),
    ArgumentError,
    'from_logits',
  ),
  bad(
    'binaryCrossentropy',
    'the batch axis',
    () => api.binaryCrossentropy({ axis: 0 })(z(2, 3), z(2, 3)),
    ArgumentError,
    'axis 0',
    '[2,3]',
  ),
  bad(
    'binaryCrossentropy',
    'sizes that differ',
    () => api.binaryCrossentropy()(z(2, 3), z(2, 2)),
    ShapeError,
    '[2,3]',
    '[2,2]',
  ),
  bad(
    'binaryCrossentropy',
    'a sample weight of the wrong length',
    () => api.binaryCrossentropy()(z(2, 1), z(2, 1), z(3)),
    ShapeError,
    'sampleWeight',
    '[2]',
    '[3]',
  ),
  bad(
    'categoricalCrossentropy',
    'label smoothing as a string',
    () => api.categoricalCrossentropy({ labelSmoothing: '0.1' as never }),
    ArgumentError,
    'labelSmoothing',
    '"0.1"',
  ),
  bad(
    'sparseCategoricalCrossentropy',
    'label smoothing (Keras has none)',
    () => api.sparseCategoricalCrossentropy({ labelSmoothing: 0.1 } as never),
    ArgumentError,
    'labelSmoothing',
  ),
  bad(
    'meanAbsoluteError',
    'a non-tensor yPred',
    () => api.meanAbsoluteError()(z(2), null as never),
    DTypeError,
    'yPred',
    'null',
  ),
  bad('huber', 'delta 0', () => api.huber({ delta: 0 }), ArgumentError, 'delta', '0'),
  bad('huber', 'sizes that differ', () => api.huber()(z(2, 2), z(2, 3)), ShapeError, '[2,2]', '[2,3]'),
  {
    ...bad(
      'kullbackLeiblerDivergence',
      'a non-tensor yTrue',
      () => api.kld()('t' as never, z(2)),
      DTypeError,
      'yTrue',
      'string',
    ),
    exportName: 'kld',
  },
  bad(
    'kullbackLeiblerDivergence',
    'sizes that differ',
    () => api.kullbackLeiblerDivergence()(z(2, 2), z(2, 3)),
    ShapeError,
    '[2,2]',
  ),
  bad('hinge', 'sizes that differ', () => api.hinge()(z(4), z(2)), ShapeError, '[4]', '[2]'),
  bad('categoricalHinge', 'rank-1 predictions', () => api.categoricalHinge()(z(3), z(3)), ShapeError, '[3]'),
  bad('Broken', 'an empty name (Metric)', () => new Broken(''), ArgumentError, 'name', '""'),
  {
    ...bad(
      'MeanMetricWrapper',
      'a non-function',
      () => new api.MeanMetricWrapper(3 as never, 'm'),
      ArgumentError,
      'fn',
      'number',
    ),
  },
  bad(
    'MeanMetricWrapper',
    'a function giving one value per row of the wrong count',
    () => new api.MeanMetricWrapper(() => z(3), 'm').statistics(z(2, 1), z(2, 1)),
    ShapeError,
    '[3]',
    '2',
  ),
  bad('Mean', 'an unknown option', () => new api.Mean({ nam: 'x' } as never), ArgumentError, 'nam'),
  bad('Mean', 'a non-tensor value', () => new api.Mean().updateState([1] as never), DTypeError, 'values'),
  bad(
    'BinaryAccuracy',
    'a string threshold',
    () => new api.BinaryAccuracy({ threshold: '0.5' as never }),
    ArgumentError,
    'threshold',
    '"0.5"',
  ),
  bad(
    'BinaryAccuracy',
    'sizes that differ',
    () => new api.BinaryAccuracy().statistics(z(2, 2), z(2, 3)),
    ShapeError,
    '[2,2]',
  ),
  bad(
    'CategoricalAccuracy',
    'shapes that differ',
    () => new api.CategoricalAccuracy().statistics(z(2, 3), z(2, 4)),
    ShapeError,
    '[2,3]',
    '[2,4]',
  ),
  bad(
    'SparseCategoricalAccuracy',
    'a label per class',
    () => new api.SparseCategoricalAccuracy().statistics(z(2, 3), z(2, 3)),
    ShapeError,
    '[2,3]',
  ),
  bad(
    'TopKCategoricalAccuracy',
    'k 0',
    () => new api.TopKCategoricalAccuracy({ k: 0 }),
    ArgumentError,
    'k',
    '0',
  ),
  bad(
    'SparseTopKCategoricalAccuracy',
    'k 1.5',
    () => new api.SparseTopKCategoricalAccuracy({ k: 1.5 }),
    ArgumentError,
    'k',
    '1.5',
  ),
  bad(
    'MeanSquaredError',
    'an unknown option',
    () => new api.MeanSquaredError({ reduction: 'sum' } as never),
    ArgumentError,
    'reduction',
  ),
  bad(
    'MeanAbsoluteError',
    'sizes that differ',
    () => new api.MeanAbsoluteError().statistics(z(2, 2), z(2, 3)),
    ShapeError,
    '[2,2]',
  ),
  bad(
    'Precision',
    'a list of thresholds',
    () => new api.Precision({ thresholds: [0.3, 0.5] as never }),
    ArgumentError,
    'thresholds',
    '[0.3,0.5]',
  ),
  bad(
    'Precision',
    'a class id past the classes',
    () => new api.Precision({ classId: 5 }).statistics(z(2, 3), z(2, 3)),
    ShapeError,
    'classId 5',
    '[2,3]',
  ),
  bad('Recall', 'topK 0', () => new api.Recall({ topK: 0 }), ArgumentError, 'topK', '0'),
  bad(
    'Recall',
    'a sample weight of the wrong shape',
    () => new api.Recall().statistics(z(2, 1), z(2, 1), z(2, 2)),
    ShapeError,
    'sampleWeight',
    '[2,2]',
  ),
  bad('AUC', 'one threshold', () => new api.AUC({ numThresholds: 1 }), ArgumentError, 'numThresholds', '1'),
  bad(
    'AUC',
    'an unknown curve',
    () => new api.AUC({ curve: 'roc' as never }),
    ArgumentError,
    'curve',
    '"roc"',
  ),
  bad(
    'AUC',
    'an unknown summation method',
    () => new api.AUC({ summationMethod: 'trapezoid' as never }),
    ArgumentError,
    'summationMethod',
    '"trapezoid"',
  ),
  bad('getMetric', 'an unknown name', () => api.getMetric('f1'), ArgumentError, 'unknown metric "f1"', 'auc'),
  bad('getMetric', 'a number', () => api.getMetric(3), ArgumentError, 'number'),
  bad(
    'compile',
    'the same Metric object for two uses',
    () => {
      const p = new api.Precision();
      compiled({ metrics: [p], weightedMetrics: [p] });
    },
    ArgumentError,
    "'precision'",
    'twice',
  ),
  bad(
    'compile',
    'weightedMetrics that are not a list',
    () => compiled({ weightedMetrics: 'auc' as never }),
    ArgumentError,
    'weightedMetrics',
    '"auc"',
  ),
  bad(
    'fit',
    'a sampleWeight of the wrong length',
    () => compiled().fit(z(4, 2), z(4, 1), { sampleWeight: z(3), logSink: quiet }),
    ShapeError,
    'sampleWeight',
    '[4]',
    '[3]',
  ),
  bad(
    'fit',
    'classWeight and sampleWeight together',
    () => compiled().fit(z(4, 2), z(4, 1), { sampleWeight: z(4), classWeight: { 0: 2 }, logSink: quiet }),
    ArgumentError,
    'classWeight',
    'sampleWeight',
  ),
  bad(
    'fit',
    'a classWeight key that is not a class index',
    () => compiled().fit(z(4, 2), z(4, 1), { classWeight: { a: 2 } as never, logSink: quiet }),
    ArgumentError,
    'classWeight',
    '"a"',
  ),
  bad(
    'fit',
    'a negative class weight',
    () => compiled().fit(z(4, 2), z(4, 1), { classWeight: { 1: -1 }, logSink: quiet }),
    ArgumentError,
    'classWeight[1]',
    '-1',
  ),
  bad(
    'evaluate',
    'a sampleWeight that is not a tensor',
    () => compiled().evaluate(z(4, 2), z(4, 1), { sampleWeight: [1, 2, 3, 4] as never }),
    ArgumentError,
    'sampleWeight',
    'object',
  ),
];

describe('bad calls', () => {
  badCalls(calls);
  it('every name owned by this file has bad calls here', () => {
    const covered = new Set(calls.flatMap((c) => [c.names, c.exportName ?? c.names]));
    covered.add('Metric'); // through the Broken subclass above
    expect(ownedBy('errors-metrics').filter((n) => !covered.has(n))).toEqual([]);
  });
  it('a fit with class weights on a dataset batch that has its own sample weights', async () => {
    const m = compiled();
    const ds = {
      async *[Symbol.asyncIterator]() {
        yield { xs: tensor([1, 2], [1, 2]), ys: tensor([1], [1, 1]), sampleWeight: tensor([1], [1]) };
      },
    };
    await expect(m.fit(ds, { classWeight: { 1: 2 }, logSink: quiet })).rejects.toThrow(
      /classWeight or batch sample weights/,
    );
  });
});
