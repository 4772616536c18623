import { describe, expect, it } from 'vitest';
import {
  Adam,
  ArgumentError,
  assignWeights,
  categoricalAccuracy,
  categoricalCrossentropy,
  Dense,
  DTypeError,
  exponentialDecay,
  getLoss,
  type LogSink,
  loadCheckpoint,
  loadMobileNetV2Weights,
  loadModel,
  meanSquaredError,
  mobileNetV2,
  modelCheckpoint,
  Sequential,
  SGD,
  ShapeError,
  saveCheckpoint,
  sparseCategoricalAccuracy,
  sparseCategoricalCrossentropy,
  zeros,
} from '../src/node.js';
import { ownedBy } from './error-audit.js';
import { type BadCall, bad, badCalls } from './error-helpers.js';
import { layers, t2 } from './errors-nn-layer-calls.js';

/*
 * Error paths of models (compile, fit, evaluate, predict), losses, metrics, optimizers, checkpoints
 * and MobileNetV2 that test/nn.test.ts does not reach: non-finite and out-of-range values,
 * non-boolean flags, unknown names, missing or non-object arguments. The layers' bad calls run in
 * test/errors-nn-layers.test.ts; the audit below covers both halves.
 */

const quiet: LogSink = { isTTY: false, write: () => {} };

function compiled(): Sequential {
  const m = new Sequential([new Dense({ units: 2, inputShape: [2] })]);
  m.compile({ optimizer: 'sgd', loss: 'mse' });
  return m;
}

const training: BadCall[] = [
  bad(
    'compile',
    'metrics that are not an array',
    () => compiled().compile({ optimizer: 'sgd', loss: 'mse', metrics: 'accuracy' as never }),
    ArgumentError,
    'metrics must be an array',
    '"accuracy"',
  ),
  bad(
    'getLoss',
    'an unknown loss',
    () => getLoss('log_cosh_typo'),
    ArgumentError,
    'unknown loss "log_cosh_typo"',
    'meanSquaredError',
  ),
  bad(
    'getLoss',
    'an inherited property name',
    () => getLoss('toString'),
    ArgumentError,
    'unknown loss "toString"',
  ),
  bad(
    'fit',
    'a negative initialEpoch',
    () => compiled().fit(t2(), t2(), { initialEpoch: -1, logSink: quiet }),
    ArgumentError,
    'initialEpoch',
    'got -1',
  ),
  bad(
    'fit',
    'a NaN initialEpoch (trained nothing)',
    () => compiled().fit(t2(), t2(), { initialEpoch: Number.NaN, logSink: quiet }),
    ArgumentError,
    'initialEpoch',
    'null',
  ),
  bad(
    'fit',
    'a fractional seed',
    () => compiled().fit(t2(), t2(), { seed: 0.5, logSink: quiet }),
    ArgumentError,
    'seed',
    '0.5',
  ),
  bad(
    'fit',
    'a string shuffle',
    () => compiled().fit(t2(), t2(), { shuffle: 'no' as never, logSink: quiet }),
    ArgumentError,
    'shuffle',
    '"no"',
  ),
  bad(
    'fit',
    'verbose 3',
    () => compiled().fit(t2(), t2(), { verbose: 3 as never, logSink: quiet }),
    ArgumentError,
    'verbose',
    'got 3',
  ),
  bad(
    'fit',
    'callbacks that are not an array',
    () => compiled().fit(t2(), t2(), { callbacks: {} as never, logSink: quiet }),
    ArgumentError,
    'callbacks must be an array',
  ),
  bad(
    'fit',
    'a logSink without write',
    () => compiled().fit(t2(), t2(), { logSink: {} as never }),
    ArgumentError,
    'logSink',
    'write',
  ),
  bad(
    'fit',
    'stepsPerEpoch 0',
    () => compiled().fit(t2(), t2(), { stepsPerEpoch: 0, logSink: quiet }),
    ArgumentError,
    'stepsPerEpoch',
    'got 0',
  ),
  bad(
    'fit',
    'an infinite batchSize',
    () => compiled().fit(t2(), t2(), { batchSize: Infinity, logSink: quiet }),
    ArgumentError,
    'batchSize',
  ),
  bad(
    'evaluate',
    "verbose 'yes'",
    () => compiled().evaluate(t2(), t2(), { verbose: 'yes' as never }),
    ArgumentError,
    'verbose',
    '"yes"',
  ),
  bad(
    'predict',
    'a number',
    () => compiled().predict(3 as never),
    ArgumentError,
    'x must be a Tensor or an async iterable',
    'got number',
  ),
  bad(
    'sparseCategoricalCrossentropy',
    'a string fromLogits',
    () => sparseCategoricalCrossentropy({ fromLogits: 'yes' as never }),
    ArgumentError,
    'fromLogits',
    '"yes"',
  ),
  bad(
    'sparseCategoricalCrossentropy',
    'a number for yTrue',
    () => sparseCategoricalCrossentropy()(3 as never, t2()),
    DTypeError,
    'yTrue must be a Tensor',
    'got number',
  ),
  bad(
    'categoricalCrossentropy',
    'null options',
    () => categoricalCrossentropy(null as never),
    ArgumentError,
    'options',
    'null',
  ),
  bad(
    'categoricalCrossentropy',
    'a number for yPred',
    () => categoricalCrossentropy()(t2(), 3 as never),
    DTypeError,
    'yPred must be a Tensor',
  ),
  bad(
    'meanSquaredError',
    'a number for yTrue',
    () => meanSquaredError()(3 as never, t2()),
    DTypeError,
    'yTrue must be a Tensor',
  ),
  bad(
    'sparseCategoricalAccuracy',
    'a number for yTrue',
    () => sparseCategoricalAccuracy(3 as never, t2()),
    DTypeError,
    'yTrue must be a Tensor',
  ),
  bad(
    'categoricalAccuracy',
    'a number for yPred',
    () => categoricalAccuracy(t2(), 3 as never),
    DTypeError,
    'yPred must be a Tensor',
  ),
  bad(
    'categoricalAccuracy',
    'rows that differ',
    () => categoricalAccuracy(zeros([3, 2]), t2()),
    ShapeError,
    '[3,2] and [2,2]',
  ),
  bad(
    'Adam',
    'an infinite epsilon',
    () => new Adam({ epsilon: Infinity }),
    ArgumentError,
    'epsilon',
    'Infinity',
  ),
  bad('Adam', 'a NaN beta1', () => new Adam({ beta1: Number.NaN }), ArgumentError, 'beta1'),
  bad(
    'Adam',
    'null options',
    () => new Adam(null as never),
    ArgumentError,
    'expected an options object',
    'null',
  ),
  bad(
    'SGD',
    'a string nesterov',
    () => new SGD({ momentum: 0.9, nesterov: 'yes' as never }),
    ArgumentError,
    'nesterov',
    '"yes"',
  ),
  bad(
    'SGD',
    'an infinite learningRate',
    () => new SGD({ learningRate: Infinity }),
    ArgumentError,
    'learningRate',
  ),
  bad(
    'exponentialDecay',
    'no options',
    () => exponentialDecay(undefined as never),
    ArgumentError,
    'expected an options object',
  ),
  bad(
    'exponentialDecay',
    'an infinite initialLearningRate',
    () => exponentialDecay({ initialLearningRate: Infinity, decaySteps: 1, decayRate: 0.5 }),
    ArgumentError,
    'initialLearningRate',
    'Infinity',
  ),
  bad(
    'exponentialDecay',
    'infinite decaySteps',
    () => exponentialDecay({ initialLearningRate: 1, decaySteps: Infinity, decayRate: 0.5 }),
    ArgumentError,
    'decaySteps',
    'Infinity',
  ),
  bad(
    'exponentialDecay',
    'a string staircase',
    () =>
      exponentialDecay({ initialLearningRate: 1, decaySteps: 1, decayRate: 0.5, staircase: 'y' as never }),
    ArgumentError,
    'staircase',
    '"y"',
  ),
];

const saving: BadCall[] = [
  bad(
    'saveCheckpoint',
    'no model',
    () => saveCheckpoint(null as never, 'x.safetensors', 1),
    ArgumentError,
    'model must be a Model',
  ),
  bad(
    'saveCheckpoint',
    'a NaN epoch',
    () => saveCheckpoint(compiled(), 'x.safetensors', Number.NaN),
    ArgumentError,
    'epoch',
    'null',
  ),
  bad(
    'saveCheckpoint',
    'an empty path',
    () => saveCheckpoint(compiled(), '', 1),
    ArgumentError,
    'path',
    '""',
  ),
  bad(
    'loadCheckpoint',
    'a number for path',
    () => loadCheckpoint(compiled(), 3 as never),
    ArgumentError,
    'path',
    'got 3',
  ),
  bad(
    'loadCheckpoint',
    'an uncompiled model',
    () => loadCheckpoint(new Sequential([new Dense({ units: 1, inputShape: [1] })]), 'x'),
    ArgumentError,
    'compile the model first',
  ),
  bad(
    'modelCheckpoint',
    'a number for model',
    () => modelCheckpoint(3 as never, 'x'),
    ArgumentError,
    'model must be a Model',
    'number',
  ),
  bad(
    'assignWeights',
    'no file',
    () => assignWeights([], null as never),
    ArgumentError,
    'file must be a parsed safetensors file',
  ),
  bad(
    'assignWeights',
    'vars that are not Variables',
    () => assignWeights([t2()] as never, { metadata: {}, tensors: new Map() }),
    ArgumentError,
    'vars must be an array of Variables',
  ),
  bad('loadModel', 'an empty path', () => loadModel(''), ArgumentError, 'path', '""'),
  bad('mobileNetV2', 'null', () => mobileNetV2(null as never), ArgumentError, 'options', 'null'),
  bad(
    'mobileNetV2',
    'an infinite alpha',
    () => mobileNetV2({ alpha: Infinity }),
    ArgumentError,
    'alpha',
    'Infinity',
  ),
  bad(
    'mobileNetV2',
    'classes 0',
    () => mobileNetV2({ classes: 0, inputShape: [32, 32, 3] }),
    ArgumentError,
    'classes',
    'got 0',
  ),
  bad(
    'mobileNetV2',
    "classifierActivation 'relu'",
    () => mobileNetV2({ classifierActivation: 'relu' as never }),
    ArgumentError,
    'classifierActivation',
    '"relu"',
  ),
  bad(
    'mobileNetV2',
    'a string includeTop',
    () => mobileNetV2({ includeTop: 'no' as never }),
    ArgumentError,
    'includeTop',
    '"no"',
  ),
  bad(
    'mobileNetV2.preprocessInput',
    'a number',
    () => mobileNetV2.preprocessInput(3 as never),
    DTypeError,
    'x must be a Tensor',
  ),
  bad(
    'mobileNetV2.preprocessInput',
    "from 'float'",
    () => mobileNetV2.preprocessInput(t2(), { from: 'float' as never }),
    ArgumentError,
    'from',
    '"float"',
  ),
  bad(
    'loadMobileNetV2Weights',
    'no model',
    () => loadMobileNetV2Weights(null as never, { backbone: 'x' }),
    ArgumentError,
    'model must be a model built by mobileNetV2()',
  ),
];

describe('compile, fit, evaluate, predict, losses, metrics and optimizers', () => badCalls(training));
describe('checkpoints, weights, saving and MobileNetV2', () => badCalls(saving));

describe('audit and runtime checks', () => {
  it('every nn export owned by this file has a bad call', () => {
    const covered = new Set(
      [...layers, ...training, ...saving].map((c) => c.exportName ?? c.names.split('.')[0]),
    );
    expect(ownedBy('errors-nn').filter((n) => !covered.has(n))).toEqual([]);
  });

  it('a learning-rate schedule returning NaN stops fit instead of writing NaN weights', async () => {
    const m = new Sequential([new Dense({ units: 2, inputShape: [2] })]);
    m.compile({ optimizer: new SGD({ learningRate: () => Number.NaN }), loss: 'mse' });
    const before = Array.from(await m.weights[0].data());
    await expect(m.fit(t2(), t2(), { logSink: quiet })).rejects.toThrow(
      /SGD: the learning-rate schedule returned NaN at step 0; it must return a finite number >= 0/,
    );
    expect(Array.from(await m.weights[0].data())).toEqual(before);
    m.dispose();
  });

  it('loadMobileNetV2Weights rejects missing files before reading anything', async () => {
    const net = mobileNetV2({ inputShape: [32, 32, 3], includeTop: false });
    await expect(loadMobileNetV2Weights(net, null as never)).rejects.toThrow(
      /loadMobileNetV2Weights: files must be \{ backbone, top\? \}/,
    );
    net.dispose();
  });
});
