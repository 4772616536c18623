import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as api from '../src/node.js';
import { ArgumentError, Dense, Sequential, SGD, ShapeError, tensor } from '../src/node.js';
import { ownedBy } from './error-audit.js';
import { bad, badCalls } from './error-helpers.js';

/* Error paths of the training kit of issue 18: callbacks, fit/evaluate extras, save(dir)/loadModel(dir). */

const dir = mkdtempSync(join(tmpdir(), 'wgsl-nn-errtrn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet: api.LogSink = { isTTY: false, write: () => {} };

function model(): Sequential {
  const m = new Sequential([new Dense({ units: 2, inputShape: [3], name: 'd' })]);
  m.compile({ optimizer: new SGD(), loss: 'meanSquaredError' });
  return m;
}
const x = () => tensor(new Float32Array(12), [4, 3]);
const y = () => tensor(new Float32Array(8), [4, 2]);
const never = (v: unknown) => v as never;

const calls = [
  bad(
    'BaseCallback',
    'setModel with a non-model',
    () => new api.BaseCallback().setModel(never('m')),
    ArgumentError,
    'setModel',
    'Model',
    'string',
  ),
  bad(
    'BaseCallback',
    'setParams with null',
    () => new api.BaseCallback().setParams(never(null)),
    ArgumentError,
    'params',
    'null',
  ),
  bad(
    'EarlyStopping',
    'an unknown option',
    () => new api.EarlyStopping(never({ patiense: 2 })),
    ArgumentError,
    'patiense',
  ),
  bad(
    'EarlyStopping',
    'a negative patience',
    () => new api.EarlyStopping({ patience: -1 }),
    ArgumentError,
    'patience',
    '-1',
  ),
  bad(
    'EarlyStopping',
    'an unknown mode',
    () => new api.EarlyStopping(never({ mode: 'up' })),
    ArgumentError,
    'mode',
    '"up"',
  ),
  bad(
    'EarlyStopping',
    'a non-boolean restoreBestWeights',
    () => new api.EarlyStopping(never({ restoreBestWeights: 1 })),
    ArgumentError,
    'restoreBestWeights',
    '1',
  ),
  bad(
    'EarlyStopping',
    'an empty monitor',
    () => new api.EarlyStopping({ monitor: '' }),
    ArgumentError,
    'monitor',
    '""',
  ),
  bad(
    'EarlyStopping',
    'used outside fit',
    () => new api.EarlyStopping({ monitor: 'loss' }).onEpochEnd(0, { loss: 1 }),
    ArgumentError,
    'no model set',
  ),
  bad(
    'EarlyStopping',
    'a string minDelta',
    () => new api.EarlyStopping(never({ minDelta: '0.1' })),
    ArgumentError,
    'minDelta',
    'finite number, got "0.1"',
  ),
  bad(
    'ReduceLROnPlateau',
    'factor >= 1',
    () => new api.ReduceLROnPlateau({ factor: 1.5 }),
    ArgumentError,
    'factor',
    '(0, 1)',
    '1.5',
  ),
  bad(
    'ReduceLROnPlateau',
    'a fractional cooldown',
    () => new api.ReduceLROnPlateau({ cooldown: 0.5 }),
    ArgumentError,
    'cooldown',
    'integer',
    '0.5',
  ),
  bad(
    'ReduceLROnPlateau',
    'a negative minLr',
    () => new api.ReduceLROnPlateau({ minLr: -1 }),
    ArgumentError,
    'minLr',
    '-1',
  ),
  bad(
    'ReduceLROnPlateau',
    'verbose 2',
    () => new api.ReduceLROnPlateau(never({ verbose: 2 })),
    ArgumentError,
    'verbose',
    '0 or 1',
    '2',
  ),
  bad(
    'LearningRateScheduler',
    'a non-function schedule',
    () => new api.LearningRateScheduler(never(0.1)),
    ArgumentError,
    'schedule',
    'function',
    'number',
  ),
  bad(
    'LearningRateScheduler',
    'a schedule returning NaN',
    async () => {
      const m = model();
      try {
        await m.fit(x(), y(), {
          logSink: quiet,
          callbacks: [new api.LearningRateScheduler(() => Number.NaN)],
        });
      } finally {
        m.dispose();
      }
    },
    ArgumentError,
    'schedule',
    'finite number > 0',
    'null',
  ),
  bad(
    'ModelCheckpoint',
    'no filepath',
    () => new api.ModelCheckpoint(never({})),
    ArgumentError,
    'filepath',
    'non-empty string',
  ),
  bad(
    'ModelCheckpoint',
    'a bad saveFreq',
    () => new api.ModelCheckpoint({ filepath: 'a', saveFreq: 0 }),
    ArgumentError,
    'saveFreq',
    "'epoch'",
    '0',
  ),
  bad(
    'ModelCheckpoint',
    'a placeholder missing from the logs',
    async () => {
      const cb = new api.ModelCheckpoint({ filepath: join(dir, 'm-{val_acc:.2f}') });
      const m = model();
      cb.setModel(m);
      try {
        await cb.onEpochEnd(0, { loss: 1 });
      } finally {
        m.dispose();
      }
    },
    ArgumentError,
    '{val_acc}',
    'available: loss, epoch',
  ),
  bad(
    'ModelCheckpoint',
    'an unsupported format spec',
    async () => {
      const cb = new api.ModelCheckpoint({ filepath: join(dir, 'm-{loss:x}') });
      const m = model();
      cb.setModel(m);
      try {
        await cb.onEpochEnd(0, { loss: 1 });
      } finally {
        m.dispose();
      }
    },
    ArgumentError,
    ':x',
    'format spec',
  ),
  bad(
    'CSVLogger',
    'no filename',
    () => new api.CSVLogger(never({ filename: '' })),
    ArgumentError,
    'filename',
    '""',
  ),
  bad(
    'CSVLogger',
    'a two-character separator',
    () => new api.CSVLogger({ filename: 'a.csv', separator: ';;' }),
    ArgumentError,
    'separator',
    '";;"',
  ),
  bad(
    'CSVLogger',
    'a non-boolean append',
    () => new api.CSVLogger(never({ filename: 'a.csv', append: 'yes' })),
    ArgumentError,
    'append',
    '"yes"',
  ),
  bad(
    'TerminateOnNaN',
    'used outside fit',
    () => new api.TerminateOnNaN().onBatchEnd(0, { loss: Number.NaN }),
    ArgumentError,
    'no model set',
  ),
  bad(
    'LambdaCallback',
    'a hook that is not a function',
    () => new api.LambdaCallback(never({ onEpochEnd: 3 })),
    ArgumentError,
    'onEpochEnd',
    'function',
    '3',
  ),
  bad(
    'LambdaCallback',
    'an unknown hook',
    () => new api.LambdaCallback(never({ onEpochStart: () => {} })),
    ArgumentError,
    'onEpochStart',
  ),
  // fit / evaluate extras and the on-batch methods (exports owned elsewhere; their new paths here).
  bad(
    'fit',
    'validationFreq 0',
    () => model().fit(x(), y(), { validationFreq: 0, logSink: quiet }),
    ArgumentError,
    'validationFreq',
    'positive integer',
    '0',
  ),
  bad(
    'fit',
    'validationFreq with epoch 0',
    () => model().fit(x(), y(), { validationFreq: [0, 2], logSink: quiet }),
    ArgumentError,
    'validationFreq',
    '1-based',
    '[0,2]',
  ),
  bad(
    'fit',
    'validationSteps 1.5',
    () => model().fit(x(), y(), { validationSteps: 1.5, logSink: quiet }),
    ArgumentError,
    'validationSteps',
    '1.5',
  ),
  bad(
    'fit',
    'stepsPerEpoch 0',
    () => model().fit(x(), y(), { stepsPerEpoch: 0, logSink: quiet }),
    ArgumentError,
    'stepsPerEpoch',
    '0',
  ),
  bad(
    'trainOnBatch',
    'an uncompiled model',
    () => new Sequential([new Dense({ units: 1, inputShape: [3] })]).trainOnBatch(x(), y()),
    ArgumentError,
    'compile',
  ),
  bad(
    'trainOnBatch',
    'x and y of different lengths',
    () => model().trainOnBatch(x(), tensor(new Float32Array(2), [1, 2])),
    ShapeError,
    'x',
    'y',
  ),
  bad(
    'testOnBatch',
    'a missing y',
    () => model().testOnBatch(x(), never(undefined)),
    ArgumentError,
    'y (the targets) is required',
  ),
  bad('predictOnBatch', 'a string x', () => model().predictOnBatch(never('x')), ArgumentError, 'x'),
  bad(
    'save',
    'a non-boolean includeOptimizer',
    () => model().save(join(dir, 's'), never({ includeOptimizer: 'yes' })),
    ArgumentError,
    'includeOptimizer',
    '"yes"',
  ),
  bad(
    'loadModel',
    'a non-boolean compile',
    () => api.loadModel(join(dir, 's'), never({ compile: 1 })),
    ArgumentError,
    'compile',
    '1',
  ),
  bad(
    'loadModel',
    'an unknown option',
    () => api.loadModel(join(dir, 's'), never({ compiled: true })),
    ArgumentError,
    'compiled',
  ),
];

describe('bad calls', () => {
  badCalls(calls);
  it('every name owned by this file has bad calls here', () => {
    const covered = new Set(calls.map((c) => c.names));
    expect(ownedBy('errors-training').filter((n) => !covered.has(n))).toEqual([]);
  });
});
