import { describe, expect, it } from 'vitest';
import * as api from '../src/node.js';
import { ArgumentError, ShapeError } from '../src/node.js';
import { ownedBy } from './error-audit.js';
import { type BadCall, bad, badCalls } from './error-helpers.js';

/*
 * Error paths of the optimizers, schedules and regularizers of issue 18 (part 5): each export
 * against its own bad arguments; messages name the function, the argument and the bad value.
 */

const as = <T>(b: BadCall, exportName: string): BadCall => ({ ...b, exportName }) as BadCall & T;

const calls: BadCall[] = [
  bad(
    'AdamW',
    'a negative weightDecay',
    () => new api.AdamW({ weightDecay: -1 }),
    ArgumentError,
    'weightDecay',
    '-1',
  ),
  bad('AdamW', 'an unknown option', () => new api.AdamW({ beta_1: 0.9 } as never), ArgumentError, 'beta_1'),
  bad(
    'AdamW',
    'a non-boolean amsgrad',
    () => new api.AdamW({ amsgrad: 1 as never }),
    ArgumentError,
    'amsgrad',
    '1',
  ),
  bad(
    'Adam',
    'both clipnorm and globalClipnorm (as Keras)',
    () => new api.Adam({ clipnorm: 1, globalClipnorm: 1 }),
    ArgumentError,
    'only one of clipnorm and globalClipnorm',
  ),
  bad(
    'SGD',
    'a zero clipvalue',
    () => new api.SGD({ clipvalue: 0 }),
    ArgumentError,
    'clipvalue',
    '> 0',
    'got 0',
  ),
  bad(
    'Adagrad',
    'a negative initialAccumulatorValue',
    () => new api.Adagrad({ initialAccumulatorValue: -0.1 }),
    ArgumentError,
    'initialAccumulatorValue',
    '-0.1',
  ),
  bad(
    'Adagrad',
    'an infinite clipnorm',
    () => new api.Adagrad({ clipnorm: Infinity }),
    ArgumentError,
    'clipnorm',
    'Infinity',
  ),
  bad('Nadam', 'beta1 of 1', () => new api.Nadam({ beta1: 1 }), ArgumentError, 'beta1', '[0, 1)', '1'),
  bad('Nadam', 'a zero epsilon', () => new api.Nadam({ epsilon: 0 }), ArgumentError, 'epsilon', 'got 0'),
  bad(
    'Nadam.setState',
    'a uProduct out of (0, 1]',
    () => new api.Nadam().setState({ uProduct: 2 }),
    ArgumentError,
    'uProduct',
    '2',
  ),
  bad(
    'excludeFromWeightDecay',
    'varNames not strings',
    () => new api.AdamW().excludeFromWeightDecay({ varNames: [3 as never] }),
    ArgumentError,
    'varNames',
  ),
  bad('RMSprop', 'rho of 1', () => new api.RMSprop({ rho: 1 }), ArgumentError, 'rho', '1'),
  bad(
    'RMSprop',
    'a non-boolean centered',
    () => new api.RMSprop({ centered: 'yes' as never }),
    ArgumentError,
    'centered',
    '"yes"',
  ),
  bad(
    'RMSprop',
    'a negative learning rate',
    () => new api.RMSprop({ learningRate: -1 }),
    ArgumentError,
    'learningRate',
    '-1',
  ),
  as(
    bad(
      'compile',
      'an unknown optimizer name lists the known ones',
      () => api.getOptimizer('adadelta'),
      ArgumentError,
      'adadelta',
      "'rmsprop'",
      "'nadam'",
    ),
    'getOptimizer',
  ),
  bad(
    'optimizerFromConfig',
    'an unknown name',
    () => api.optimizerFromConfig({ name: 'Lion' }),
    ArgumentError,
    'Lion',
    'known',
  ),
  bad('optimizerFromConfig', 'no name', () => api.optimizerFromConfig({} as never), ArgumentError, 'name'),
  bad(
    'cosineDecay',
    'zero decaySteps',
    () => api.cosineDecay({ initialLearningRate: 0.1, decaySteps: 0 }),
    ArgumentError,
    'decaySteps',
    'got 0',
  ),
  bad(
    'cosineDecay',
    'alpha above 1',
    () => api.cosineDecay({ initialLearningRate: 0.1, decaySteps: 5, alpha: 2 }),
    ArgumentError,
    'alpha',
    '2',
  ),
  bad(
    'cosineDecay',
    'a zero rate without warmup',
    () => api.cosineDecay({ initialLearningRate: 0, decaySteps: 5 }),
    ArgumentError,
    'initialLearningRate',
    'warmupTarget',
  ),
  bad(
    'cosineDecay',
    'an unknown option',
    () => api.cosineDecay({ initialLearningRate: 0.1, decaySteps: 5, warmup_steps: 2 } as never),
    ArgumentError,
    'warmup_steps',
  ),
  bad(
    'inverseTimeDecay',
    'a negative decayRate',
    () => api.inverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 5, decayRate: -1 }),
    ArgumentError,
    'decayRate',
    '-1',
  ),
  bad(
    'inverseTimeDecay',
    'not an object',
    () => api.inverseTimeDecay(3 as never),
    ArgumentError,
    'options object',
    '3',
  ),
  bad(
    'piecewiseConstantDecay',
    'values of the wrong length',
    () => api.piecewiseConstantDecay({ boundaries: [10, 20], values: [1, 0.5] }),
    ArgumentError,
    'values',
    'boundaries.length + 1 = 3',
    '[1,0.5]',
  ),
  bad(
    'piecewiseConstantDecay',
    'decreasing boundaries',
    () => api.piecewiseConstantDecay({ boundaries: [20, 10], values: [1, 0.5, 0.1] }),
    ArgumentError,
    'boundaries',
    'increasing',
    '[20,10]',
  ),
  bad(
    'polynomialDecay',
    'a string power',
    () => api.polynomialDecay({ initialLearningRate: 0.1, decaySteps: 5, power: '2' as never }),
    ArgumentError,
    'power',
    '"2"',
  ),
  bad(
    'polynomialDecay',
    'a non-boolean cycle',
    () => api.polynomialDecay({ initialLearningRate: 0.1, decaySteps: 5, cycle: 1 as never }),
    ArgumentError,
    'cycle',
    '1',
  ),
  bad(
    'scheduleFromConfig',
    'an unknown schedule',
    () => api.scheduleFromConfig({ name: 'OneCycle' }),
    ArgumentError,
    'OneCycle',
    'CosineDecay',
  ),
  bad('getRegularizer', 'an unknown name', () => api.getRegularizer('l3'), ArgumentError, '"l3"', "'l1l2'"),
  bad(
    'getRegularizer',
    'an unknown class',
    () => api.getRegularizer({ className: 'L3', config: {} }),
    ArgumentError,
    'L3',
  ),
  bad('l1', 'a negative factor', () => api.l1({ l1: -0.1 }), ArgumentError, 'l1', '-0.1'),
  bad('l1', 'an unknown option', () => api.l1({ l2: 0.1 } as never), ArgumentError, 'l2'),
  bad('l2', 'a NaN factor', () => api.l2({ l2: Number.NaN }), ArgumentError, 'l2', 'NaN'),
  bad('l1l2', 'a string factor', () => api.l1l2({ l1: '0.1' as never }), ArgumentError, 'l1', '"0.1"'),
  bad(
    'L1L2',
    'a negative factor to the class',
    () => new api.Regularizer(0, -1, 'L1L2'),
    ArgumentError,
    'l2',
    '-1',
  ),
  bad(
    'l2',
    'regularizers.l2 (the TF.js grouping) with a negative factor',
    () => api.regularizers.l2({ l2: -2 }),
    ArgumentError,
    'l2',
    '-2',
  ),
  bad(
    'Dense',
    'an unknown kernelRegularizer name',
    () => new api.Dense({ units: 2, kernelRegularizer: 'l9' as never }),
    ArgumentError,
    'kernelRegularizer',
    '"l9"',
  ),
  bad(
    'Conv2D',
    'a bad biasRegularizer',
    () => new api.Conv2D({ filters: 2, kernelSize: 1, biasRegularizer: 5 as never }),
    ArgumentError,
    'biasRegularizer',
    '5',
  ),
  bad(
    'Embedding',
    'a bad embeddingsRegularizer',
    () => new api.Embedding({ inputDim: 2, outputDim: 2, embeddingsRegularizer: 'x' as never }),
    ArgumentError,
    'embeddingsRegularizer',
    '"x"',
  ),
];

describe('bad calls', () => {
  badCalls(calls);
  it('a schedule returning a bad rate is refused at the step, naming the step', () => {
    const w = api.variable(api.tensor([1, 2]));
    const g = api.tensor([1, 1]);
    const o = new api.RMSprop({ learningRate: () => Number.NaN });
    expect(() => o.applyGradients([[w, g]])).toThrow(
      /RMSprop: the learning-rate schedule returned NaN at step 0/,
    );
    const short = api.tensor([1]);
    expect(() => new api.Adagrad().applyGradients([[w, short]])).toThrow(ShapeError);
    for (const t of [w, g, short]) t.dispose();
    o.dispose();
  });
  it('every name owned by this file has bad calls here', () => {
    const covered = new Set(calls.map((c) => c.exportName ?? c.names));
    for (const n of ['AdamW', 'Adagrad', 'Nadam', 'RMSprop']) expect(covered.has(n), n).toBe(true);
    covered.add('Regularizer');
    expect(ownedBy('errors-optim').filter((n) => !covered.has(n))).toEqual([]);
  });
});
